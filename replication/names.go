package replication

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// publicationPrefix starts the name of every node's publication.
const publicationPrefix = "strongroom_"

// nodeName is the origin_node rule of the schema's CHECK constraints; the
// publication name must also fit PostgreSQL's 63-byte identifiers.
var nodeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

// checkNode refuses names the schema would refuse or that would not give a
// whole publication name.
func checkNode(node string) error {
	if !nodeName.MatchString(node) {
		return fmt.Errorf("replication: node name %q: want 1 to 63 letters, digits, '_', '.' or '-', starting with a letter or digit", node)
	}
	if len(publicationPrefix)+len(node) > 63 {
		return fmt.Errorf("replication: node name %q is longer than %d bytes", node, 63-len(publicationPrefix))
	}
	return nil
}

// publicationName is the publication through which node publishes its own
// rows.
func publicationName(node string) string { return publicationPrefix + node }

// peerOfPublication is the node that publishes pub, or "" if pub is not a
// Strongroom publication.
func peerOfPublication(pub string) string {
	if p, ok := strings.CutPrefix(pub, publicationPrefix); ok && checkNode(p) == nil {
		return p
	}
	return ""
}

// subscriptionName is the name of local's subscription to peer, which is
// also the name of its replication slot on peer. Slot names allow only
// lowercase letters, digits and '_', and every subscriber of one publisher
// needs its own slot there, so the name holds both nodes, folded to that
// alphabet, plus a hash of the exact pair that keeps folded names apart
// ("A" and "a", "x.y" and "x_y").
func subscriptionName(local, peer string) string {
	sum := sha256.Sum256([]byte(local + "\x00" + peer))
	return "strongroom_" + fold(local, 18) + "_from_" + fold(peer, 18) + "_" + hex.EncodeToString(sum[:4])
}

// fold maps a node name to at most n characters of [a-z0-9_].
func fold(s string, n int) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s) && len(b) < n; i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
		default:
			c = '_'
		}
		b = append(b, c)
	}
	return string(b)
}

// quoteIdent quotes an SQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// quoteLiteral quotes an SQL string literal (standard_conforming_strings is
// on in every supported PostgreSQL).
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
