package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/big"
	"testing"
)

func TestRevocations(t *testing.T) {
	var r Revocations
	cert := func(serial int64) *x509.Certificate { return &x509.Certificate{SerialNumber: big.NewInt(serial)} }
	state := func(c *x509.Certificate) tls.ConnectionState {
		return tls.ConnectionState{PeerCertificates: []*x509.Certificate{c}}
	}
	if r.Revoked(cert(0xabc)) || r.VerifyConnection(state(cert(0xabc))) != nil {
		t.Fatal("an empty list revoked a certificate")
	}
	r.Set(map[string]bool{"abc": true, "def": false})
	tests := []struct {
		serial  int64
		revoked bool
	}{{0xabc, true}, {0xdef, false}, {0x1, false}}
	for _, tt := range tests {
		if got := r.Revoked(cert(tt.serial)); got != tt.revoked {
			t.Errorf("Revoked(%x) = %v, want %v", tt.serial, got, tt.revoked)
		}
		err := r.VerifyConnection(state(cert(tt.serial)))
		if (err != nil) != tt.revoked || (err != nil && !errors.Is(err, ErrRevoked)) {
			t.Errorf("VerifyConnection(%x) = %v", tt.serial, err)
		}
	}
	if r.Revoked(&x509.Certificate{}) {
		t.Error("a certificate without a serial was revoked")
	}
}
