package pgtest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// BinDirEnv names an environment variable that, when set, overrides where
// initdb, pg_ctl and postgres are looked for.
const BinDirEnv = "PGTEST_BINDIR"

// findBinDir returns the bin folder of the newest PostgreSQL under
// /usr/lib/postgresql (the Debian layout), or the one BinDirEnv names.
func findBinDir() (string, error) {
	if dir := os.Getenv(BinDirEnv); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err != nil {
			return "", fmt.Errorf("pgtest: %s=%s: %w", BinDirEnv, dir, err)
		}
		return dir, nil
	}
	matches, err := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if err != nil {
		return "", fmt.Errorf("pgtest: find initdb: %w", err)
	}
	best, bestVersion := "", -1.0
	for _, m := range matches {
		bin := filepath.Dir(m)
		v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(bin)), 64)
		if err != nil {
			continue
		}
		if v > bestVersion {
			best, bestVersion = bin, v
		}
	}
	if best == "" {
		return "", errors.New("pgtest: no /usr/lib/postgresql/<version>/bin/initdb found; install postgresql-15 or set " + BinDirEnv)
	}
	return best, nil
}
