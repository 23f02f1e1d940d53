package softhsmtests

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/audit"
	"github.com/strongroom/strongroom/internal/pki"
	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/client"
	"github.com/strongroom/strongroom/kmip/ttlv"
	"github.com/strongroom/strongroom/storage"
)

// records reads every audit record of the stack's node.
func (s *stack) records(t *testing.T) []storage.AuditRecord {
	t.Helper()
	recs, err := s.store.ListAudit(ctxT(t), storage.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// findRecord returns the first record matching op, user and status.
func findRecord(recs []storage.AuditRecord, op, user, status, reason string) (storage.AuditRecord, bool) {
	for _, r := range recs {
		if r.Operation == op && r.User == user && r.Status == status && r.Reason == reason {
			return r, true
		}
	}
	return storage.AuditRecord{}, false
}

// foreignTLS is a client configuration whose certificate comes from
// another CA (nil cert: no client certificate at all).
func (s *stack) foreignTLS(t *testing.T, withCert bool) *tls.Config {
	t.Helper()
	base := s.tlsConfig(t, "admin")
	cfg := &tls.Config{RootCAs: base.RootCAs, ServerName: base.ServerName, MinVersion: tls.VersionTLS12}
	if !withCert {
		return cfg
	}
	other, err := pki.CreateCA("other", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, k, err := other.IssueClient("intruder", "crypto-officers", pki.RoleCryptoOfficer, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(c, k)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Certificates = []tls.Certificate{pair}
	return cfg
}

// TestAuditTrail: allowed and refused operations and refused handshakes
// each leave one record, the chain verifies in the HSM, records hold no key
// material, and tampering with the rows in SQL is found and named.
func TestAuditTrail(t *testing.T) {
	s := newStack(t)
	ctx := ctxT(t)
	v := kmip.ProtocolVersion{Major: 1, Minor: 2}
	admin := s.dial(t, "admin", v)
	uid, err := admin.CreateAES(ctx, 256)
	if err != nil {
		t.Fatal(err)
	}
	key, err := admin.GetKey(ctx, uid)
	if err != nil {
		t.Fatal(err)
	}
	kc := s.dial(t, "client", v)
	if _, err := kc.CreateAES(ctx, 256); !isReason(err, ttlv.ResultReasonPermissionDenied) {
		t.Fatalf("key client create: %v", err)
	}
	if err := kc.Destroy(ctx, uid); !isReason(err, ttlv.ResultReasonPermissionDenied) {
		t.Fatalf("key client destroy: %v", err)
	}
	au := s.dial(t, "auditor", v)
	if _, err := au.GetKey(ctx, uid); !isReason(err, ttlv.ResultReasonPermissionDenied) {
		t.Fatalf("auditor get: %v", err)
	}
	if _, err := au.Do(ctx, ttlv.OperationEncrypt, ttlv.Struct(ttlv.TagRequestPayload,
		ttlv.Text(ttlv.TagUniqueIdentifier, uid), ttlv.Bytes(ttlv.TagData, []byte("x")))); !isReason(err, ttlv.ResultReasonPermissionDenied) {
		t.Fatalf("auditor encrypt: %v", err)
	}
	for _, withCert := range []bool{true, false} {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		conn, err := client.Dial(dctx, s.addr, s.foreignTLS(t, withCert))
		cancel()
		if err == nil {
			// TLS 1.3: the client may finish before the server refuses.
			_, err = client.New(conn, v).Do(ctx, ttlv.OperationQuery, ttlv.Struct(ttlv.TagRequestPayload))
			conn.Close()
		}
		if err == nil {
			t.Fatalf("handshake with a foreign certificate (%v) succeeded", withCert)
		}
	}

	var recs []storage.AuditRecord
	waitFor(t, 10*time.Second, "two refused handshakes in the audit trail", func() error {
		recs = s.records(t)
		n := 0
		for _, r := range recs {
			if r.Operation == "TLS Handshake" && r.Reason == "Authentication Not Successful" {
				n++
			}
		}
		if n < 2 {
			return fmt.Errorf("%d handshake records", n)
		}
		return nil
	})
	denied := "Permission Denied"
	failed := ttlv.ResultStatusOperationFailed.String()
	for _, want := range []struct{ op, user, status, reason, uid string }{
		{"Create", "admin", "Success", "", uid},
		{"Get", "admin", "Success", "", uid},
		{"Create", "client", failed, denied, ""},
		{"Destroy", "client", failed, denied, uid},
		{"Get", "auditor", failed, denied, uid},
		{"Encrypt", "auditor", failed, denied, uid},
	} {
		r, ok := findRecord(recs, want.op, want.user, want.status, want.reason)
		if !ok {
			t.Errorf("no audit record of %s by %s (%s %s)", want.op, want.user, want.status, want.reason)
			continue
		}
		// Sealed (an HMAC-SHA-256) or, when it shared a group commit with
		// later records, linked (audit/link.go).
		if r.UID != want.uid || r.OriginNode != "node1" || r.Addr == "" || (len(r.Chain) != 32 && !audit.IsLinked(r.Chain)) {
			t.Errorf("record of %s by %s: uid %q node %q addr %q chain %d bytes", want.op, want.user, r.UID, r.OriginNode, r.Addr, len(r.Chain))
		}
	}
	for _, r := range recs {
		line := []byte(audit.CSVLine(r) + r.Message + r.KeyName)
		if bytes.Contains(line, key) {
			t.Fatal("an audit record holds the key material")
		}
	}
	mustVerify := func() []audit.Report {
		t.Helper()
		reps, err := audit.Verify(ctx, s.keys, s.records(t))
		if err != nil {
			t.Fatal(err)
		}
		if len(reps) != 1 {
			t.Fatalf("%d chains, want 1", len(reps))
		}
		return reps
	}
	if p := mustVerify()[0].Problem; p != nil {
		t.Fatalf("untouched trail: %v", p)
	}

	// The database owner (or a superuser) can turn the guard off; the
	// chain still tells.
	_, exec := s.sql(t)
	exec(`ALTER TABLE audit_records DISABLE TRIGGER audit_records_guard`)
	exec(`ALTER TABLE audit_records DROP CONSTRAINT audit_records_pkey`)
	tampers := []struct {
		name, kind      string
		seq             int64
		tamper, restore string
	}{
		{"altered", audit.Altered, 3,
			`UPDATE audit_records SET user_name = 'somebody' WHERE seq = 3`,
			`UPDATE audit_records SET user_name = (SELECT user_name FROM saved) WHERE seq = 3`},
		{"deleted", audit.Deleted, 4,
			`DELETE FROM audit_records WHERE seq = 3`,
			`INSERT INTO audit_records SELECT * FROM saved`},
		{"inserted", audit.Inserted, 3,
			`INSERT INTO audit_records SELECT origin_node, seq, at, 'Destroy', uid, key_name, user_name, group_name, addr, status, reason, message, chain FROM saved`,
			`DELETE FROM audit_records WHERE seq = 3 AND operation = 'Destroy'`},
		{"reordered", audit.Reordered, 3,
			`UPDATE audit_records SET seq = CASE seq WHEN 3 THEN 4 ELSE 3 END WHERE seq IN (3, 4)`,
			`UPDATE audit_records SET seq = CASE seq WHEN 3 THEN 4 ELSE 3 END WHERE seq IN (3, 4)`},
	}
	exec(`CREATE TEMP TABLE saved AS SELECT * FROM audit_records WHERE seq = 3`)
	for _, tt := range tampers {
		exec(tt.tamper)
		p := mustVerify()[0].Problem
		if p == nil || p.Kind != tt.kind || p.Seq != tt.seq {
			t.Errorf("%s: verify found %v, want %s at record %d", tt.name, p, tt.kind, tt.seq)
		}
		exec(tt.restore)
		if p := mustVerify()[0].Problem; p != nil {
			t.Fatalf("after undoing %s: %v", tt.name, p)
		}
	}
	if !strings.Contains(audit.CSVLine(recs[0]), ",Kmip,") {
		t.Errorf("CSV line %q is not in the manual's style", audit.CSVLine(recs[0]))
	}
}
