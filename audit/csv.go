package audit

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"io"
	"log/syslog"
	"os"
	"strconv"
	"sync"

	"github.com/strongroom/strongroom/storage"
)

// CSVLine is the record as one line in the style of the appliance manual's
// audit log (chapter 3):
//
//	date,time,Operation,node,client address,status,reason,
//	Operation <seq> Unique Identifier <uid> Name <name> Message <msg>,
//	user,group,Kmip,flag,seq,chain (base64)
//
// where flag is N for a successful operation and F for a failed one. Fields
// are quoted as encoding/csv does, so a comma in a name cannot shift columns.
func CSVLine(r storage.AuditRecord) string {
	t := r.Time.UTC()
	desc := fmt.Sprintf("Operation <%08x> Unique Identifier <%s> Name <%s>", r.Seq, r.UID, r.KeyName)
	if r.Message != "" {
		desc += " Message <" + r.Message + ">"
	}
	flag := "N"
	if r.Status != "Success" {
		flag = "F"
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{
		t.Format("2006-01-02"), t.Format("15:04:05.000000"), r.Operation, r.OriginNode, r.Addr, r.Status, r.Reason,
		desc, r.User, r.Group, "Kmip", flag, strconv.FormatInt(r.Seq, 10), base64.StdEncoding.EncodeToString(r.Chain),
	})
	w.Flush()
	return buf.String()
}

// FileSink appends CSV lines to a file (config audit.file). The file is a
// convenience copy for log shippers; the chained records in the database are
// the evidence.
type FileSink struct {
	mu sync.Mutex
	f  *os.File
}

// OpenFile opens (creating, mode 0600) the audit file for appending.
func OpenFile(path string) (*FileSink, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: open file: %w", err)
	}
	return &FileSink{f: f}, nil
}

// Write implements Sink.
func (s *FileSink) Write(r storage.AuditRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := io.WriteString(s.f, CSVLine(r))
	return err
}

// Close closes the file.
func (s *FileSink) Close() error { return s.f.Close() }

// SyslogSink sends each CSV line to the local syslog (config audit.syslog),
// facility AUTHPRIV, tag strongroom-audit.
type SyslogSink struct{ w *syslog.Writer }

// OpenSyslog connects to the local syslog daemon.
func OpenSyslog() (*SyslogSink, error) {
	w, err := syslog.New(syslog.LOG_AUTHPRIV|syslog.LOG_INFO, "strongroom-audit")
	if err != nil {
		return nil, fmt.Errorf("audit: syslog: %w", err)
	}
	return &SyslogSink{w: w}, nil
}

// Write implements Sink.
func (s *SyslogSink) Write(r storage.AuditRecord) error {
	line := CSVLine(r)
	if r.Status != "Success" {
		return s.w.Warning(line)
	}
	return s.w.Info(line)
}

// Close closes the connection.
func (s *SyslogSink) Close() error { return s.w.Close() }
