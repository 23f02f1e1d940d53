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
type step func(ctx context.Context, cl *client.Client, i int) error

// fixture is what the set-up made for the workers: one key per worker,
// named so that Locate finds exactly it.
type fixture struct {
	uids  []string
	names []string
}

// prepare creates what op needs (one AES-256 key per worker, activated for
// the operations that need an Active key) and returns the measured step.
func prepare(ctx context.Context, cl *client.Client, op string, workers int) (step, error) {
	needKeys, activate := true, false
	switch op {
	case "create":
		needKeys = false
	case "encrypt", "mongod":
		activate = true
	case "get", "locate", "get-attributes":
	default:
		return nil, fmt.Errorf("kmipbench: unknown operation %q (one of %v)", op, Ops)
	}
	var fx fixture
	if needKeys {
		tag := make([]byte, 6)
		if _, err := rand.Read(tag); err != nil {
			return nil, err
		}
		for i := range workers {
			name := fmt.Sprintf("strongroom-bench-%x-%d", tag, i)
			uid, err := cl.CreateAES(ctx, 256, client.NameAttr(name))
			if err != nil {
				return nil, fmt.Errorf("kmipbench: create the key to %s: %w", op, err)
			}
			if activate {
				if err := cl.Activate(ctx, uid); err != nil {
					return nil, fmt.Errorf("kmipbench: activate the key to %s: %w", op, err)
				}
			}
			fx.uids = append(fx.uids, uid)
			fx.names = append(fx.names, name)
		}
	}
	switch op {
	case "create":
		return func(ctx context.Context, cl *client.Client, _ int) error {
			_, err := cl.CreateAES(ctx, 256)
			return err
		}, nil
	case "get":
		return fx.get, nil
	case "encrypt":
		return fx.encrypt, nil
	case "locate":
		return fx.locate, nil
	case "get-attributes":
		return func(ctx context.Context, cl *client.Client, i int) error {
			_, err := fx.state(ctx, cl, i)
			return err
		}, nil
	default: // mongod
		return fx.mongod, nil
	}
}

// get fetches the worker's key and checks it is 32 bytes, without keeping
// or printing it.
func (fx *fixture) get(ctx context.Context, cl *client.Client, i int) error {
	k, err := cl.GetKey(ctx, fx.uids[i])
	n := len(k)
	clear(k)
	if err == nil && n != 32 {
		err = fmt.Errorf("kmipbench: get returned %d bytes, want 32", n)
	}
	return err
}

// state reads the State attribute the way mongod does (KMIP 1.x name form in
// 1.x, a reference in 2.x).
func (fx *fixture) state(ctx context.Context, cl *client.Client, i int) (uint32, error) {
	attrs, err := cl.GetAttributes(ctx, fx.uids[i], "State")
	if err != nil {
		return 0, err
	}
	for _, a := range attrs {
		if v, ok := a.Value.EnumValue(); ok && (a.Name == "State" || a.Value.Tag == ttlv.TagState) {
			return v, nil
		}
	}
	return 0, fmt.Errorf("kmipbench: get attributes %s: no State in the response", fx.uids[i])
}

// mongod is what mongod does at every start with a configured key:
// Get(UID), then Get Attributes(State), which must say Active.
func (fx *fixture) mongod(ctx context.Context, cl *client.Client, i int) error {
	if err := fx.get(ctx, cl, i); err != nil {
		return err
	}
	st, err := fx.state(ctx, cl, i)
	if err == nil && st != uint32(ttlv.StateActive) {
		err = fmt.Errorf("kmipbench: key %s is in state %d, not Active", fx.uids[i], st)
	}
	return err
}

// locate finds the worker's key by its Name.
func (fx *fixture) locate(ctx context.Context, cl *client.Client, i int) error {
	uids, err := cl.Locate(ctx, -1, client.NameAttr(fx.names[i]))
	if err != nil {
		return err
	}
	if len(uids) != 1 || uids[0] != fx.uids[i] {
		return fmt.Errorf("kmipbench: locate %s found %d objects", fx.names[i], len(uids))
	}
	return nil
}

// encryptData is 32 bytes of plaintext (mongod's audit log encrypts a
// 32-byte key), with explicit AES-CBC/PKCS#5 parameters and an IV, which
// every server accepts (PyKMIP requires Cryptographic Parameters).
var encryptData = make([]byte, 32)

func (fx *fixture) encrypt(ctx context.Context, cl *client.Client, i int) error {
	iv := make([]byte, 16)
	if _, err := rand.Read(iv); err != nil {
		return err
	}
	p := ttlv.Struct(ttlv.TagRequestPayload,
		ttlv.Text(ttlv.TagUniqueIdentifier, fx.uids[i]),
		ttlv.Struct(ttlv.TagCryptographicParameters,
			ttlv.Enum(ttlv.TagBlockCipherMode, uint32(ttlv.BlockCipherModeCBC)),
			ttlv.Enum(ttlv.TagPaddingMethod, uint32(ttlv.PaddingMethodPKCS5)),
			ttlv.Enum(ttlv.TagCryptographicAlgorithm, uint32(ttlv.CryptographicAlgorithmAES))),
		ttlv.Bytes(ttlv.TagData, encryptData),
		ttlv.Bytes(ttlv.TagIVCounterNonce, iv))
	resp, err := cl.Do(ctx, ttlv.OperationEncrypt, p)
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
