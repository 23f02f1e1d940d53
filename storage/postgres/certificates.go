package postgres

import (
	"context"
	"fmt"
	"time"
)

// IssuedCertificate is one row of the certificate registry that `strongroom
// ca` keeps (issued_certificates), with its revocation if any.
type IssuedCertificate struct {
	Serial     string // lowercase hex, as pki.Identity.Serial
	Node       string // origin node
	Subject    string
	Role       string
	User       string
	Group      string
	NotBefore  time.Time
	NotAfter   time.Time
	Issuer     string
	CertPEM    string
	IssuedAt   time.Time
	Revoked    bool
	RevokedAt  time.Time
	RevokeNote string
}

// RecordCertificate adds an issued certificate to the registry; recording
// the same serial twice keeps the first row. Each node records under its own
// name (the key is serial and origin node), so mirrored copies never clash.
func (s *Store) RecordCertificate(ctx context.Context, c IssuedCertificate) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO issued_certificates
		(serial, origin_node, subject, role, user_name, group_name, not_before, not_after, issuer, cert_pem)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (serial, origin_node) DO NOTHING`,
		c.Serial, s.node, c.Subject, c.Role, c.User, c.Group, c.NotBefore, c.NotAfter, c.Issuer, c.CertPEM)
	if err != nil {
		return fmt.Errorf("storage: record certificate %s: %w", c.Serial, err)
	}
	return nil
}

// ListCertificates returns the registry, newest first, one row per serial
// (the first node's to record it).
func (s *Store) ListCertificates(ctx context.Context) ([]IssuedCertificate, error) {
	rs, err := s.pool.Query(ctx, `SELECT c.serial, c.origin_node, c.subject, c.role, c.user_name, c.group_name,
			c.not_before, c.not_after, c.issuer, c.cert_pem, c.issued_at,
			r.serial IS NOT NULL, coalesce(r.revoked_at, 'epoch'::timestamptz), coalesce(r.reason, '')
		FROM (SELECT DISTINCT ON (serial) * FROM issued_certificates ORDER BY serial, issued_at, origin_node) c
		LEFT JOIN LATERAL (SELECT serial, revoked_at, reason FROM certificate_revocations
			WHERE serial = c.serial ORDER BY revoked_at LIMIT 1) r ON true
		ORDER BY c.issued_at DESC, c.serial`)
	if err != nil {
		return nil, fmt.Errorf("storage: list certificates: %w", err)
	}
	defer rs.Close()
	var out []IssuedCertificate
	for rs.Next() {
		var c IssuedCertificate
		if err := rs.Scan(&c.Serial, &c.Node, &c.Subject, &c.Role, &c.User, &c.Group, &c.NotBefore, &c.NotAfter,
			&c.Issuer, &c.CertPEM, &c.IssuedAt, &c.Revoked, &c.RevokedAt, &c.RevokeNote); err != nil {
			return nil, fmt.Errorf("storage: list certificates: %w", err)
		}
		out = append(out, c)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("storage: list certificates: %w", err)
	}
	return out, nil
}

// RevokeCertificate records the revocation of serial by this node. Revoking
// twice is harmless. A serial the registry does not know may be revoked too
// (a certificate issued before the registry existed).
func (s *Store) RevokeCertificate(ctx context.Context, serial, reason string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO certificate_revocations (serial, origin_node, reason)
		VALUES ($1, $2, $3) ON CONFLICT (serial, origin_node) DO NOTHING`, serial, s.node, reason)
	if err != nil {
		return fmt.Errorf("storage: revoke certificate %s: %w", serial, err)
	}
	return nil
}

// RevokedSerials returns every revoked serial, whichever node revoked it.
func (s *Store) RevokedSerials(ctx context.Context) (map[string]bool, error) {
	rs, err := s.pool.Query(ctx, `SELECT DISTINCT serial FROM certificate_revocations`)
	if err != nil {
		return nil, fmt.Errorf("storage: revoked serials: %w", err)
	}
	defer rs.Close()
	out := map[string]bool{}
	for rs.Next() {
		var serial string
		if err := rs.Scan(&serial); err != nil {
			return nil, fmt.Errorf("storage: revoked serials: %w", err)
		}
		out[serial] = true
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("storage: revoked serials: %w", err)
	}
	return out, nil
}
