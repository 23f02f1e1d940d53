package main

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// conformanceReason is one entry of the reasons file: why the files its
// patterns match cannot pass.
type conformanceReason struct {
	patterns []string // path.Match patterns over names like v1.4/mandatory/TL-M-1-14.xml
	text     string
	used     bool
}

// loadConformanceReasons reads the reasons file (docs/conformance-reasons.txt):
// paragraphs separated by blank lines, each starting with
// "PATTERN[, PATTERN...]:" at the start of a line and its reason after the
// colon, continued on indented lines; # lines are comments. A pattern is a
// path.Match pattern over the file's name relative to the vectors folder.
func loadConformanceReasons(file string) ([]*conformanceReason, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("conformance: reasons: %w", err)
	}
	defer f.Close()
	var out []*conformanceReason
	var cur *conformanceReason
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "#"):
			continue
		case trimmed == "":
			cur = nil
		case line[0] == ' ' || line[0] == '\t':
			if cur == nil {
				return nil, fmt.Errorf("conformance: reasons %s:%d: continuation line without an entry", file, n)
			}
			cur.text = strings.TrimSpace(cur.text + " " + trimmed)
		default:
			head, text, ok := strings.Cut(line, ": ")
			if !ok {
				return nil, fmt.Errorf("conformance: reasons %s:%d: want \"PATTERN: reason\"", file, n)
			}
			cur = &conformanceReason{text: strings.TrimSpace(text)}
			for _, p := range strings.Split(head, ",") {
				p = strings.TrimSpace(p)
				if _, err := path.Match(p, ""); err != nil {
					return nil, fmt.Errorf("conformance: reasons %s:%d: pattern %q: %w", file, n, p, err)
				}
				cur.patterns = append(cur.patterns, p)
			}
			out = append(out, cur)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("conformance: reasons: %w", err)
	}
	return out, nil
}

// reasonFor returns the reasons whose patterns match file, joined, and marks
// them used. A pattern of n path elements is matched against the file's last
// n elements, so that the reasons apply wherever the vectors folder is.
func reasonFor(reasons []*conformanceReason, file string) string {
	elems := strings.Split(filepath.ToSlash(file), "/")
	var parts []string
	for _, r := range reasons {
		for _, p := range r.patterns {
			n := strings.Count(p, "/") + 1
			if n > len(elems) {
				continue
			}
			if ok, _ := path.Match(p, strings.Join(elems[len(elems)-n:], "/")); ok {
				parts = append(parts, r.text)
				r.used = true
				break
			}
		}
	}
	return strings.Join(parts, " ")
}
