//go:build !linux

package main

// hardenProcess is Linux-only (serve_harden_linux.go); Strongroom is built
// for Debian, and elsewhere this is left to the operating system's settings.
func hardenProcess() error { return nil }
