package kmipbench

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/client"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// Ops are the operations the benchmark knows. Each uses only requests and
// attributes that KMIP 1.0–1.4 servers commonly accept (PyKMIP's included),
// so that the same run measures any server.
var Ops = []string{"get", "create", "encrypt", "locate", "get-attributes", "mongod"}

// step is one measured operation on worker i's connection.
type step func(ctx context.Context, c *conn, i int) error

// conn is one connection of the benchmark: the KMIP client, and under it
// the TLS connection, to which the Get sends its pre-encoded requests.
type conn struct {
	*client.Client
	raw *client.Conn
}

// fixture is what the set-up made for the workers: keys named so that
// Locate finds exactly one, at least one per worker. Worker i uses keys i,
// i+workers, i+2·workers, ... in turn (next[i] is where it is), so that
// with more keys than the server caches, Gets miss its caches.
type fixture struct {
	uids    []string
	names   []string
	workers int
	next    []int
	// gets are the Get requests of the keys, encoded once: the bytes
	// Client.GetKey would send each time (a Get request varies only by its
	// Unique Identifier), so that the load generator spends nothing per
	// operation on building and encoding them.
	gets [][]byte
}

// key returns the index of the key worker i uses next. Only worker i
// touches next[i].
func (fx *fixture) key(i int) int {
	k := i + fx.next[i]*fx.workers
	if k >= len(fx.uids) {
		k, fx.next[i] = i, 0
	}
	fx.next[i]++
	return k
}

// prepare creates what the mix needs (AES-256 keys, max(keys, workers) of
// them, activated when an operation needs an Active key) and returns the
// measured step of each of its operations, in the mix's order.
func prepare(ctx context.Context, cl *client.Client, m mix, workers, keys int) ([]step, error) {
	fx := fixture{workers: workers, next: make([]int, workers)}
	if m.usesKeys() {
		tag := make([]byte, 6)
		if _, err := rand.Read(tag); err != nil {
			return nil, err
		}
		for i := range max(keys, workers) {
			name := fmt.Sprintf("strongroom-bench-%x-%d", tag, i)
			uid, err := cl.CreateAES(ctx, 256, client.NameAttr(name))
			if err != nil {
				return nil, fmt.Errorf("kmipbench: create the key to %s: %w", m, err)
			}
			if m.needsActive() {
				if err := cl.Activate(ctx, uid); err != nil {
					return nil, fmt.Errorf("kmipbench: activate the key to %s: %w", m, err)
				}
			}
			fx.uids = append(fx.uids, uid)
			fx.names = append(fx.names, name)
			req, err := ttlv.Encode(kmip.NewRequest(cl.Version(), kmip.RequestItem{
				Operation: ttlv.OperationGet,
				Payload:   ttlv.Struct(ttlv.TagRequestPayload, ttlv.Text(ttlv.TagUniqueIdentifier, uid)),
			}))
			if err != nil {
				return nil, fmt.Errorf("kmipbench: encode the Get request: %w", err)
			}
			fx.gets = append(fx.gets, req)
		}
	}
	steps := make([]step, len(m))
	for i, e := range m {
		steps[i] = fx.step(e.op)
	}
	return steps, nil
}

// step returns op's measured step (op is one of Ops).
func (fx *fixture) step(op string) step {
	switch op {
	case "create":
		return func(ctx context.Context, c *conn, _ int) error {
			_, err := c.CreateAES(ctx, 256)
			return err
		}
	case "get":
		return fx.get
	case "encrypt":
		return fx.encrypt
	case "locate":
		return fx.locate
	case "get-attributes":
		return func(ctx context.Context, c *conn, i int) error {
			_, err := fx.state(ctx, c, fx.key(i))
			return err
		}
	default: // mongod
		return fx.mongod
	}
}

// get fetches the worker's key and checks it is 32 bytes, without keeping
// or printing it.
func (fx *fixture) get(ctx context.Context, c *conn, i int) error {
	return fx.getKey(ctx, c, fx.key(i))
}

