package pkcs11hsm

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"

	"github.com/miekg/pkcs11"
)

// The KEK ceremony moves the KEK and the MAC key from one token to another
// so that mirrored nodes, each with its own HSM, read each other's rows.
// The keys never exist in the clear outside a token:
//
//  1. On the receiving node, CreateTransportKey generates an RSA-3072 key
//     pair inside the receiving token. The private key is a token object,
//     sensitive, non-extractable, good only for unwrapping; the public key
//     leaves as PKIX DER.
//  2. On the sending node, the token's Security Officer marks that public
//     key trusted (TrustTransportKey: CKA_TRUSTED can only be set by the
//     SO), then ExportKeys wraps both keys under it with CKM_RSA_PKCS_OAEP
//     inside the token and deletes the trusted public key again.
//  3. On the receiving node, ImportKeys unwraps the bundle inside the token
//     into token objects and deletes the transport private key.
//
// PKCS#11 forbids wrapping a non-extractable key, so only keys created with
// Config.Exportable can be sent: they are CKA_EXTRACTABLE but also
// CKA_WRAP_WITH_TRUSTED, so the token wraps them only under a key its SO
// has marked trusted; the user PIN alone cannot get them out. Keys created
// without it (the default, and every KEK made before the ceremony existed)
// are CKA_EXTRACTABLE=false and can never leave their token: such a node's
// rows can only be read by that token.

// TransportLabel is the label of the transport key pair in the receiving
// token, and (with a "-trusted" suffix) of the trusted public key the SO
// puts in the sending token for the duration of one export.
const TransportLabel = "strongroom-transport"

const trustedLabel = TransportLabel + "-trusted"

// transportBits is the transport key's modulus size: RSA-3072 (128-bit
// security, like the AES-256 KEK under NIST SP 800-57's reckoning for
// transport).
const transportBits = 3072

// KeyBundle is the KEK and the MAC key wrapped under a transport key. None
// of its fields is secret: only the receiving token can unwrap it.
type KeyBundle struct {
	KEKLabel string `json:"kek_label"`
	MACLabel string `json:"mac_label"`
	// Transport is the SHA-256 of the transport public key's PKIX DER, so
	// that a bundle meant for another token is refused with a clear error.
	Transport string `json:"transport_sha256"`
	// Mechanism is the wrapping mechanism (CKM_RSA_PKCS_OAEP, SHA-1/MGF1-SHA1:
	// the only OAEP parameters SoftHSM2 2.6.1 accepts).
	Mechanism uint   `json:"mechanism"`
	KEK       []byte `json:"kek"`
	MAC       []byte `json:"mac"`
}

// exportable turns a token-key template into the exportable form:
// extractable, but only under a trusted wrapping key.
func exportable(t []*pkcs11.Attribute) []*pkcs11.Attribute {
	out := make([]*pkcs11.Attribute, 0, len(t)+1)
	for _, a := range t {
		if a.Type == pkcs11.CKA_EXTRACTABLE {
			a = pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true)
		}
		out = append(out, a)
	}
	return append(out, pkcs11.NewAttribute(pkcs11.CKA_WRAP_WITH_TRUSTED, true))
}

// template is the creation template of a token key under this keystore's
// configuration.
func (k *Keystore) template(t []*pkcs11.Attribute) []*pkcs11.Attribute {
	if k.cfg.Exportable {
		return exportable(t)
	}
	return t
}

func oaepMechanism() []*pkcs11.Mechanism {
	return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_OAEP,
		pkcs11.NewOAEPParams(pkcs11.CKM_SHA_1, pkcs11.CKG_MGF1_SHA1, pkcs11.CKZ_DATA_SPECIFIED, nil))}
}

