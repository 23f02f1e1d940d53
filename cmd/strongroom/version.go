package main

import (
	"runtime/debug"
)

// version names the build: the module version, or the VCS revision of a
// development build, so that a deployed binary can be traced to its source.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		return v + " (" + rev + modified + ", " + info.GoVersion + ")"
	}
	return v + " (" + info.GoVersion + ")"
}
