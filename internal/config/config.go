// Package config reads Strongroom's configuration file (JSON).
//
// JSON keeps the server free of another parser dependency; the file is small
// and written once by `strongroom init`. Secrets are never inline: the token
// PIN comes from a file or an environment variable, and private keys from
// PEM files of mode 0600.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config is the whole configuration of one Strongroom node.
type Config struct {
	// Node names this server in a mirrored set; it is written into every
	// database row the node creates and must never change.
	Node string `json:"node"`
	// Listen is the KMIP TLS address, e.g. "0.0.0.0:5696".
	Listen string `json:"listen"`
	// HTTPSListen is the address of KMIP over HTTPS (POST /kmip with TTLV,
	// JSON or XML bodies; same certificates and client authentication as
	// Listen), e.g. "127.0.0.1:5697". Empty (the default) turns it off.
	HTTPSListen string `json:"https_listen,omitempty"`
	// HealthListen is the plain-HTTP address of the load balancers' health
	// check (GET /health: 200 while the token, the database and the KMIP
	// listener all work, else 503), e.g. "127.0.0.1:5698". It is
	// unauthenticated and shows node and replication figures, so keep it on
	// loopback or a management network. Empty (the default) turns it off.
	HealthListen string `json:"health_listen,omitempty"`
	// MetricsListen is the plain-HTTP address of the Prometheus endpoint
	// (GET /metrics), e.g. "127.0.0.1:9696". Unauthenticated: keep it on
	// loopback or a management network. Empty (the default) turns it off.
	MetricsListen string `json:"metrics_listen,omitempty"`
	// FIPS makes serve refuse to start unless Go's FIPS 140-3 module is
	// enabled (GODEBUG=fips140=on), restricts TLS to approved versions,
	// groups and suites, and refuses non-approved algorithms in KMIP
	// operations (as serve --fips).
	FIPS bool `json:"fips,omitempty"`
	// ServerName is the name clients use (mongod's --kmipServerName); it is
	// in the server certificate.
	ServerName string `json:"server_name"`
	// IdleTimeout closes connections idle longer than this ("15m").
	IdleTimeout Duration `json:"idle_timeout"`
	// MaxMessageSize bounds one KMIP request in bytes.
	MaxMessageSize int `json:"max_message_size"`
	// MaxConnections bounds concurrent client connections.
	MaxConnections int `json:"max_connections"`

	TLS      TLS      `json:"tls"`
	Database Database `json:"database"`
	HSM      HSM      `json:"hsm"`
	// Admin is the Crypto Officer certificate the administrator's commands
	// (`strongroom key ...`) present to the server.
	Admin ClientCert `json:"admin"`
	// Replication tunes mirroring between nodes; optional.
	Replication Replication `json:"replication,omitzero"`
	// Audit says where audit records go besides the database; optional.
	Audit Audit `json:"audit,omitzero"`
	// SeparationOfDuties refuses KMIP Create, Register and Destroy to every
	// certificate; `strongroom key ...` then works on the database and the
	// HSM directly, on the server (the manual's NOTE in chapter 3).
	SeparationOfDuties bool `json:"separation_of_duties,omitempty"`
}

// Audit configures the copies of the audit trail (package audit). The
// chained records in PostgreSQL are always written; these are for people
// and log shippers.
type Audit struct {
	// File, when set, receives one CSV line per record (mode 0600).
	File string `json:"file,omitempty"`
	// Syslog sends each line to the local syslog too (facility authpriv).
	Syslog bool `json:"syslog,omitempty"`
}

// Replication tunes mirroring (package replication). Zero values mean the
// package defaults.
type Replication struct {
	// AdminURL is a superuser connection to this node's database, used by
	// `strongroom mirror add|remove` (CREATE SUBSCRIPTION needs a superuser
	// on PostgreSQL 15); the serving role keeps using database.url. It holds
	// a password: the file is 0600.
	AdminURL string `json:"admin_url,omitempty"`
	// HeartbeatInterval is how often serve updates this node's heartbeat.
	HeartbeatInterval Duration `json:"heartbeat_interval,omitzero"`
	// ScrubInterval is how often serve scrubs blobs of keys that a peer
	// destroyed.
	ScrubInterval Duration `json:"scrub_interval,omitzero"`
}

// ClientCert names a client certificate and its key.
type ClientCert struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

// TLS names the PEM files of the KMIP listener.
type TLS struct {
	CA   string `json:"ca"`   // CA certificate(s) client certificates must chain to
	Cert string `json:"cert"` // server certificate
	Key  string `json:"key"`  // server private key (mode 0600)
	// CAKeyLabel is the CKA_LABEL of the CA key in the token (default
	// "strongroom-ca"); used when no CA key file sits beside CA.
	CAKeyLabel string `json:"ca_key_label,omitempty"`
	// KeyInHSM keeps the server's TLS private key in the token (label
	// "strongroom-tls"); Key is then unused and no key file exists.
	KeyInHSM bool `json:"key_in_hsm,omitempty"`
}

