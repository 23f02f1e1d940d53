package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// File names in the certificates folder that `strongroom init` fills; the
// development scripts (deploy/dev) and the documentation rely on them.
const (
	FileCA          = "ca.pem"          // CA certificate (mongod's --kmipServerCAFile)
	FileCAKey       = "ca-key.pem"      // CA private key, while it is not in the HSM
	FileServerCert  = "server-cert.pem" // KMIP server certificate
	FileServerKey   = "server-key.pem"  // KMIP server private key
	FileAdminCert   = "admin-cert.pem"  // Crypto Officer certificate
	FileAdminKey    = "admin-key.pem"   // Crypto Officer private key
	FileAdminPEM    = "admin.pem"       // both, the manual's AKMAdminCertificateAndPrivateKey.pem
	FileClientCert  = "client-cert.pem" // key-client certificate
	FileClientKey   = "client-key.pem"  // key-client private key
	FileClientPEM   = "client.pem"      // both in one file
	fileTempPattern = ".tmp-*"
)

// CertKeyFiles names the three files WriteCertKeySet writes for base:
// "<base>-cert.pem", "<base>-key.pem" and "<base>.pem" (certificate then key).
func CertKeyFiles(base string) (cert, key, combined string) {
	return base + "-cert.pem", base + "-key.pem", base + ".pem"
}

// CombinedPEM returns the certificate followed by the private key in one PEM
// document, the form mongod's --kmipClientCertificateFile takes.
func CombinedPEM(certPEM, keyPEM []byte) []byte {
	out := make([]byte, 0, len(certPEM)+len(keyPEM)+1)
	out = append(out, certPEM...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return append(out, keyPEM...)
}

// WriteCertKeySet writes a certificate and its key into dir as the three
// files of CertKeyFiles(base), each of mode 0600.
func WriteCertKeySet(dir, base string, certPEM, keyPEM []byte) error {
	c, k, both := CertKeyFiles(base)
	return WritePEMFiles(dir, map[string][]byte{c: certPEM, k: keyPEM, both: CombinedPEM(certPEM, keyPEM)})
}

// WritePEMFiles writes each file (name → content) into dir, creating dir with
// mode 0700 if needed. Every file gets mode 0600 and is written atomically: a
// temporary file in dir, synced, then renamed over the target, so a crash
// never leaves a truncated key. Certificates get 0600 too: they are not
// secret, but one mode for the whole folder is simpler to audit (the manual
// asks for chmod 600 on it). Names must be plain file names.
func WritePEMFiles(dir string, files map[string][]byte) error {
	for name := range files {
		if name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") {
			return fmt.Errorf("pki: %q is not a plain file name", name)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	for name, data := range files {
		if err := writeFileAtomic(filepath.Join(dir, name), data); err != nil {
			return err
		}
	}
	return nil
}

// writeFileAtomic replaces path with data, mode 0600.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, fileTempPattern)
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	// CreateTemp already uses 0600; Chmod makes it independent of that detail.
	if err = f.Chmod(0o600); err != nil {
		_ = f.Close()
		return fmt.Errorf("pki: %w", err)
	}
	if _, err = f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("pki: sync %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("pki: close %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	// Make the rename itself durable.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

func encodeCertPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// encodeKeyPEM writes a private key as PKCS#8 ("PRIVATE KEY"), which Go,
// OpenSSL (mongod) and Python's ssl module all read.
func encodeKeyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseCertificatePEM returns the first certificate in a PEM document.
func ParseCertificatePEM(data []byte) (*x509.Certificate, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("pki: no CERTIFICATE block in PEM data")
		}
		if b.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("pki: parse certificate: %w", err)
			}
			return c, nil
		}
	}
}

// ParsePrivateKeyPEM returns the first private key in a PEM document
// (PKCS#8 or SEC 1 "EC PRIVATE KEY"). Errors never quote key bytes.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("pki: no private key block in PEM data")
		}
		switch b.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, errors.New("pki: malformed PKCS#8 private key")
			}
			s, ok := k.(crypto.Signer)
			if !ok {
				return nil, fmt.Errorf("pki: unsupported private key type %T", k)
			}
			return s, nil
		case "EC PRIVATE KEY":
			k, err := x509.ParseECPrivateKey(b.Bytes)
			if err != nil {
				return nil, errors.New("pki: malformed EC private key")
			}
			return k, nil
		}
	}
}