// Fingerprint is the hex SHA-256 of a public key's PKIX DER.
func Fingerprint(pub *rsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("hsm: transport key: %w", err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// findObjects returns the handles of the objects matching tmpl.
func (k *Keystore) findObjects(sh pkcs11.SessionHandle, tmpl []*pkcs11.Attribute) ([]pkcs11.ObjectHandle, error) {
	return findObjects(k.p, sh, tmpl)
}

func findObjects(p *pkcs11.Ctx, sh pkcs11.SessionHandle, tmpl []*pkcs11.Attribute) ([]pkcs11.ObjectHandle, error) {
	if err := p.FindObjectsInit(sh, tmpl); err != nil {
		return nil, err
	}
	objs, _, err := p.FindObjects(sh, 16)
	if ferr := p.FindObjectsFinal(sh); err == nil {
		err = ferr
	}
	return objs, err
}

// CreateTransportKey generates the transport key pair in the token (step 1)
// and returns its public key. A transport key left by an earlier, unfinished
// ceremony is replaced.
func (k *Keystore) CreateTransportKey(ctx context.Context) (*rsa.PublicKey, error) {
	var pub *rsa.PublicKey
	err := k.do(ctx, "create transport key", func(sh pkcs11.SessionHandle, _ *keyHandles) error {
		old, err := k.findObjects(sh, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, TransportLabel),
		})
		if err != nil {
			return fmt.Errorf("hsm: find old transport key: %w", err)
		}
		for _, h := range old {
			if err := k.p.DestroyObject(sh, h); err != nil {
				return fmt.Errorf("hsm: destroy old transport key: %w", err)
			}
		}
		pubT := []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, transportBits),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}),
			pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
			pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false),
			pkcs11.NewAttribute(pkcs11.CKA_VERIFY, false),
		}
		privT := []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, TransportLabel),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
			pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, true),
			pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
			pkcs11.NewAttribute(pkcs11.CKA_SIGN, false),
			pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
		}
		ph, _, err := k.p.GenerateKeyPair(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, nil)}, pubT, privT)
		if err != nil {
			return fmt.Errorf("hsm: generate transport key: %w", err)
		}
		defer func() { _ = k.p.DestroyObject(sh, ph) }()
		attrs, err := k.p.GetAttributeValue(sh, ph, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS, nil), pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, nil),
		})
		if err != nil {
			return fmt.Errorf("hsm: read transport public key: %w", err)
		}
		pub = &rsa.PublicKey{N: new(big.Int).SetBytes(attrs[0].Value), E: int(new(big.Int).SetBytes(attrs[1].Value).Int64())}
		return nil
	})
	if err != nil {
		return nil, err
	}
	k.log.Info("hsm: created transport key", "token", k.cfg.TokenLabel, "label", TransportLabel)
	return pub, nil
}

// TrustTransportKey is step 2's Security Officer part on the sending
// token: it stores pub as a public token object with CKA_TRUSTED set,
// which only the SO may do. It must run while this process holds no user
// login on the token (before Open), since a token has one login per
// application. ExportKeys deletes the object again.
func TrustTransportKey(ctx context.Context, module, tokenLabel, soPIN string, pub *rsa.PublicKey) (err error) {
	if soPIN == "" {
		return errors.New("hsm: trust transport key: the SO PIN is empty")
	}
	if pub == nil || pub.N.BitLen() < 2048 {
		return errors.New("hsm: trust transport key: want an RSA public key of at least 2048 bits")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("hsm: trust transport key: %w", err)
	}
	p := pkcs11.New(module)
	if p == nil {
		return fmt.Errorf("hsm: load PKCS#11 module %q: cannot load library", module)
	}
	defer p.Destroy()
	switch ierr := p.Initialize(); {
	case ierr == nil:
		defer func() {
			if ferr := p.Finalize(); ferr != nil && err == nil {
				err = fmt.Errorf("hsm: finalize PKCS#11 module: %w", ferr)
			}
		}()
	case isCode(ierr, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED):
	default:
		return fmt.Errorf("hsm: initialize PKCS#11 module %q: %w", module, ierr)
	}
	slot, err := findTokenSlot(p, tokenLabel)
	if err != nil {
		return err
	}
	sh, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return fmt.Errorf("hsm: trust transport key: open session: %w", err)
	}
	defer func() { _ = p.CloseSession(sh) }()
	if err := p.Login(sh, pkcs11.CKU_SO, soPIN); err != nil {
		return fmt.Errorf("hsm: trust transport key: log in as SO of token %q: %w", tokenLabel, err)
	}
	defer func() { _ = p.Logout(sh) }()
	old, err := findObjects(p, sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, trustedLabel)})
	if err != nil {
		return fmt.Errorf("hsm: trust transport key: find old: %w", err)
	}
	for _, h := range old {
		if err := p.DestroyObject(sh, h); err != nil {
			return fmt.Errorf("hsm: trust transport key: destroy old: %w", err)
		}
	}
	_, err = p.CreateObject(sh, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, trustedLabel),
		pkcs11.NewAttribute(pkcs11.CKA_TRUSTED, true),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, false),
		pkcs11.NewAttribute(pkcs11.CKA_MODULUS, pub.N.Bytes()),
		pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, big.NewInt(int64(pub.E)).Bytes()),
	})
	if err != nil {
		return fmt.Errorf("hsm: trust transport key: create trusted public key: %w", err)
	}
	return nil
}