// getKey fetches key k (an index into fx.uids): its pre-encoded request,
// and a check of the response in place (checkGet), which holds it to what
// Client.GetKey would have.
func (fx *fixture) getKey(ctx context.Context, c *conn, k int) error {
	return c.raw.Exchange(ctx, fx.gets[k], func(frame []byte) error { return checkGet(frame, 32) })
}

// state reads the State attribute the way mongod does (KMIP 1.x name form in
// 1.x, a reference in 2.x).
func (fx *fixture) state(ctx context.Context, c *conn, k int) (uint32, error) {
	attrs, err := c.GetAttributes(ctx, fx.uids[k], "State")
	if err != nil {
		return 0, err
	}
	for _, a := range attrs {
		if v, ok := a.Value.EnumValue(); ok && (a.Name == "State" || a.Value.Tag == ttlv.TagState) {
			return v, nil
		}
	}
	return 0, fmt.Errorf("kmipbench: get attributes %s: no State in the response", fx.uids[k])
}

// mongod is what mongod does at every start with a configured key:
// Get(UID), then Get Attributes(State), which must say Active.
func (fx *fixture) mongod(ctx context.Context, c *conn, i int) error {
	k := fx.key(i)
	if err := fx.getKey(ctx, c, k); err != nil {
		return err
	}
	st, err := fx.state(ctx, c, k)
	if err == nil && st != uint32(ttlv.StateActive) {
		err = fmt.Errorf("kmipbench: key %s is in state %d, not Active", fx.uids[k], st)
	}
	return err
}

// locate finds the worker's key by its Name.
func (fx *fixture) locate(ctx context.Context, c *conn, i int) error {
	k := fx.key(i)
	uids, err := c.Locate(ctx, -1, client.NameAttr(fx.names[k]))
	if err != nil {
		return err
	}
	if len(uids) != 1 || uids[0] != fx.uids[k] {
		return fmt.Errorf("kmipbench: locate %s found %d objects", fx.names[k], len(uids))
	}
	return nil
}

// encryptData is 32 bytes of plaintext (mongod's audit log encrypts a
// 32-byte key), with explicit AES-CBC/PKCS#5 parameters and an IV, which
// every server accepts (PyKMIP requires Cryptographic Parameters).
var encryptData = make([]byte, 32)

func (fx *fixture) encrypt(ctx context.Context, c *conn, i int) error {
	k := fx.key(i)
	iv := make([]byte, 16)
	if _, err := rand.Read(iv); err != nil {
		return err
	}
	p := ttlv.Struct(ttlv.TagRequestPayload,
		ttlv.Text(ttlv.TagUniqueIdentifier, fx.uids[k]),
		ttlv.Struct(ttlv.TagCryptographicParameters,
			ttlv.Enum(ttlv.TagBlockCipherMode, uint32(ttlv.BlockCipherModeCBC)),
			ttlv.Enum(ttlv.TagPaddingMethod, uint32(ttlv.PaddingMethodPKCS5)),
			ttlv.Enum(ttlv.TagCryptographicAlgorithm, uint32(ttlv.CryptographicAlgorithmAES))),
		ttlv.Bytes(ttlv.TagData, encryptData),
		ttlv.Bytes(ttlv.TagIVCounterNonce, iv))
	resp, err := c.Do(ctx, ttlv.OperationEncrypt, p)
	if err != nil {
		return err
	}
	d, ok := resp.Find(ttlv.TagData)
	if b, _ := d.BytesValue(); !ok || len(b) != 48 {
		return fmt.Errorf("kmipbench: encrypt returned %d bytes of ciphertext, want 48", len(b))
	}
	return nil
}

// ParseVersion reads "1.2" into a protocol version the client supports.
func ParseVersion(s string) (kmip.ProtocolVersion, error) {
	var v kmip.ProtocolVersion
	if _, err := fmt.Sscanf(s, "%d.%d", &v.Major, &v.Minor); err != nil || !v.Supported() {
		return v, fmt.Errorf("kmipbench: unsupported KMIP version %q", s)
	}
	return v, nil
}
