package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync/atomic"
)

// ErrRevoked is the handshake error of a revoked client certificate.
var ErrRevoked = errors.New("server: client certificate revoked")

// Revocations is the set of revoked certificate serials (lowercase hex, as
// pki.Identity.Serial), replaced as a whole whenever the database is read
// again; handshakes read it without locking.
type Revocations struct {
	serials atomic.Pointer[map[string]bool]
}

// Set replaces the revoked serials.
func (r *Revocations) Set(serials map[string]bool) {
	cp := make(map[string]bool, len(serials))
	for s, ok := range serials {
		if ok {
			cp[s] = true
		}
	}
	r.serials.Store(&cp)
}

// Revoked reports whether cert's serial is revoked.
func (r *Revocations) Revoked(cert *x509.Certificate) bool {
	m := r.serials.Load()
	return m != nil && cert != nil && cert.SerialNumber != nil && (*m)[cert.SerialNumber.Text(16)]
}

// VerifyConnection is a tls.Config.VerifyConnection callback: it refuses a
// client whose leaf certificate is revoked. It runs after the chain has been
// verified against the CA (expired and foreign certificates never get here).
func (r *Revocations) VerifyConnection(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) > 0 && r.Revoked(cs.PeerCertificates[0]) {
		return fmt.Errorf("%w (serial %s)", ErrRevoked, cs.PeerCertificates[0].SerialNumber.Text(16))
	}
	return nil
}

// CloseWhere closes, at once, every open connection whose client
// certificate matches (for instance a revoked one), even in the middle of a
// request, and returns how many it closed.
func (s *Server) CloseWhere(match func(*x509.Certificate) bool) int {
	s.mu.Lock()
	var victims []*conn
	for c := range s.conns {
		if cert := c.peer.Load(); cert != nil && match(cert) {
			victims = append(victims, c)
		}
	}
	s.mu.Unlock()
	n := 0
	for _, c := range victims {
		c.log.Info("kmip connection closed: client certificate revoked")
		c.closeIfIdle(true)
		n++
	}
	return n
}
