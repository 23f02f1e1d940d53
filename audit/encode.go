package audit

import (
	"encoding/binary"

	"github.com/strongroom/strongroom/storage"
)

// encodingVersion starts every canonical encoding, so that a future change
// of the fields cannot be confused with this one.
const encodingVersion = "strongroom-audit-v1"

// Encode is the canonical encoding the chain MAC covers: the record's
// fields, each length-prefixed so no two records encode alike, then the
// previous chain value. Changing any field, or the record's place in the
// chain, changes the MAC.
func Encode(r storage.AuditRecord, prev []byte) []byte {
	b := make([]byte, 0, 256)
	field := func(s []byte) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	field([]byte(encodingVersion))
	field([]byte(r.OriginNode))
	b = binary.BigEndian.AppendUint64(b, uint64(r.Seq))
	b = binary.BigEndian.AppendUint64(b, uint64(r.Time.UTC().UnixMicro()))
	for _, s := range []string{r.Operation, r.UID, r.KeyName, r.User, r.Group, r.Addr, r.Status, r.Reason, r.Message} {
		field([]byte(s))
	}
	field(prev)
	return b
}
