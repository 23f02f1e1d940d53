// Package softhsmtest gives each test a throwaway SoftHSM2 token in its own
// temporary directory, created purely through PKCS#11.
//
// SoftHSM2 reads SOFTHSM2_CONF at C_Initialize, so NewToken sets it with
// t.Setenv: tests using it cannot call t.Parallel, and a test must close
// every Keystore (which finalizes the module) before the next test's token
// can take effect. Different packages run in different processes and so
// never share a token.
package softhsmtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	pkcs11hsm "github.com/strongroom/strongroom/hsm/pkcs11"
)

// Token is an initialized SoftHSM2 token with a user PIN and no keys.
type Token struct {
	// Module is the path of libsofthsm2.so.
	Module string
	// Label is the token label (random, so a stray token is obvious).
	Label string
	// PIN is the user PIN.
	PIN string
	// ConfPath is the softhsm2.conf that SOFTHSM2_CONF points at.
	ConfPath string
}

// Config returns a keystore configuration for the token with the given
// session pool size (0 for the default).
func (tok Token) Config(sessions int) pkcs11hsm.Config {
	return pkcs11hsm.Config{Module: tok.Module, TokenLabel: tok.Label, PIN: tok.PIN, Sessions: sessions}
}

// Module returns the path of the SoftHSM2 PKCS#11 module, honouring
// $SOFTHSM2_MODULE first.
func Module() (string, error) {
	// Where Debian and Ubuntu install the module.
	candidates := []string{
		"/usr/lib/softhsm/libsofthsm2.so",
		"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
		"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
		"/usr/local/lib/softhsm/libsofthsm2.so",
	}
	if env := os.Getenv("SOFTHSM2_MODULE"); env != "" {
		candidates = []string{env}
	}
	for _, p := range candidates {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("softhsmtest: libsofthsm2.so not found in %v (apt-get install softhsm2)", candidates)
}

// WriteConf writes a softhsm2.conf whose token directory lives in dir and
// returns its path.
func WriteConf(dir string) (string, error) {
	tokens := filepath.Join(dir, "tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		return "", fmt.Errorf("softhsmtest: %w", err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	body := fmt.Sprintf(`directories.tokendir = %s
objectstore.backend = file
log.level = ERROR
slots.removable = false
slots.mechanisms = ALL
library.reset_on_fork = false
`, tokens)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		return "", fmt.Errorf("softhsmtest: %w", err)
	}
	return conf, nil
}

// NewToken creates a token with a random label, SO PIN and user PIN in
// t.TempDir(). It fails the test, rather than skipping it, when SoftHSM2 is
// missing: a skipped HSM test proves nothing.
func NewToken(t testing.TB) Token {
	t.Helper()
	module, err := Module()
	if err != nil {
		t.Fatal(err)
	}
	conf, err := WriteConf(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	tok := Token{Module: module, Label: "sr-test-" + randomHex(t, 8), PIN: randomHex(t, 8), ConfPath: conf}
	if err := pkcs11hsm.InitToken(context.Background(), module, "", tok.Label, randomHex(t, 8), tok.PIN); err != nil {
		t.Fatalf("softhsmtest: %v", err)
	}
	return tok
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
