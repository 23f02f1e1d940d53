package ops

import (
	"crypto/x509"
	"fmt"
	"math/big"
	"testing"

	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// TestDSAPublicSPKI checks that the SubjectPublicKeyInfo written for a DSA
// public key is what crypto/x509 reads as one, and that it reads back to
// the same key in both formats Get offers.
func TestDSAPublicSPKI(t *testing.T) {
	hex := func(s string) *big.Int {
		v, ok := new(big.Int).SetString(s, 16)
		if !ok {
			t.Fatalf("bad hex %q", s)
		}
		return v
	}
	// BL-M-12-21's key.
	k := &dsaPublicKey{
		P: hex("fca682ce8e12caba26efccf7110e526db078b05edecbcd1eb4a208f3ae1617ae01f35b91a47e6df63413c5e12ed0899bcd132acd50d99151bdc43ee737592e17"),
		Q: hex("962eddcc369cba8ebb260ee6b6a126d9346e38c5"),
		G: hex("678471b27a9cf44ee91a49c5147db1a9aaf244f05a434d6486931d2d14271b9e35030b71fd73da179069b32e2935630e1c2062354d0da20a6c416e50be794ca4"),
		Y: hex("b3cb74d988dea7160a64a4edbb7f70404fa4c08a4208c19d76357a6a9df200cce79faecb22e3419be9b01128cbd998a2d9307101705e4a952462f34728ac5fcf"),
	}
	der, err := marshalPublic(k)
	if err != nil {
		t.Fatal(err)
	}
	std, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		t.Fatalf("crypto/x509 rejects the SPKI: %v", err)
	}
	if got := fmt.Sprintf("%T", std); got != "*dsa.PublicKey" {
		t.Fatalf("crypto/x509 reads a %s", got)
	}
	back, err := parsePublicDER(der)
	if err != nil {
		t.Fatal(err)
	}
	b, ok := back.(*dsaPublicKey)
	if !ok || b.P.Cmp(k.P) != 0 || b.Q.Cmp(k.Q) != 0 || b.G.Cmp(k.G) != 0 || b.Y.Cmp(k.Y) != 0 {
		t.Fatalf("read back %+v", back)
	}
	alg, bits, err := keyFacts(b)
	if err != nil || alg != ttlv.CryptographicAlgorithmDSA || bits != 512 {
		t.Fatalf("keyFacts = %s %d %v", alg, bits, err)
	}
	for _, f := range []ttlv.KeyFormatType{ttlv.KeyFormatTypeTransparentDSAPublicKey, ttlv.KeyFormatTypeX509} {
		km, err := encodeKey(b, f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if f == ttlv.KeyFormatTypeTransparentDSAPublicKey {
			got, err := parseTransparentDSAPublic(km)
			if err != nil || got.Y.Cmp(k.Y) != 0 {
				t.Fatalf("%s: %v", f, err)
			}
		}
	}
	if _, err := encodeKey(b, ttlv.KeyFormatTypePKCS1); err == nil {
		t.Fatal("PKCS#1 of a DSA key was accepted")
	}
	// Other keys are not taken for DSA.
	if _, ok, _ := parseDSASPKI([]byte{0x30, 0x00}); ok {
		t.Fatal("an empty SEQUENCE parsed as DSA")
	}
}

// TestDSAPrivatePKCS8 checks the private key's PKCS#8 round trip and its
// Get formats (BL-M-13-21's key).
func TestDSAPrivatePKCS8(t *testing.T) {
	hex := func(s string) *big.Int {
		v, ok := new(big.Int).SetString(s, 16)
		if !ok {
			t.Fatalf("bad hex %q", s)
		}
		return v
	}
	km := ttlv.Struct(ttlv.TagKeyMaterial,
		ttlv.Big(ttlv.TagP, hex("fca682ce8e12caba26efccf7110e526db078b05edecbcd1eb4a208f3ae1617ae01f35b91a47e6df63413c5e12ed0899bcd132acd50d99151bdc43ee737592e17")),
		ttlv.Big(ttlv.TagQ, hex("962eddcc369cba8ebb260ee6b6a126d9346e38c5")),
		ttlv.Big(ttlv.TagG, hex("678471b27a9cf44ee91a49c5147db1a9aaf244f05a434d6486931d2d14271b9e35030b71fd73da179069b32e2935630e1c2062354d0da20a6c416e50be794ca4")),
		ttlv.Big(ttlv.TagX, hex("095411d740d2443fa3f97d1ed9a0411bb45e7131")))
	k, err := parseTransparentDSAPrivate(km)
	if err != nil {
		t.Fatal(err)
	}
	der, err := marshalPrivate(k)
	if err != nil {
		t.Fatal(err)
	}
	back, err := parsePrivateDER(der)
	if err != nil {
		t.Fatal(err)
	}
	got, err := encodeKey(back, ttlv.KeyFormatTypeTransparentDSAPrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	if !equalItems(got, km) {
		t.Fatal("the Transparent DSA Private Key read back differs")
	}
	if alg, bits, err := keyFacts(back); err != nil || alg != ttlv.CryptographicAlgorithmDSA || bits != 512 {
		t.Fatalf("keyFacts = %s %d %v", alg, bits, err)
	}
	if keyKindOf(ttlv.CryptographicAlgorithmDSA, ttlv.ObjectTypePrivateKey) != hsm.KindDSAPrivate {
		t.Fatal("a DSA private key is not of kind KindDSAPrivate")
	}
	// Out of range private values are refused.
	bad := ttlv.Struct(ttlv.TagKeyMaterial,
		ttlv.Big(ttlv.TagP, k.P), ttlv.Big(ttlv.TagQ, k.Q), ttlv.Big(ttlv.TagG, k.G), ttlv.Big(ttlv.TagX, k.Q))
	if _, err := parseTransparentDSAPrivate(bad); err == nil {
		t.Fatal("X = Q was accepted")
	}
}