// Database says where PostgreSQL is.
type Database struct {
	URL string `json:"url"`
	// ObjectCacheSize is how many objects serve keeps in memory between
	// reads (wrapped rows, never key material; storage/postgres/cache.go);
	// 0 means the default (16384), a negative value turns the cache off.
	ObjectCacheSize int `json:"object_cache_size,omitempty"`
}

// HSM says which PKCS#11 token to use.
type HSM struct {
	Module        string `json:"module"`
	TokenLabel    string `json:"token_label"`
	PINFile       string `json:"pin_file,omitempty"`
	PINEnv        string `json:"pin_env,omitempty"`
	KEKLabel      string `json:"kek_label,omitempty"`
	MACLabel      string `json:"mac_label,omitempty"`
	WrapMechanism uint   `json:"wrap_mechanism,omitempty"`
	Sessions      int    `json:"sessions,omitempty"`
	// KeyCacheSize and KeyCacheTTL bound the keys a Get leaves unwrapped
	// inside the token for the next Get of the same key (defaults 1024 and
	// 30s; a negative value turns the cache off). See hsm/pkcs11's
	// unwrapcache.go.
	KeyCacheSize int      `json:"key_cache_size,omitempty"`
	KeyCacheTTL  Duration `json:"key_cache_ttl,omitzero"`
	// SoftHSM2Conf, when set, is exported as SOFTHSM2_CONF before the module
	// is loaded (development and tests).
	SoftHSM2Conf string `json:"softhsm2_conf,omitempty"`
	// KEKExportable makes init create the KEK and MAC key so that the KEK
	// ceremony (strongroom hsm kek-export) can send them, wrapped, to a
	// mirrored node's token: extractable only under a key the token's SO
	// marks trusted. It matters only when the keys are created.
	KEKExportable bool `json:"kek_exportable,omitempty"`
}

// Duration is a time.Duration written as "15m" in JSON.
type Duration struct{ time.Duration }

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads "15m", "90s", ...
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"15m\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// Defaults fills unset fields.
func (c *Config) Defaults() {
	if c.Node == "" {
		c.Node = "node1"
	}
	if c.Listen == "" {
		c.Listen = "0.0.0.0:5696"
	}
	if c.ServerName == "" {
		c.ServerName = "akmmongo"
	}
	if c.IdleTimeout.Duration == 0 {
		c.IdleTimeout.Duration = 15 * time.Minute
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = 1 << 20
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = 1024
	}
	if c.HSM.KEKLabel == "" {
		c.HSM.KEKLabel = "strongroom-kek"
	}
	if c.HSM.MACLabel == "" {
		c.HSM.MACLabel = "strongroom-mac"
	}
	if c.HSM.WrapMechanism == 0 {
		c.HSM.WrapMechanism = 0x210A // CKM_AES_KEY_WRAP_PAD
	}
	if c.HSM.Sessions == 0 {
		c.HSM.Sessions = 4
	}
}

// Validate reports the first missing or unusable setting.
func (c *Config) Validate() error {
	var errs []error
	if c.IdleTimeout.Duration < time.Minute {
		errs = append(errs, errors.New("idle_timeout must be at least 1m: clients such as mongod keep connections open"))
	}
	if c.TLS.CA == "" || c.TLS.Cert == "" || c.TLS.Key == "" {
		errs = append(errs, errors.New("tls.ca, tls.cert and tls.key are required"))
	}
	if c.Database.URL == "" {
		errs = append(errs, errors.New("database.url is required"))
	}
	if c.HSM.Module == "" || c.HSM.TokenLabel == "" {
		errs = append(errs, errors.New("hsm.module and hsm.token_label are required"))
	}
	if c.HSM.PINFile == "" && c.HSM.PINEnv == "" {
		errs = append(errs, errors.New("hsm.pin_file or hsm.pin_env is required (the PIN is never read from the command line)"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// PIN reads the token PIN from the environment variable or the file.
func (h HSM) PIN() (string, error) {
	if h.PINEnv != "" {
		if v, ok := os.LookupEnv(h.PINEnv); ok && v != "" {
			return v, nil
		}
		if h.PINFile == "" {
			return "", fmt.Errorf("config: environment variable %s holding the token PIN is not set", h.PINEnv)
		}
	}
	b, err := os.ReadFile(h.PINFile)
	if err != nil {
		return "", fmt.Errorf("config: read token PIN file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// Load reads a configuration file, applies defaults and resolves relative
// paths against the file's folder.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var c Config
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	c.Defaults()
	base := filepath.Dir(path)
	for _, p := range []*string{&c.TLS.CA, &c.TLS.Cert, &c.TLS.Key, &c.HSM.PINFile, &c.HSM.SoftHSM2Conf, &c.Admin.Cert, &c.Admin.Key} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	return &c, nil
}

// Save writes the configuration with mode 0600.
func (c *Config) Save(path string) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}
