package main

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// hardenProcess keeps the key material that passes through this process's
// memory (keys on their way to a client, and SoftHSM2's objects and token
// key, which live in this process too) out of core files and away from
// debuggers: no core dump (RLIMIT_CORE 0) and not dumpable, which also makes
// ptrace and /proc/PID/mem refuse every other process of the same user.
// Root keeps both powers; an HSM keeps its own keys out of reach.
func hardenProcess() error {
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		return fmt.Errorf("serve: harden process: no core dumps (RLIMIT_CORE 0): %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("serve: harden process: PR_SET_DUMPABLE 0: %w", err)
	}
	return nil
}
