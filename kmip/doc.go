// Package kmip holds the KMIP message model shared by the server, the
// operations layer and the client: protocol versions, request and response
// messages with their batch items, result codes, and the canonical form of
// attributes with its KMIP 1.x and 2.x encodings (KMIP 1.4 §2.1.1 Attribute,
// KMIP 2.1 §2.1.1 Attributes).
//
// It knows nothing of TLS, HSMs or storage. Payloads stay as ttlv.Items;
// each operation handler in kmip/ops reads the fields it needs.
package kmip
