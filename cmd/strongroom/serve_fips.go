package main

import (
	"crypto/fips140"
	"errors"
	"log/slog"
	"runtime/debug"
)

// errFIPSOff is serve's refusal to run in FIPS mode without the module.
var errFIPSOff = errors.New("serve: FIPS mode requested (--fips or \"fips\": true) but Go's FIPS 140-3 module is not enabled; " +
	"run with GODEBUG=fips140=on (or build with GOFIPS140=v1.0.0)")

// fipsStatus describes Go's FIPS 140-3 module for logs, Query and health.
type fipsStatus struct {
	Enabled  bool   `json:"enabled"`
	Enforced bool   `json:"enforced"`
	Version  string `json:"version"`
	// Build is the GOFIPS140 setting the binary was built with, if any.
	Build string `json:"build,omitempty"`
}

func currentFIPS() fipsStatus {
	st := fipsStatus{Enabled: fips140.Enabled(), Enforced: fips140.Enforced(), Version: fips140.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "GOFIPS140" {
				st.Build = s.Value
			}
		}
	}
	return st
}

// String is the form Query's server information carries.
func (s fipsStatus) String() string {
	if !s.Enabled {
		return "FIPS 140-3 module off"
	}
	out := "FIPS 140-3 module " + s.Version
	if s.Enforced {
		out += " (enforced)"
	}
	return out
}

// checkFIPS refuses FIPS mode without the module and logs the module state
// in any case.
func checkFIPS(want bool, log *slog.Logger) (fipsStatus, error) {
	st := currentFIPS()
	log.Info("strongroom: Go FIPS 140-3 module", "fips_mode", want, "enabled", st.Enabled,
		"enforced", st.Enforced, "version", st.Version, "gofips140", st.Build)
	if want && !st.Enabled {
		return st, errFIPSOff
	}
	return st, nil
}
