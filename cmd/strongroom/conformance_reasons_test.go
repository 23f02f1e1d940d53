package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConformanceReasons(t *testing.T) {
	file := filepath.Join(t.TempDir(), "reasons.txt")
	text := "# comment\n" +
		"v*/mandatory/AKLC-M-[123]-*.xml: first line\n  continued.\n\n" +
		"v1.4/mandatory/TL-M-1-14.xml, v1.4/mandatory/SASED-M-1-14.xml: Template.\n"
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	reasons, err := loadConformanceReasons(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ file, want string }{
		{"/x/kmip-vectors/v2.1/mandatory/AKLC-M-2-21.xml", "first line continued."},
		{"v1.4/mandatory/AKLC-M-3-14.xml", "first line continued."},
		{"/y/v1.4/mandatory/SASED-M-1-14.xml", "Template."},
		{"/y/v2.1/mandatory/SASED-M-1-21.xml", ""},
		{"AKLC-M-1-14.xml", ""}, // too few path elements to match
	} {
		if got := reasonFor(reasons, tc.file); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.file, got, tc.want)
		}
	}
	// The repository's own reasons file loads.
	if _, err := loadConformanceReasons(filepath.Join("..", "..", "docs", "conformance-reasons.txt")); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.txt")
	if err := os.WriteFile(bad, []byte("no colon here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadConformanceReasons(bad); err == nil || !strings.Contains(err.Error(), "PATTERN") {
		t.Fatalf("bad file: %v", err)
	}
}
