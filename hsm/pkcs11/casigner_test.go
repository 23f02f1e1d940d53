package pkcs11hsm_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/miekg/pkcs11"

	pkcs11hsm "github.com/strongroom/strongroom/hsm/pkcs11"
	"github.com/strongroom/strongroom/internal/pki"
)

// TestCAKeyInToken: the CA key is generated in the token, signs, and cannot
// be read out; a CA built on it issues certificates that verify.
func TestCAKeyInToken(t *testing.T) {
	ctx := context.Background()
	ks, _ := newKeystore(t, 2)

	if _, err := ks.CASigner(ctx, ""); !errors.Is(err, pkcs11hsm.ErrCAKeyNotFound) {
		t.Fatalf("CASigner on a fresh token: %v, want ErrCAKeyNotFound", err)
	}
	signer, created, err := ks.EnsureCAKey(ctx, "")
	if err != nil || !created {
		t.Fatalf("EnsureCAKey: created=%v err=%v", created, err)
	}
	again, created, err := ks.EnsureCAKey(ctx, "")
	if err != nil || created {
		t.Fatalf("second EnsureCAKey: created=%v err=%v", created, err)
	}
	if !again.Public().(*ecdsa.PublicKey).Equal(signer.Public()) {
		t.Fatal("second EnsureCAKey returned another key")
	}

	// Signatures verify with the public key.
	digest := sha256.Sum256([]byte("strongroom"))
	sig, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if !ecdsa.VerifyASN1(signer.Public().(*ecdsa.PublicKey), digest[:], sig) {
		t.Fatal("CA signature does not verify")
	}
	if _, err := signer.Sign(rand.Reader, digest[:20], crypto.SHA1); err == nil {
		t.Error("the CA key signed a SHA-1 digest")
	}

	// The private key is sensitive, never extractable and can only sign.
	err = ks.WithTokenForTest(ctx, func(p *pkcs11.Ctx, sh pkcs11.SessionHandle, _, _ pkcs11.ObjectHandle) error {
		if err := p.FindObjectsInit(sh, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, pkcs11hsm.DefaultCAKeyLabel),
		}); err != nil {
			return err
		}
		hs, _, err := p.FindObjects(sh, 2)
		_ = p.FindObjectsFinal(sh)
		if err != nil || len(hs) != 1 {
			t.Fatalf("find CA private key: %d objects, %v", len(hs), err)
		}
		attrs, err := p.GetAttributeValue(sh, hs[0], []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, nil),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
			pkcs11.NewAttribute(pkcs11.CKA_NEVER_EXTRACTABLE, nil),
			pkcs11.NewAttribute(pkcs11.CKA_SIGN, nil),
			pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, nil),
			pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, nil),
			pkcs11.NewAttribute(pkcs11.CKA_DERIVE, nil),
		})
		if err != nil {
			return err
		}
		want := []bool{true, true, false, true, true, false, false, false}
		names := []string{"TOKEN", "SENSITIVE", "EXTRACTABLE", "NEVER_EXTRACTABLE", "SIGN", "DECRYPT", "UNWRAP", "DERIVE"}
		for i, a := range attrs {
			if got := len(a.Value) == 1 && a.Value[0] == 1; got != want[i] {
				t.Errorf("CKA_%s = %v, want %v", names[i], got, want[i])
			}
		}
		if _, err := p.GetAttributeValue(sh, hs[0], []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)}); err == nil {
			t.Error("the token gave out CKA_VALUE of the CA key")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	ca, err := pki.CreateCAWithSigner("akmmongo", 24*time.Hour, signer)
	if err != nil {
		t.Fatalf("CreateCAWithSigner: %v", err)
	}
	certPEM, _, err := ca.IssueClient("u", "g", pki.RoleKeyClient, time.Hour)
	if err != nil {
		t.Fatalf("IssueClient: %v", err)
	}
	cert, err := pki.ParseCertificatePEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("certificate issued by the token CA does not verify: %v", err)
	}
	if err := ca.Save(t.TempDir()+"/ca.pem", t.TempDir()+"/ca-key.pem"); !errors.Is(err, pki.ErrKeyNotExportable) {
		t.Errorf("Save of the key: %v, want ErrKeyNotExportable", err)
	}
}

// TestCAKeyFoundAcrossVersions: a CA key pair generated directly with
// C_GenerateKeyPair (as before crypto11 signed for the CA) is found and
// signs, and so does a crypto11-made one after a second Keystore on the same
// module closes (crypto11 counts module references; the module stays up).
func TestCAKeyFoundAcrossVersions(t *testing.T) {
	ctx := context.Background()
	ks, tok := newKeystore(t, 2)
	const old = "strongroom-ca-before-crypto11"
	err := ks.WithTokenForTest(ctx, func(p *pkcs11.Ctx, sh pkcs11.SessionHandle, _, _ pkcs11.ObjectHandle) error {
		pub, priv := pkcs11hsm.CAKeyTemplatesForTest(old)
		_, _, err := p.GenerateKeyPair(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)}, pub, priv)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, label := range []string{old, pkcs11hsm.DefaultTLSKeyLabel} {
		t.Run(label, func(t *testing.T) {
			s, _, err := ks.EnsureCAKey(ctx, label)
			if err != nil {
				t.Fatal(err)
			}
			// A second Keystore on the same token comes and goes.
			ks2, err := pkcs11hsm.Open(ctx, tok.Config(1))
			if err != nil {
				t.Fatalf("second Open: %v", err)
			}
			s2, err := ks2.CASigner(ctx, label)
			if err != nil {
				t.Fatalf("second Keystore: %v", err)
			}
			if !s2.Public().(*ecdsa.PublicKey).Equal(s.Public()) {
				t.Fatal("the second Keystore found another key")
			}
			if err := ks2.Close(); err != nil {
				t.Fatal(err)
			}
			digest := sha256.Sum256([]byte(label))
			sig, err := s.Sign(rand.Reader, digest[:], crypto.SHA256)
			if err != nil {
				t.Fatalf("Sign after the second Keystore closed: %v", err)
			}
			if !ecdsa.VerifyASN1(s.Public().(*ecdsa.PublicKey), digest[:], sig) {
				t.Fatal("signature does not verify")
			}
		})
	}
}

// TestCASignerAfterLogout: when the token drops the login, the signer logs
// in again, finds its key again and signs.
func TestCASignerAfterLogout(t *testing.T) {
	ctx := context.Background()
	ks, _ := newKeystore(t, 2)
	s, _, err := ks.EnsureCAKey(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.WithTokenForTest(ctx, func(p *pkcs11.Ctx, sh pkcs11.SessionHandle, _, _ pkcs11.ObjectHandle) error {
		return p.Logout(sh)
	}); err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("after logout"))
	sig, err := s.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatalf("Sign after logout: %v", err)
	}
	if !ecdsa.VerifyASN1(s.Public().(*ecdsa.PublicKey), digest[:], sig) {
		t.Fatal("signature does not verify")
	}
}
