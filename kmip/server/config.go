package server

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/strongroom/strongroom/kmip/ttlv"
)

// Defaults for the zero fields of Config.
const (
	DefaultAddr = ":5696"
	// DefaultIdleTimeout is long on purpose: mongod and other KMIP clients
	// keep connections open between requests and break when a server closes
	// them after seconds.
	DefaultIdleTimeout      = 15 * time.Minute
	DefaultMaxMessageSize   = 1 << 20
	DefaultMaxDepth         = ttlv.DefaultMaxDepth
	DefaultMaxConnections   = 1024
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultWriteTimeout     = 30 * time.Second
)

// Config configures a Server. Zero fields take the defaults above.
type Config struct {
	// Addr is where ListenAndServe listens (default ":5696").
	Addr string
	// TLS must require and verify client certificates; NewTLSConfig builds
	// one. The server uses a clone.
	TLS *tls.Config
	// IdleTimeout closes a connection on which no request arrives for this
	// long. Keep it in minutes: clients keep connections between requests.
	IdleTimeout time.Duration
	// MaxMessageSize bounds a request frame, header included.
	MaxMessageSize int
	// MaxDepth bounds the nesting of structures in a request.
	MaxDepth int
	// MaxConnections bounds open client connections; connections beyond it
	// are closed as soon as they are accepted.
	MaxConnections int
	// HandshakeTimeout bounds the TLS handshake.
	HandshakeTimeout time.Duration
	// WriteTimeout bounds writing one response.
	WriteTimeout time.Duration
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
	// Handler answers the requests.
	Handler Handler
	// OnHandshakeError, when set, is told of every refused or failed TLS
	// handshake (no certificate, an unknown CA, an expired certificate...),
	// for the audit trail. It runs on the connection's goroutine.
	OnHandshakeError func(addr net.Addr, err error)
	// Observer, when set, learns of connections opened and closed and of
	// failed handshakes (metrics).
	Observer Observer
}

// withDefaults checks cfg and fills in its zero fields.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Handler == nil {
		return cfg, errors.New("server: Handler is required")
	}
	tcfg, err := checkTLSConfig(cfg.TLS)
	if err != nil {
		return cfg, err
	}
	cfg.TLS = tcfg
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.IdleTimeout < 0 || cfg.MaxMessageSize < 0 || cfg.MaxDepth < 0 || cfg.MaxConnections < 0 ||
		cfg.HandshakeTimeout < 0 || cfg.WriteTimeout < 0 {
		return cfg, errors.New("server: negative limit in Config")
	}
	setDefault(&cfg.IdleTimeout, DefaultIdleTimeout)
	setDefault(&cfg.MaxMessageSize, DefaultMaxMessageSize)
	setDefault(&cfg.MaxDepth, DefaultMaxDepth)
	setDefault(&cfg.MaxConnections, DefaultMaxConnections)
	setDefault(&cfg.HandshakeTimeout, DefaultHandshakeTimeout)
	setDefault(&cfg.WriteTimeout, DefaultWriteTimeout)
	if cfg.MaxMessageSize < headerSize {
		return cfg, errors.New("server: MaxMessageSize is smaller than a TTLV header")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Observer == nil {
		cfg.Observer = noObserver{}
	}
	return cfg, nil
}

func setDefault[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}
