package ops

import (
	"context"
	"crypto/x509"
	"fmt"

	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// createKeyPair handles Create Key Pair (KMIP 1.4 §4.2, 2.1 §6.1.12): the
// pair is generated in the HSM, the private key leaves it only wrapped
// under the KEK, the public key is stored too, and each names the other
// with a Link. The ID Placeholder becomes the private key's identifier.
func (s *Service) createKeyPair(ctx context.Context, r *request, p ttlv.Item) (ttlv.Item, error) {
	cr, err := s.cryptor(ttlv.OperationCreateKeyPair)
	if err != nil {
		return ttlv.Item{}, err
	}
	if err := checkProtectionStorage(p); err != nil {
		return ttlv.Item{}, err
	}
	common, err := s.pairAttrs(ctx, r, p, ttlv.TagCommonAttributes, ttlv.TagCommonTemplateAttribute)
	if err != nil {
		return ttlv.Item{}, err
	}
	privA, err := s.pairAttrs(ctx, r, p, ttlv.TagPrivateKeyAttributes, ttlv.TagPrivateKeyTemplateAttribute)
	if err != nil {
		return ttlv.Item{}, err
	}
	pubA, err := s.pairAttrs(ctx, r, p, ttlv.TagPublicKeyAttributes, ttlv.TagPublicKeyTemplateAttribute)
	if err != nil {
		return ttlv.Item{}, err
	}
	// KMIP 1.4 §4.2: a Private or Public Key attribute (explicit, then via
	// its templates) takes precedence over a Common one (explicit, then via
	// templates); multi-instance attributes are the union.
	privT, err := checkTemplate(mergeAttrs(common, privA), ttlv.ObjectTypePrivateKey)
	if err != nil {
		return ttlv.Item{}, err
	}
	pubT, err := checkTemplate(mergeAttrs(common, pubA), ttlv.ObjectTypePublicKey)
	if err != nil {
		return ttlv.Item{}, err
	}
	if privT.algorithm != pubT.algorithm || privT.length != pubT.length {
		return ttlv.Item{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "the private and public key templates disagree on algorithm or length")
	}
	spec, err := pairSpec(privT)
	if err != nil {
		return ttlv.Item{}, err
	}
	if err := s.fipsApproved(privT.algorithm, int32(spec.Bits)); err != nil {
		return ttlv.Item{}, err
	}
	defaultUsage(privT, ttlv.CryptographicUsageMaskSign)
	defaultUsage(pubT, ttlv.CryptographicUsageMaskVerify)
	kp, err := cr.GenerateKeyPair(ctx, spec)
	if err != nil {
		return ttlv.Item{}, s.hsmError("", err)
	}
	pubKey, err := x509.ParsePKIXPublicKey(kp.Public)
	if err != nil {
		return ttlv.Item{}, fmt.Errorf("ops: create key pair: public key from the HSM: %w", err)
	}
	alg := privT.algorithm
	if alg == ttlv.CryptographicAlgorithmECDSA {
		alg = ttlv.CryptographicAlgorithmEC
	}
	pubFormat := defaultAsymFormat(alg, ttlv.ObjectTypePublicKey)
	pubDigest, err := keyDigest(pubKey, pubFormat)
	if err != nil {
		return ttlv.Item{}, err
	}
	pubW, err := s.keys.ImportWrapped(ctx, hsm.KindGeneric, kp.Public)
	if err != nil {
		return ttlv.Item{}, fmt.Errorf("ops: create key pair: store public key: %w", err)
	}
	rng := kmip.Attr(ttlv.Struct(ttlv.TagRandomNumberGenerator, ttlv.Enum(ttlv.TagRNGAlgorithm, uint32(ttlv.RNGAlgorithmUnspecified))))
	privFormat := defaultAsymFormat(alg, ttlv.ObjectTypePrivateKey)
	// No Digest on the private key: computing it needs the key's value
	// outside the HSM (SoftHSM2 refuses C_DigestKey on private keys), and a
	// key born in the HSM never leaves it for that.
	privUID, err := s.insert(ctx, ttlv.ObjectTypePrivateKey, privT, kp.Private, []kmip.Attribute{
		kmip.Attr(ttlv.Enum(ttlv.TagKeyFormatType, uint32(privFormat))), rng,
	})
	if err != nil {
		return ttlv.Item{}, err
	}
	pubUID, err := s.insert(ctx, ttlv.ObjectTypePublicKey, pubT, pubW, []kmip.Attribute{
		kmip.Attr(ttlv.Enum(ttlv.TagKeyFormatType, uint32(pubFormat))), pubDigest, rng,
		linkAttr(ttlv.LinkTypePrivateKeyLink, privUID),
	})
	if err != nil {
		return ttlv.Item{}, err
	}
	priv, err := s.load(ctx, privUID)
	if err != nil {
		return ttlv.Item{}, err
	}
	if err := s.appendChanges(ctx, priv, change{eventSet, []kmip.Attribute{linkAttr(ttlv.LinkTypePublicKeyLink, pubUID)}}); err != nil {
		return ttlv.Item{}, err
	}
	*r.placeholder = privUID
	return ttlv.Struct(ttlv.TagResponsePayload,
		ttlv.Text(ttlv.TagPrivateKeyUniqueIdentifier, privUID),
		ttlv.Text(ttlv.TagPublicKeyUniqueIdentifier, pubUID)), nil
}

// pairAttrs reads one of the three attribute sets of a Create Key Pair in
// its 2.x or 1.x form, with the templates it names applied.
func (s *Service) pairAttrs(ctx context.Context, r *request, p ttlv.Item, v2, v1 ttlv.Tag) ([]kmip.Attribute, error) {
	if a, ok := p.Find(v2); ok {
		return kmip.ParseAttributes2(a)
	}
	if t, ok := p.Find(v1); ok {
		ta, err := kmip.ParseTemplateAttribute(t)
		if err != nil {
			return nil, err
		}
		return s.expandTemplates(ctx, r, ta)
	}
	return nil, nil
}

// pairSpec maps the template to what the HSM generates: RSA of the given
// length, or an EC key on the curve of the domain parameters or length.
func pairSpec(t *template) (hsm.KeyPairSpec, error) {
	switch t.algorithm {
	case ttlv.CryptographicAlgorithmRSA:
		switch t.length {
		case 2048, 3072, 4096:
			return hsm.KeyPairSpec{Kind: hsm.KindRSAPrivate, Bits: int(t.length)}, nil
		}
		return hsm.KeyPairSpec{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "RSA Cryptographic Length must be 2048, 3072 or 4096")
	case ttlv.CryptographicAlgorithmEC, ttlv.CryptographicAlgorithmECDSA:
		curve := map[int32]string{256: "P-256", 384: "P-384", 521: "P-521"}[t.length]
		for _, a := range t.attrs {
			if a.Value.Tag != ttlv.TagCryptographicDomainParameters || a.Custom() {
				continue
			}
			if rc, ok := a.Value.Find(ttlv.TagRecommendedCurve); ok {
				v, _ := rc.EnumValue()
				c, err := curveOf(ttlv.RecommendedCurve(v))
				if err != nil {
					return hsm.KeyPairSpec{}, err
				}
				curve = c.Params().Name
			}
		}
		if curve == "" {
			return hsm.KeyPairSpec{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "EC key pairs need a curve: P-256, P-384 or P-521")
		}
		if t.length == 0 {
			t.length = map[string]int32{"P-256": 256, "P-384": 384, "P-521": 521}[curve]
		}
		return hsm.KeyPairSpec{Kind: hsm.KindECPrivate, Curve: curve}, nil
	case 0:
		return hsm.KeyPairSpec{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "Create Key Pair needs a Cryptographic Algorithm")
	}
	return hsm.KeyPairSpec{}, kmip.Errorf(ttlv.ResultReasonInvalidField, "Create Key Pair supports RSA and EC; got %s", t.algorithm)
}

// defaultUsage gives a key pair half without a usage mask the one its
// role implies (Create's default, Encrypt|Decrypt, fits neither half).
func defaultUsage(t *template, m ttlv.CryptographicUsageMask) {
	if t.hasUsage {
		return
	}
	t.usage, t.hasUsage = int32(m), true
	t.attrs = append(t.attrs, kmip.Attr(ttlv.Int(ttlv.TagCryptographicUsageMask, int32(m))))
}

// linkAttr is a Link attribute.
func linkAttr(lt ttlv.LinkType, uid string) kmip.Attribute {
	return kmip.Attr(ttlv.Struct(ttlv.TagLink,
		ttlv.Enum(ttlv.TagLinkType, uint32(lt)),
		ttlv.Text(ttlv.TagLinkedObjectIdentifier, uid)))
}
