package client

import (
	"context"
	"fmt"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// Client speaks KMIP operations over one connection in one protocol
// version. It is what the administrator's CLI and the tests use.
type Client struct {
	conn    RoundTripper
	version kmip.ProtocolVersion
}

// New wraps a connection: a *Conn (TLS) or an *HTTPConn (HTTPS).
func New(conn RoundTripper, v kmip.ProtocolVersion) *Client { return &Client{conn: conn, version: v} }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Version is the protocol version the client sends.
func (c *Client) Version() kmip.ProtocolVersion { return c.version }

// Do sends one operation and returns its Response Payload; a failed batch
// item comes back as a *kmip.Error.
func (c *Client) Do(ctx context.Context, op ttlv.Operation, payload ttlv.Item) (ttlv.Item, error) {
	msg := kmip.NewRequest(c.version, kmip.RequestItem{Operation: op, Payload: payload})
	raw, err := c.conn.RoundTrip(ctx, msg)
	if err != nil {
		return ttlv.Item{}, err
	}
	resp, err := kmip.ParseResponse(raw)
	if err != nil {
		return ttlv.Item{}, fmt.Errorf("client: %s: %w", op, err)
	}
	if len(resp.Items) != 1 {
		return ttlv.Item{}, fmt.Errorf("client: %s: expected one batch item, got %d", op, len(resp.Items))
	}
	it := resp.Items[0]
	if it.Status != ttlv.ResultStatusSuccess {
		return ttlv.Item{}, &kmip.Error{Reason: it.Reason, Message: it.Message}
	}
	if it.Payload == nil {
		return ttlv.Struct(ttlv.TagResponsePayload), nil
	}
	return *it.Payload, nil
}

// attrsPayload adds attributes in the client version's form.
func (c *Client) attrsPayload(p ttlv.Item, attrs []kmip.Attribute) ttlv.Item {
	if c.version.V2() {
		return p.Append(kmip.EncodeAttributes(c.version, attrs)...)
	}
	ta := ttlv.Struct(ttlv.TagTemplateAttribute)
	return p.Append(ta.Append(kmip.EncodeAttributes(c.version, attrs)...))
}

// NameAttr is a Name attribute of type Uninterpreted Text String.
func NameAttr(name string) kmip.Attribute {
	return kmip.Attr(ttlv.Struct(ttlv.TagName,
		ttlv.Text(ttlv.TagNameValue, name),
		ttlv.Enum(ttlv.TagNameType, uint32(ttlv.NameTypeUninterpretedTextString))))
}

// CreateAES creates an AES key of the given size with Encrypt|Decrypt usage
// and optional extra attributes; it returns the Unique Identifier.
func (c *Client) CreateAES(ctx context.Context, bits int32, extra ...kmip.Attribute) (string, error) {
	attrs := append([]kmip.Attribute{
		kmip.Attr(ttlv.Enum(ttlv.TagCryptographicAlgorithm, uint32(ttlv.CryptographicAlgorithmAES))),
		kmip.Attr(ttlv.Int(ttlv.TagCryptographicLength, bits)),
		kmip.Attr(ttlv.Int(ttlv.TagCryptographicUsageMask, int32(ttlv.CryptographicUsageMaskEncrypt|ttlv.CryptographicUsageMaskDecrypt))),
	}, extra...)
	p := ttlv.Struct(ttlv.TagRequestPayload, ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeSymmetricKey)))
	resp, err := c.Do(ctx, ttlv.OperationCreate, c.attrsPayload(p, attrs))
	if err != nil {
		return "", err
	}
	return uidOf(resp)
}

// RegisterAES registers raw AES key bytes with Encrypt|Decrypt usage.
func (c *Client) RegisterAES(ctx context.Context, key []byte, extra ...kmip.Attribute) (string, error) {
	attrs := append([]kmip.Attribute{
		kmip.Attr(ttlv.Enum(ttlv.TagCryptographicAlgorithm, uint32(ttlv.CryptographicAlgorithmAES))),
		kmip.Attr(ttlv.Int(ttlv.TagCryptographicLength, int32(len(key)*8))),
		kmip.Attr(ttlv.Int(ttlv.TagCryptographicUsageMask, int32(ttlv.CryptographicUsageMaskEncrypt|ttlv.CryptographicUsageMaskDecrypt))),
	}, extra...)
	p := ttlv.Struct(ttlv.TagRequestPayload, ttlv.Enum(ttlv.TagObjectType, uint32(ttlv.ObjectTypeSymmetricKey)))
	p = c.attrsPayload(p, attrs)
	p = p.Append(ttlv.Struct(ttlv.TagSymmetricKey, ttlv.Struct(ttlv.TagKeyBlock,
		ttlv.Enum(ttlv.TagKeyFormatType, uint32(ttlv.KeyFormatTypeRaw)),
		ttlv.Struct(ttlv.TagKeyValue, ttlv.Bytes(ttlv.TagKeyMaterial, key)),
		ttlv.Enum(ttlv.TagCryptographicAlgorithm, uint32(ttlv.CryptographicAlgorithmAES)),
		ttlv.Int(ttlv.TagCryptographicLength, int32(len(key)*8)))))
	resp, err := c.Do(ctx, ttlv.OperationRegister, p)
	if err != nil {
		return "", err
	}
	return uidOf(resp)
}

