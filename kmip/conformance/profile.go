package conformance

import (
	"path/filepath"
	"strings"
)

// Profile returns the profile a test case file belongs to, from its name:
// the part before "-M-" or "-O-" (mandatory, optional), as in
// "CS-BC-M-GCM-1-14.xml" → "CS-BC"; for other names ("TC-OFFSET-1-14.xml")
// the words before the first number.
func Profile(file string) string {
	name := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	for _, sep := range []string{"-M-", "-O-"} {
		if i := strings.Index(name, sep); i > 0 {
			return name[:i]
		}
	}
	parts := strings.Split(name, "-")
	for i, p := range parts {
		if p != "" && p[0] >= '0' && p[0] <= '9' && i > 0 {
			return strings.Join(parts[:i], "-")
		}
	}
	return name
}

// Version returns the KMIP version a test case file is written for, from
// its name's last part ("-14" → "1.4", "-21" → "2.1"), or "".
func Version(file string) string {
	name := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	i := strings.LastIndex(name, "-")
	if i < 0 {
		return ""
	}
	v := name[i+1:]
	if len(v) != 2 || v[0] < '0' || v[0] > '9' || v[1] < '0' || v[1] > '9' {
		return ""
	}
	return v[:1] + "." + v[1:]
}