// ExportKeys is step 2's user part: it wraps the KEK and the MAC key under
// the trusted transport key that TrustTransportKey stored for pub, then
// deletes that trusted key.
func (k *Keystore) ExportKeys(ctx context.Context, pub *rsa.PublicKey) (KeyBundle, error) {
	fp, err := Fingerprint(pub)
	if err != nil {
		return KeyBundle{}, err
	}
	if err := k.requireKeys(true, true); err != nil {
		return KeyBundle{}, err
	}
	b := KeyBundle{KEKLabel: k.cfg.KEKLabel, MACLabel: k.cfg.MACLabel, Transport: fp, Mechanism: pkcs11.CKM_RSA_PKCS_OAEP}
	err = k.do(ctx, "export keys", func(sh pkcs11.SessionHandle, keys *keyHandles) error {
		objs, err := k.findObjects(sh, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, trustedLabel),
		})
		if err != nil {
			return fmt.Errorf("hsm: export keys: find trusted transport key: %w", err)
		}
		var wrapping pkcs11.ObjectHandle
		for _, h := range objs {
			a, err := k.p.GetAttributeValue(sh, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_MODULUS, nil)})
			if err == nil && bytes.Equal(a[0].Value, pub.N.Bytes()) {
				wrapping = h
			}
		}
		if wrapping == 0 {
			return fmt.Errorf("hsm: export keys: token %q holds no trusted transport key for %s (the SO step did not run)", k.cfg.TokenLabel, fp[:16])
		}
		defer func() {
			if derr := k.p.DestroyObject(sh, wrapping); derr != nil {
				k.log.Warn("hsm: could not delete the trusted transport key; delete it as SO", "label", trustedLabel, "err", derr)
			}
		}()
		for _, x := range []struct {
			what string
			h    pkcs11.ObjectHandle
			dst  *[]byte
		}{{"KEK", keys.kek, &b.KEK}, {"MAC key", keys.mac, &b.MAC}} {
			blob, err := k.p.WrapKey(sh, oaepMechanism(), wrapping, x.h)
			if err != nil {
				if isCode(err, pkcs11.CKR_KEY_UNEXTRACTABLE, pkcs11.CKR_KEY_NOT_WRAPPABLE) {
					return fmt.Errorf("hsm: export keys: the %s of token %q cannot leave it (created non-extractable, before the KEK ceremony or without hsm.kek_exportable): %w", x.what, k.cfg.TokenLabel, err)
				}
				return fmt.Errorf("hsm: export keys: wrap the %s: %w", x.what, err)
			}
			*x.dst = blob
		}
		return nil
	})
	if err != nil {
		return KeyBundle{}, err
	}
	k.log.Info("hsm: exported the KEK and MAC key under a transport key", "token", k.cfg.TokenLabel, "transport_sha256", fp)
	return b, nil
}