// GetKey returns the raw key material of a symmetric key or secret data.
// The caller owns the plaintext and must not log it.
func (c *Client) GetKey(ctx context.Context, uid string) ([]byte, error) {
	resp, err := c.Do(ctx, ttlv.OperationGet, ttlv.Struct(ttlv.TagRequestPayload, ttlv.Text(ttlv.TagUniqueIdentifier, uid)))
	if err != nil {
		return nil, err
	}
	if b, ok := RawKeyMaterial(resp); ok {
		return b, nil
	}
	return nil, fmt.Errorf("client: get %s: response holds no raw key material", uid)
}

// RawKeyMaterial finds the raw key material of a Get response payload's
// Symmetric Key or Secret Data.
func RawKeyMaterial(payload ttlv.Item) ([]byte, bool) {
	for _, objTag := range []ttlv.Tag{ttlv.TagSymmetricKey, ttlv.TagSecretData} {
		if obj, ok := payload.Find(objTag); ok {
			kb, _ := obj.Find(ttlv.TagKeyBlock)
			kv, _ := kb.Find(ttlv.TagKeyValue)
			km, _ := kv.Find(ttlv.TagKeyMaterial)
			if b, ok := km.BytesValue(); ok {
				return b, true
			}
		}
	}
	return nil, false
}

// simple sends an operation whose request and response carry only a
// Unique Identifier.
func (c *Client) simple(ctx context.Context, op ttlv.Operation, uid string, extra ...ttlv.Item) error {
	p := ttlv.Struct(ttlv.TagRequestPayload, ttlv.Text(ttlv.TagUniqueIdentifier, uid)).Append(extra...)
	_, err := c.Do(ctx, op, p)
	return err
}

// Activate activates an object.
func (c *Client) Activate(ctx context.Context, uid string) error {
	return c.simple(ctx, ttlv.OperationActivate, uid)
}

// Revoke revokes an object with a reason code and message.
func (c *Client) Revoke(ctx context.Context, uid string, code ttlv.RevocationReasonCode, message string) error {
	rr := ttlv.Struct(ttlv.TagRevocationReason, ttlv.Enum(ttlv.TagRevocationReasonCode, uint32(code)))
	if message != "" {
		rr = rr.Append(ttlv.Text(ttlv.TagRevocationMessage, message))
	}
	return c.simple(ctx, ttlv.OperationRevoke, uid, rr)
}

// Destroy destroys an object.
func (c *Client) Destroy(ctx context.Context, uid string) error {
	return c.simple(ctx, ttlv.OperationDestroy, uid)
}

// GetAttributes returns the named attributes (all when none are named).
func (c *Client) GetAttributes(ctx context.Context, uid string, names ...string) ([]kmip.Attribute, error) {
	p := ttlv.Struct(ttlv.TagRequestPayload, ttlv.Text(ttlv.TagUniqueIdentifier, uid))
	for _, n := range names {
		if c.version.V2() {
			tag, ok := ttlv.TagByName(n)
			if !ok {
				return nil, fmt.Errorf("client: unknown attribute %q", n)
			}
			p = p.Append(ttlv.Enum(ttlv.TagAttributeReference, uint32(tag)))
		} else {
			p = p.Append(ttlv.Text(ttlv.TagAttributeName, n))
		}
	}
	resp, err := c.Do(ctx, ttlv.OperationGetAttributes, p)
	if err != nil {
		return nil, err
	}
	if a, ok := resp.Find(ttlv.TagAttributes); ok {
		return kmip.ParseAttributes2(a)
	}
	var out []kmip.Attribute
	for _, it := range resp.FindAll(ttlv.TagAttribute) {
		a, err := kmip.ParseAttribute1(it)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Locate returns the identifiers of objects matching every attribute;
// maxItems < 0 means no limit.
func (c *Client) Locate(ctx context.Context, maxItems int32, attrs ...kmip.Attribute) ([]string, error) {
	p := ttlv.Struct(ttlv.TagRequestPayload)
	if maxItems >= 0 {
		p = p.Append(ttlv.Int(ttlv.TagMaximumItems, maxItems))
	}
	if len(attrs) > 0 {
		p = p.Append(kmip.EncodeAttributes(c.version, attrs)...)
	}
	resp, err := c.Do(ctx, ttlv.OperationLocate, p)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, u := range resp.FindAll(ttlv.TagUniqueIdentifier) {
		s, _ := u.TextValue()
		out = append(out, s)
	}
	return out, nil
}

func uidOf(payload ttlv.Item) (string, error) {
	u, ok := payload.Find(ttlv.TagUniqueIdentifier)
	if !ok {
		return "", fmt.Errorf("client: response has no unique identifier")
	}
	s, _ := u.TextValue()
	return s, nil
}
