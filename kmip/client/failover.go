package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"
)

// DialAnyTimeout bounds the connection attempt to one server of DialAny's
// list, so that a server that accepts TCP but never completes the
// handshake does not keep the client from the next one.
const DialAnyTimeout = 5 * time.Second

// SplitAddrs splits a comma-separated server list ("a:5696,b:5696", as
// mongod's kmipServerName takes it), trimming blanks and dropping empty
// entries.
func SplitAddrs(s string) []string {
	var out []string
	for a := range strings.SplitSeq(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// DialAny connects to the first server of addrs that completes the TLS
// handshake, trying them in order, each within DialAnyTimeout (and ctx):
// failover at connect time, as mongod does with a list of KMIP servers. It
// returns the connection and the address that answered. Once connected,
// the client stays with that server; a caller that loses it dials again.
// When every server fails, the error names each address and its failure.
func DialAny(ctx context.Context, addrs []string, cfg *tls.Config) (*Conn, string, error) {
	if len(addrs) == 0 {
		return nil, "", errors.New("client: no server address given")
	}
	var errs []error
	for _, addr := range addrs {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		actx, cancel := context.WithTimeout(ctx, DialAnyTimeout)
		conn, err := Dial(actx, addr, cfg)
		cancel()
		if err == nil {
			return conn, addr, nil
		}
		errs = append(errs, err)
	}
	return nil, "", fmt.Errorf("client: no server of %d answered: %w", len(addrs), errors.Join(errs...))
}
