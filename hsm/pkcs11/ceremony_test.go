package pkcs11hsm_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/strongroom/strongroom/hsm"
	pkcs11hsm "github.com/strongroom/strongroom/hsm/pkcs11"
	"github.com/strongroom/strongroom/internal/softhsmtest"
)

// ceremonyToken is one of two tokens in one SoftHSM2 configuration (one
// process sees one SOFTHSM2_CONF).
type ceremonyToken struct {
	cfg   pkcs11hsm.Config
	soPIN string
}

func twoTokens(t *testing.T) (old, fresh ceremonyToken) {
	t.Helper()
	module, err := softhsmtest.Module()
	if err != nil {
		t.Fatal(err)
	}
	conf, err := softhsmtest.WriteConf(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	var toks [2]ceremonyToken
	for i, name := range []string{"old", "new"} {
		so, pin := hex.EncodeToString(randomBytes(t, 8)), hex.EncodeToString(randomBytes(t, 8))
		label := "sr-" + name + "-" + hex.EncodeToString(randomBytes(t, 4))
		if err := pkcs11hsm.InitToken(context.Background(), module, "", label, so, pin); err != nil {
			t.Fatal(err)
		}
		toks[i] = ceremonyToken{cfg: pkcs11hsm.Config{Module: module, TokenLabel: label, PIN: pin, AllowMissingKeys: true}, soPIN: so}
	}
	return toks[0], toks[1]
}

func open(t *testing.T, cfg pkcs11hsm.Config) *pkcs11hsm.Keystore {
	t.Helper()
	ks, err := pkcs11hsm.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ks.Close() }) // Close is idempotent
	return ks
}

func closeKS(t *testing.T, ks *pkcs11hsm.Keystore) {
	t.Helper()
	if err := ks.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestKEKCeremony moves an exportable KEK and MAC key from one token to
// another through a transport key made in the receiving token; the new
// token unwraps the old token's blobs and verifies its MACs. A KEK made
// without Exportable cannot be exported.
func TestKEKCeremony(t *testing.T) {
	ctx := context.Background()
	old, fresh := twoTokens(t)

	// The old node: exportable keys, one wrapped key and one MAC.
	old.cfg.Exportable = true
	ks := open(t, old.cfg)
	if _, err := ks.EnsureKeys(ctx); err != nil {
		t.Fatal(err)
	}
	w, err := ks.GenerateWrapped(ctx, hsm.KindAES, 256)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ks.Unwrap(ctx, hsm.KindAES, w)
	if err != nil {
		t.Fatal(err)
	}
	mac, err := ks.MAC(ctx, []byte("row"))
	if err != nil {
		t.Fatal(err)
	}
	// Without the SO's trust the user cannot wrap the KEK.
	err = ks.WithTokenForTest(ctx, func(p *pkcs11.Ctx, sh pkcs11.SessionHandle, kek, _ pkcs11.ObjectHandle) error {
		v, err := p.GetAttributeValue(sh, kek, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
		if err == nil && len(v) > 0 && len(v[0].Value) > 0 {
			return errors.New("the KEK's value is readable")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	closeKS(t, ks)

	// The new node: transport key.
	nks := open(t, fresh.cfg)
	pub, err := nks.CreateTransportKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	closeKS(t, nks)

	// The old node: export without the SO step fails; with it, succeeds.
	ks = open(t, old.cfg)
	if _, err := ks.ExportKeys(ctx, pub); err == nil || !strings.Contains(err.Error(), "no trusted transport key") {
		t.Fatalf("export without the SO step: %v", err)
	}
	closeKS(t, ks)
	if err := pkcs11hsm.TrustTransportKey(ctx, old.cfg.Module, old.cfg.TokenLabel, "wrong-pin", pub); err == nil {
		t.Fatal("TrustTransportKey with a wrong SO PIN succeeded")
	}
	if err := pkcs11hsm.TrustTransportKey(ctx, old.cfg.Module, old.cfg.TokenLabel, old.soPIN, pub); err != nil {
		t.Fatal(err)
	}
	ks = open(t, old.cfg)
	bundle, err := ks.ExportKeys(ctx, pub)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(bundle.KEK, want) || bytes.Contains(bundle.MAC, want) {
		t.Fatal("the bundle holds key bytes")
	}
	// The trusted key is gone: a second export needs the SO again.
	if _, err := ks.ExportKeys(ctx, pub); err == nil {
		t.Fatal("a second export without the SO step succeeded")
	}
	closeKS(t, ks)

	// The new node: import, then read the old node's blob and MAC.
	nks = open(t, fresh.cfg)
	if err := nks.ImportKeys(ctx, bundle); err != nil {
		t.Fatal(err)
	}
	got, err := nks.Unwrap(ctx, hsm.KindAES, w)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the new token unwraps the old token's blob to different bytes")
	}
	if err := nks.VerifyMAC(ctx, []byte("row"), mac); err != nil {
		t.Fatalf("the new token does not verify the old token's MAC: %v", err)
	}
	if err := nks.ImportKeys(ctx, bundle); err == nil {
		t.Fatal("a second import succeeded")
	}
	err = nks.WithTokenForTest(ctx, func(p *pkcs11.Ctx, sh pkcs11.SessionHandle, kek, mac pkcs11.ObjectHandle) error {
		for _, h := range []pkcs11.ObjectHandle{kek, mac} {
			v, err := p.GetAttributeValue(sh, h, []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_TOKEN, nil), pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
				pkcs11.NewAttribute(pkcs11.CKA_WRAP_WITH_TRUSTED, nil), pkcs11.NewAttribute(pkcs11.CKA_MODIFIABLE, nil),
			})
			if err != nil {
				return err
			}
			if v[0].Value[0] != 1 || v[1].Value[0] != 1 || v[2].Value[0] != 1 || v[3].Value[0] != 0 {
				return errors.New("imported key: want token, sensitive, wrap-with-trusted, not modifiable")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	closeKS(t, nks)
	// Reopened without AllowMissingKeys, the imported keys pass the vetting.
	strict := fresh.cfg
	strict.AllowMissingKeys = false
	closeKS(t, open(t, strict))
}

// TestKEKCeremonyNonExportable: a KEK created the default way (before the
// ceremony existed) never leaves its token, even with the SO's trust.
func TestKEKCeremonyNonExportable(t *testing.T) {
	ctx := context.Background()
	old, fresh := twoTokens(t)
	ks := open(t, old.cfg)
	if _, err := ks.EnsureKeys(ctx); err != nil {
		t.Fatal(err)
	}
	closeKS(t, ks)
	nks := open(t, fresh.cfg)
	pub, err := nks.CreateTransportKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	closeKS(t, nks)
	if err := pkcs11hsm.TrustTransportKey(ctx, old.cfg.Module, old.cfg.TokenLabel, old.soPIN, pub); err != nil {
		t.Fatal(err)
	}
	ks = open(t, old.cfg)
	defer closeKS(t, ks)
	if _, err := ks.ExportKeys(ctx, pub); err == nil || !strings.Contains(err.Error(), "cannot leave") {
		t.Fatalf("export of a non-extractable KEK: %v", err)
	}
}
