// Package ops is Strongroom's KMIP operations layer: one file per operation
// (create.go, get.go, ...), the batch executor (batch.go), the object
// lifecycle (object.go, lifecycle.go) and authorization (authorize.go).
//
// It sees the HSM and the database only through hsm.Keystore and
// storage.Store, and the network only through server.Handler.
package ops

import (
	"crypto/x509"
	"log/slog"
	"time"

	"github.com/strongroom/strongroom/audit"
	"github.com/strongroom/strongroom/hsm"
	"github.com/strongroom/strongroom/kmip/server"
	"github.com/strongroom/strongroom/kmip/ttlv"
	"github.com/strongroom/strongroom/storage"
)

// Role is what a caller may do.
type Role string

// Roles (the appliance's separation of duties).
const (
	// RoleCryptoOfficer may create, register, manage and retrieve keys.
	RoleCryptoOfficer Role = "crypto-officer"
	// RoleKeyClient may retrieve and use keys.
	RoleKeyClient Role = "key-client"
	// RoleAuditor may read the audit trail and nothing else.
	RoleAuditor Role = "auditor"
)

// Caller is the authenticated identity behind a request.
type Caller struct {
	User  string // certificate CN
	Group string // certificate OU
	Role  Role
	Addr  string
	Conn  uint64
}

// Config wires a Service.
type Config struct {
	Keys   hsm.Keystore
	Store  storage.Store
	Logger *slog.Logger
	// Identify maps a verified client certificate to a caller; nil uses
	// IdentityFromCertificate.
	Identify func(cert *x509.Certificate) Caller
	// Now returns the current time; nil uses time.Now.
	Now func() time.Time
	// ServerInfo is returned by Query's server information.
	ServerInfo string
	// Vendor is the Vendor Identification returned by Query.
	Vendor string
	// Audit, when set, receives one record per batch item (audit.go).
	Audit *audit.Trail
	// FIPS refuses algorithms and mechanisms FIPS 140-3 does not approve
	// (fips.go).
	FIPS bool
	// SeparationOfDuties refuses Create, Register, Destroy and the like to
	// every certificate (separation.go).
	SeparationOfDuties bool
}

// Service answers KMIP messages. It is safe for concurrent use.
type Service struct {
	keys     hsm.Keystore
	store    storage.Store
	log      *slog.Logger
	identify func(cert *x509.Certificate) Caller
	now      func() time.Time
	info     string
	vendor   string
	audit    *audit.Trail
	fips     bool
	sod      bool
	// handlers and implemented are filled once by New and only read after.
	handlers    map[ttlv.Operation]handlerFunc
	implemented []ttlv.Operation
	// streams are the open multi-part cryptographic operations.
	streams *streamTable
	// macs are the row MACs the HSM has verified (maccache.go).
	macs *macCache
	// folds are objects already checked and folded (foldmemo.go).
	folds *foldMemo
}

var _ server.Handler = (*Service)(nil)

// New builds a Service.
func New(cfg Config) *Service {
	s := &Service{
		keys: cfg.Keys, store: cfg.Store, log: cfg.Logger,
		identify: cfg.Identify, now: cfg.Now, info: cfg.ServerInfo, vendor: cfg.Vendor, audit: cfg.Audit, sod: cfg.SeparationOfDuties,
		fips: cfg.FIPS,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.identify == nil {
		s.identify = IdentityFromCertificate
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.vendor == "" {
		s.vendor = "Strongroom"
	}
	s.streams = newStreamTable()
	s.macs = newMACCache(macCacheSize)
	s.folds = newFoldMemo(foldMemoSize)
	s.handlers = map[ttlv.Operation]handlerFunc{}
	s.registerOperations()
	return s
}

// titleOID is the X.520 title attribute, where Strongroom certificates
// carry the role.
var titleOID = [...]int{2, 5, 4, 12}

// IdentityFromCertificate reads the caller from a Strongroom client
// certificate: CN is the user, OU the group, the title attribute the role.
// A certificate without a known role gets no role and may only discover
// versions and query the server.
func IdentityFromCertificate(cert *x509.Certificate) Caller {
	if cert == nil {
		return Caller{}
	}
	c := Caller{User: cert.Subject.CommonName}
	if len(cert.Subject.OrganizationalUnit) > 0 {
		c.Group = cert.Subject.OrganizationalUnit[0]
	}
	for _, n := range cert.Subject.Names {
		if n.Type.Equal(titleOID[:]) {
			if s, ok := n.Value.(string); ok {
				switch r := Role(s); r {
				case RoleCryptoOfficer, RoleKeyClient, RoleAuditor:
					c.Role = r
				}
			}
		}
	}
	return c
}
