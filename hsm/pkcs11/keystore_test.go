package pkcs11hsm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/strongroom/strongroom/hsm"
	pkcs11hsm "github.com/strongroom/strongroom/hsm/pkcs11"
	"github.com/strongroom/strongroom/internal/softhsmtest"
)

func TestOpenMissingKeys(t *testing.T) {
	tok := softhsmtest.NewToken(t)
	ks, err := pkcs11hsm.Open(context.Background(), tok.Config(1))
	if err == nil {
		ks.Close()
		t.Fatal("Open on a token without keys succeeded")
	}
	if !errors.Is(err, pkcs11hsm.ErrKeyNotFound) {
		t.Errorf("error %v does not wrap ErrKeyNotFound", err)
	}
	want := fmt.Sprintf(`hsm: KEK "strongroom-kek" not found in token %q: run strongroom init`, tok.Label)
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

func TestOpenErrors(t *testing.T) {
	tok := softhsmtest.NewToken(t)
	// Keys exist, so only the deliberate fault can fail Open.
	ks, err := pkcs11hsm.Open(context.Background(), pkcs11hsm.Config{Module: tok.Module, TokenLabel: tok.Label, PIN: tok.PIN, AllowMissingKeys: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.EnsureKeys(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := ks.Close(); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		mutate func(*pkcs11hsm.Config)
		is     error  // errors.Is target, if any
		substr string // expected in the message
	}{
		{"wrong PIN", func(c *pkcs11hsm.Config) { c.PIN = "wrong-pin-0000" }, pkcs11.Error(pkcs11.CKR_PIN_INCORRECT), "log in to token"},
		{"unknown token", func(c *pkcs11hsm.Config) { c.TokenLabel = "no-such-token" }, pkcs11hsm.ErrTokenNotFound, `token "no-such-token" not found`},
		{"missing module", func(c *pkcs11hsm.Config) { c.Module = "/nonexistent/libp11.so" }, nil, "cannot load library"},
		{"empty PIN", func(c *pkcs11hsm.Config) { c.PIN = "" }, nil, "PIN is empty"},
		{"empty token label", func(c *pkcs11hsm.Config) { c.TokenLabel = "" }, nil, "token label is empty"},
		{"same labels", func(c *pkcs11hsm.Config) { c.KEKLabel, c.MACLabel = "k", "k" }, nil, "share the label"},
		{"negative pool", func(c *pkcs11hsm.Config) { c.Sessions = -1 }, nil, "less than 1"},
		{"PKCS#11 v3.0 KWP id unsupported by SoftHSM2 2.6.1", func(c *pkcs11hsm.Config) { c.WrapMechanism = pkcs11hsm.MechAESKeyWrapKWP }, pkcs11.Error(pkcs11.CKR_MECHANISM_INVALID), "mechanism 0x210B"},
		{"missing MAC key", func(c *pkcs11hsm.Config) { c.MACLabel = "other-mac" }, pkcs11hsm.ErrKeyNotFound, `MAC key "other-mac" not found`},
		{"KEK label on the MAC key", func(c *pkcs11hsm.Config) {
			c.KEKLabel = pkcs11hsm.DefaultMACLabel
			c.MACLabel = pkcs11hsm.DefaultKEKLabel
		}, nil, "refusing to use it"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tok.Config(1)
			tc.mutate(&cfg)
			ks, err := pkcs11hsm.Open(context.Background(), cfg)
			if err == nil {
				ks.Close()
				t.Fatal("Open succeeded")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q does not match %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.substr) {
				t.Errorf("error %q does not contain %q", err, tc.substr)
			}
			if strings.Contains(err.Error(), tok.PIN) || (cfg.PIN != "" && strings.Contains(err.Error(), cfg.PIN)) {
				t.Error("error message contains the PIN")
			}
		})
	}

	// A failed Open must leave the module usable for the next one.
	ks, err = pkcs11hsm.Open(context.Background(), tok.Config(1))
	if err != nil {
		t.Fatalf("Open after failed Opens: %v", err)
	}
	ks.Close()
}

func TestConfigNeverShowsPIN(t *testing.T) {
	const pin = "s3cret-pin-7731"
	cfg := pkcs11hsm.Config{Module: "/m.so", TokenLabel: "tok", PIN: pin}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("open", "config", cfg)
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%v", &cfg), logged.String()} {
		if strings.Contains(s, pin) {
			t.Errorf("PIN visible in %q", strings.ReplaceAll(s, pin, "<PIN>"))
		}
		if !strings.Contains(s, "tok") {
			t.Errorf("token label missing from %q", s)
		}
	}
}

func TestEnsureKeysIdempotent(t *testing.T) {
	ks, tok := newKeystore(t, 2)
	created, err := ks.EnsureKeys(context.Background())
	if err != nil || created {
		t.Fatalf("second EnsureKeys = %v, %v; want false, nil", created, err)
	}
	// The keys are now found by a plain Open.
	ks2, err := pkcs11hsm.Open(context.Background(), tok.Config(1))
	if err != nil {
		t.Fatalf("Open with keys present: %v", err)
	}
	if err := ks2.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestMissingKeysBeforeEnsure(t *testing.T) {
	tok := softhsmtest.NewToken(t)
	cfg := tok.Config(1)
	cfg.AllowMissingKeys = true
	ks, err := pkcs11hsm.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	ctx := context.Background()
	if _, err := ks.GenerateWrapped(ctx, hsm.KindAES, 256); !errors.Is(err, pkcs11hsm.ErrKeyNotFound) {
		t.Errorf("GenerateWrapped before EnsureKeys: %v, want ErrKeyNotFound", err)
	}
	if _, err := ks.MAC(ctx, []byte("x")); !errors.Is(err, pkcs11hsm.ErrKeyNotFound) {
		t.Errorf("MAC before EnsureKeys: %v, want ErrKeyNotFound", err)
	}
	if _, err := ks.Random(ctx, 8); err != nil {
		t.Errorf("Random needs no key: %v", err)
	}
}

// TestTokenKeysStayInside checks the attributes that keep the KEK and MAC
// key in the token, and that the one-way ratchet cannot be undone.
func TestTokenKeysStayInside(t *testing.T) {
	ks, _ := newKeystore(t, 1)
	type key struct {
		name string
		pick func(kek, mac pkcs11.ObjectHandle) pkcs11.ObjectHandle
		on   []uint // usage attributes that must be true
		off  []uint // usage attributes that must be false
	}
	keys := []key{
		{"KEK", func(kek, _ pkcs11.ObjectHandle) pkcs11.ObjectHandle { return kek },
			[]uint{pkcs11.CKA_WRAP, pkcs11.CKA_UNWRAP},
			[]uint{pkcs11.CKA_ENCRYPT, pkcs11.CKA_DECRYPT, pkcs11.CKA_SIGN, pkcs11.CKA_VERIFY, pkcs11.CKA_DERIVE}},
		{"MAC key", func(_, mac pkcs11.ObjectHandle) pkcs11.ObjectHandle { return mac },
			[]uint{pkcs11.CKA_SIGN, pkcs11.CKA_VERIFY},
			[]uint{pkcs11.CKA_ENCRYPT, pkcs11.CKA_DECRYPT, pkcs11.CKA_WRAP, pkcs11.CKA_UNWRAP, pkcs11.CKA_DERIVE}},
	}
	always := []uint{pkcs11.CKA_TOKEN, pkcs11.CKA_PRIVATE, pkcs11.CKA_SENSITIVE, pkcs11.CKA_ALWAYS_SENSITIVE, pkcs11.CKA_NEVER_EXTRACTABLE, pkcs11.CKA_LOCAL}
	never := []uint{pkcs11.CKA_EXTRACTABLE, pkcs11.CKA_MODIFIABLE}
	for _, k := range keys {
		t.Run(k.name, func(t *testing.T) {
			err := ks.WithTokenForTest(context.Background(), func(p *pkcs11.Ctx, sh pkcs11.SessionHandle, kek, mac pkcs11.ObjectHandle) error {
				h := k.pick(kek, mac)
				checkBools(t, p, sh, h, append(always, k.on...), true)
				checkBools(t, p, sh, h, append(never, k.off...), false)
				_, err := p.GetAttributeValue(sh, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
				if !errors.Is(err, pkcs11.Error(pkcs11.CKR_ATTRIBUTE_SENSITIVE)) {
					t.Errorf("reading CKA_VALUE: %v, want CKR_ATTRIBUTE_SENSITIVE", err)
				}
				for _, a := range []*pkcs11.Attribute{
					pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
					pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false),
				} {
					if err := p.SetAttributeValue(sh, h, []*pkcs11.Attribute{a}); err == nil {
						t.Errorf("setting attribute 0x%X succeeded", a.Type)
					}
				}
				checkBools(t, p, sh, h, []uint{pkcs11.CKA_SENSITIVE}, true)
				checkBools(t, p, sh, h, []uint{pkcs11.CKA_EXTRACTABLE}, false)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func checkBools(t *testing.T, p *pkcs11.Ctx, sh pkcs11.SessionHandle, h pkcs11.ObjectHandle, attrs []uint, want bool) {
	t.Helper()
	for _, typ := range attrs {
		got, err := p.GetAttributeValue(sh, h, []*pkcs11.Attribute{pkcs11.NewAttribute(typ, nil)})
		if err != nil {
			t.Errorf("read attribute 0x%X: %v", typ, err)
			continue
		}
		if v := len(got[0].Value) > 0 && got[0].Value[0] != 0; v != want {
			t.Errorf("attribute 0x%X = %v, want %v", typ, v, want)
		}
	}
}

// TestReopen checks that blobs and MACs made before Close still work after
// the keystore (and the module) is closed and opened again.
func TestReopen(t *testing.T) {
	ks, tok := newKeystore(t, 2)
	ctx := context.Background()
	gen, err := ks.GenerateWrapped(ctx, hsm.KindAES, 256)
	if err != nil {
		t.Fatal(err)
	}
	genPlain, err := ks.Unwrap(ctx, hsm.KindAES, gen)
	if err != nil {
		t.Fatal(err)
	}
	secret := randomBytes(t, 20)
	imp, err := ks.ImportWrapped(ctx, hsm.KindGeneric, secret)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("row 42|active|v7")
	mac, err := ks.MAC(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ks.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := ks.Random(ctx, 8); !errors.Is(err, pkcs11hsm.ErrClosed) {
		t.Errorf("Random after Close: %v, want ErrClosed", err)
	}

	ks2, err := pkcs11hsm.Open(ctx, tok.Config(2))
	if err != nil {
		t.Fatal(err)
	}
	defer ks2.Close()
	got, err := ks2.Unwrap(ctx, hsm.KindAES, gen)
	if err != nil {
		t.Fatalf("Unwrap generated key after reopen: %v", err)
	}
	if !bytes.Equal(got, genPlain) {
		t.Errorf("generated key differs after reopen (%d vs %d bytes)", len(got), len(genPlain))
	}
	got, err = ks2.Unwrap(ctx, hsm.KindGeneric, imp)
	if err != nil {
		t.Fatalf("Unwrap imported secret after reopen: %v", err)
	}
	if !bytes.Equal(got, secret) {
		t.Errorf("imported secret differs after reopen (%d vs %d bytes)", len(got), len(secret))
	}
	if err := ks2.VerifyMAC(ctx, data, mac); err != nil {
		t.Errorf("VerifyMAC after reopen: %v", err)
	}
}

func TestInitTokenExists(t *testing.T) {
	tok := softhsmtest.NewToken(t)
	err := pkcs11hsm.InitToken(context.Background(), tok.Module, "", tok.Label, "so-pin-1234", "user-pin-1234")
	if !errors.Is(err, pkcs11hsm.ErrTokenExists) {
		t.Fatalf("InitToken with an existing label: %v, want ErrTokenExists", err)
	}
}

func TestInitTokenConfPath(t *testing.T) {
	module, err := softhsmtest.Module()
	if err != nil {
		t.Fatal(err)
	}
	conf, err := softhsmtest.WriteConf(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", "/nonexistent/softhsm2.conf") // InitToken must replace it; restored after the test
	if err := pkcs11hsm.InitToken(context.Background(), module, conf, "sr-conf-path", "so-pin-1234", "user-pin-1234"); err != nil {
		t.Fatal(err)
	}
	ks, err := pkcs11hsm.Open(context.Background(), pkcs11hsm.Config{Module: module, TokenLabel: "sr-conf-path", PIN: "user-pin-1234", AllowMissingKeys: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Close(); err != nil {
		t.Fatal(err)
	}
}
