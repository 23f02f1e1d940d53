package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
)

// Two kinds of chain value. A sealed record's Chain is the HSM's
// HMAC-SHA-256 over Encode(record, previous Chain), 32 bytes. A linked
// record's Chain is linkTag followed by the SHA-256 of the same encoding,
// 33 bytes, computed in software: anyone can compute it, so on its own it
// proves nothing, but the next record's encoding covers it, and so on up to
// the next sealed record, whose HMAC only the HSM can compute.
//
// The group-commit writer (writer.go) links every record of a batch it
// stores in one transaction except the batch's last, which it seals: one HSM
// MAC per commit instead of one per record, which had been a fifth of the
// server's CPU per Get and kept the single writer goroutine busy in the
// token. Every transaction therefore ends its part of the chain with a
// sealed record, and a valid chain always ends with one.
//
// Why the trail stays tamper-evident. Suppose Verify accepts a chain: every
// link recomputes, every HMAC matches, sequence numbers run 1..n and record
// n is sealed. Record n's HMAC is an HSM output the writer made, so record n
// is a genuine record with its genuine predecessor value. That value is
// either an HMAC (the predecessor is genuine in turn) or a link, which by
// SHA-256's collision resistance only the genuine predecessor record, with
// its own genuine predecessor value, hashes to. Backwards by induction,
// every record is genuine and in place: the accepted chain is the genuine
// chain or a prefix of it ending at a sealed record. In particular
//   - altering a linked record changes its link, so either the next record
//     no longer chains onto it or, if the links are recomputed, the next
//     sealed record's HMAC no longer matches;
//   - turning a sealed record into a linked one changes its value (33 bytes
//     instead of the HMAC) and cascades the same way up to a sealed record
//     that no longer matches or, if every later record is turned into a
//     link too, to the chain's end, which must be sealed;
//   - deleting the sealed end of a batch leaves a chain ending in a link;
//   - deleting whole batches at the end leaves a shorter valid chain, as
//     deleting the newest records always did: the anchor (anchor.go) finds
//     that, and a tamperer can now cut the chain only at a sealed record,
//     not at any record.
//
// What is lost is the place: when a tamperer recomputes the links, Verify
// finds the break at the next sealed record, not at the altered one; the
// records linked before it are covered only by its HMAC.
//
// The trail must never chain new records onto a linked record it did not
// write itself: its seal would cover, and so vouch for, whatever a
// tamperer had appended. Open and the re-read after a failed write
// therefore refuse a stored chain that ends in a link (ErrUnsealedEnd).
//
// Encode is not given another version tag for links: a link and a seal of
// the same encoding are different functions (SHA-256 and HMAC-SHA-256 under
// a key the tamperer lacks), the stored value's length and tag say which one
// Verify recomputes, and the HMAC's security does not depend on the
// SHA-256 of its input staying secret. A 33-byte value starting with
// linkTag is never an HSM seal (sealAfter refuses one), and any other value
// is checked as an HMAC, so a link cannot pass for a seal or the reverse.

// linkTag starts a linked chain value.
const linkTag = 0x01

// linkLen is a linked chain value's length: the tag and a SHA-256.
const linkLen = 1 + sha256.Size

// ErrUnsealedEnd means the stored chain ends in a linked record: its sealed
// successor was deleted, or the record was forged. The trail does not
// continue such a chain, since its next seal would cover the record.
var ErrUnsealedEnd = errors.New("audit: the chain ends in a linked record no HSM MAC covers (its sealed successor was deleted, or it was forged); run `strongroom audit verify`")

// IsLinked reports whether chain is a linked chain value (checked by
// recomputing its SHA-256) rather than a sealed one (an HSM HMAC).
func IsLinked(chain []byte) bool { return len(chain) == linkLen && chain[0] == linkTag }

// link is the linked chain value of a record's canonical encoding.
func link(encoding []byte) []byte {
	sum := sha256.Sum256(encoding)
	return append([]byte{linkTag}, sum[:]...)
}

// linkMatches reports, in constant time, whether chain is the link of
// encoding.
func linkMatches(encoding, chain []byte) bool { return hmac.Equal(link(encoding), chain) }
