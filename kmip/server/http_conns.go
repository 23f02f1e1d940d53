package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
)

// httpConns tracks the HTTPS connections that completed their handshake,
// with their client certificate, so that CloseWhere can close the
// keep-alive connections of a revoked certificate; and it reports the
// connections whose handshake failed. net/http runs the handshake inside
// its own connection goroutine and only logs the error, so both are done
// from http.Server.ConnState.
type httpConns struct {
	mu    sync.Mutex
	peers map[net.Conn]*x509.Certificate
}

// connState is the http.Server.ConnState hook.
func (s *HTTPServer) connState(c net.Conn, state http.ConnState) {
	tc, ok := c.(*tls.Conn)
	if !ok {
		return
	}
	switch state {
	case http.StateActive:
		// A request has been read, so the handshake is complete.
		s.trackConn(tc)
	case http.StateClosed, http.StateHijacked:
		s.conns.mu.Lock()
		_, known := s.conns.peers[c]
		delete(s.conns.peers, c)
		s.conns.mu.Unlock()
		if !known && state == http.StateClosed {
			s.handshakeEnded(tc)
		}
	}
}

// trackConn records a connection with its client certificate on its first
// request.
func (s *HTTPServer) trackConn(tc *tls.Conn) {
	s.conns.mu.Lock()
	_, known := s.conns.peers[tc]
	s.conns.mu.Unlock()
	if known {
		return
	}
	st := tc.ConnectionState()
	if len(st.PeerCertificates) == 0 {
		return
	}
	s.conns.mu.Lock()
	if s.conns.peers == nil {
		s.conns.peers = make(map[net.Conn]*x509.Certificate)
	}
	s.conns.peers[tc] = st.PeerCertificates[0]
	s.conns.mu.Unlock()
}

// handshakeEnded reports a connection that closed without serving a
// request if its handshake failed. net/http has run the handshake by the
// time it reports StateClosed, and tls.Conn keeps its result: calling
// HandshakeContext again returns the stored error (nil if it succeeded and
// the client left without a request) without touching the network. The
// context must not be cancelled, or the call answers ctx.Err() instead.
func (s *HTTPServer) handshakeEnded(tc *tls.Conn) {
	err := tc.HandshakeContext(context.Background())
	if err == nil {
		return
	}
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing && errors.Is(err, net.ErrClosed) {
		// The server closed the connection before its handshake: no client
		// was refused.
		return
	}
	s.log.Info("kmip https TLS handshake failed", "remote", tc.RemoteAddr().String(), "err", err)
	if s.cfg.OnHandshakeError != nil {
		s.cfg.OnHandshakeError(tc.RemoteAddr(), err)
	}
}

// CloseWhere closes, at once, every open HTTPS connection whose client
// certificate matches (a revoked one), idle keep-alive connections and
// those in the middle of a request alike, and returns how many it closed.
// The client's next request needs a new handshake, which the TLS
// configuration's VerifyConnection refuses. match is kept: a connection
// that handshook before the revocation but sends its first request only
// after this call gets that request refused (see refuseRevoked).
func (s *HTTPServer) CloseWhere(match func(*x509.Certificate) bool) int {
	s.revoked.Store(&match)
	type victim struct {
		c    net.Conn
		cert *x509.Certificate
	}
	var victims []victim
	s.conns.mu.Lock()
	for c, cert := range s.conns.peers {
		if match(cert) {
			victims = append(victims, victim{c, cert})
		}
	}
	s.conns.mu.Unlock()
	for _, v := range victims {
		s.closeRevoked(v.c, v.cert)
	}
	return len(victims)
}

// closeRevoked closes the raw connection under c: tls.Conn.Close would
// first try to send close_notify, which can wait on a client that does not
// read.
func (s *HTTPServer) closeRevoked(c net.Conn, cert *x509.Certificate) {
	s.log.Info("kmip https connection closed: client certificate revoked",
		"remote", c.RemoteAddr().String(), "client_cn", cert.Subject.CommonName)
	if tc, ok := c.(*tls.Conn); ok {
		tc.NetConn().Close()
		return
	}
	c.Close()
}

// refuseRevoked answers 403 and closes the connection when the request's
// certificate matches the last CloseWhere predicate: its connection
// handshook before the revocation and sent this request after CloseWhere
// ran. The refusal is reported like a refused handshake (the audit trail's
// "TLS Handshake" record, Authentication Not Successful).
func (s *HTTPServer) refuseRevoked(w http.ResponseWriter, log *slog.Logger, peer Peer) bool {
	m := s.revoked.Load()
	if m == nil || !(*m)(peer.Certificate) {
		return false
	}
	err := fmt.Errorf("%w (serial %s)", ErrRevoked, peer.Certificate.SerialNumber.Text(16))
	log.Info("kmip https request refused; closing connection", "err", err)
	if s.cfg.OnHandshakeError != nil {
		s.cfg.OnHandshakeError(peer.Addr, err)
	}
	w.Header().Set("Connection", "close")
	httpError(w, http.StatusForbidden, "client certificate revoked")
	return true
}