// ImportKeys is step 3: it unwraps the bundle with the transport private
// key into the token as the KEK and the MAC key (exportable under a trusted
// key in turn, so that this node can seed the next), then deletes the
// transport key. The token must not hold a KEK or MAC key yet: open the
// keystore with AllowMissingKeys.
func (k *Keystore) ImportKeys(ctx context.Context, b KeyBundle) error {
	if b.KEKLabel != k.cfg.KEKLabel || b.MACLabel != k.cfg.MACLabel {
		return fmt.Errorf("hsm: import keys: the bundle holds %q and %q; this node is configured for %q and %q", b.KEKLabel, b.MACLabel, k.cfg.KEKLabel, k.cfg.MACLabel)
	}
	if b.Mechanism != pkcs11.CKM_RSA_PKCS_OAEP || len(b.KEK) == 0 || len(b.MAC) == 0 {
		return errors.New("hsm: import keys: not a key bundle of strongroom hsm kek-export")
	}
	k.ensureMu.Lock()
	defer k.ensureMu.Unlock()
	err := k.do(ctx, "import keys", func(sh pkcs11.SessionHandle, _ *keyHandles) error {
		for _, spec := range k.tokenKeys() {
			h, err := k.findKey(sh, spec)
			if err != nil {
				return err
			}
			if h != 0 {
				return fmt.Errorf("hsm: import keys: token %q already holds a %s %q; a node receives the KEK before its first init", k.cfg.TokenLabel, spec.what, spec.label)
			}
		}
		privs, err := k.findObjects(sh, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, TransportLabel),
		})
		if err != nil {
			return fmt.Errorf("hsm: import keys: find transport key: %w", err)
		}
		if len(privs) != 1 {
			return fmt.Errorf("hsm: import keys: token %q holds %d transport keys; run strongroom hsm transport-key first", k.cfg.TokenLabel, len(privs))
		}
		specs := k.tokenKeys()
		var made []pkcs11.ObjectHandle
		for i, blob := range [][]byte{b.KEK, b.MAC} {
			// SoftHSM2 2.6.1 refuses CKA_MODIFIABLE in C_UnwrapKey's
			// template (CKR_ATTRIBUTE_READ_ONLY), so the key is unwrapped
			// as a session object and copied into the token with
			// CKA_MODIFIABLE=false, which C_CopyObject may set.
			tmpl := make([]*pkcs11.Attribute, 0, len(specs[i].template)+1)
			for _, a := range exportable(specs[i].template) {
				switch a.Type {
				case pkcs11.CKA_VALUE_LEN, pkcs11.CKA_MODIFIABLE:
				case pkcs11.CKA_TOKEN:
					tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false))
				default:
					tmpl = append(tmpl, a)
				}
			}
			sess, err := k.p.UnwrapKey(sh, oaepMechanism(), privs[0], blob, tmpl)
			if err != nil {
				for _, m := range made {
					_ = k.p.DestroyObject(sh, m)
				}
				return fmt.Errorf("hsm: import keys: unwrap the %s (a bundle for another transport key?): %w", specs[i].what, err)
			}
			h, err := k.p.CopyObject(sh, sess, []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
				pkcs11.NewAttribute(pkcs11.CKA_MODIFIABLE, false),
			})
			_ = k.p.DestroyObject(sh, sess)
			if err != nil {
				for _, m := range made {
					_ = k.p.DestroyObject(sh, m)
				}
				return fmt.Errorf("hsm: import keys: store the %s in the token: %w", specs[i].what, err)
			}
			made = append(made, h)
		}
		if err := k.p.DestroyObject(sh, privs[0]); err != nil {
			k.log.Warn("hsm: could not delete the transport key", "err", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	k.log.Info("hsm: imported the KEK and MAC key", "token", k.cfg.TokenLabel, "transport_sha256", b.Transport)
	return k.findKeys(ctx)
}
