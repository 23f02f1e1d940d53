package ttlv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
)

// Encoding is one of the three KMIP message encodings: binary TTLV (the
// mandatory one), and the JSON and XML encodings of the KMIP Additional
// Message Encodings (MSGENC profiles), which KMIP over HTTPS carries.
type Encoding int

// The message encodings.
const (
	EncodingTTLV Encoding = iota + 1
	EncodingJSON
	EncodingXML
)

// Media types of the encodings in HTTP Content-Type headers. XML is also
// accepted as application/xml.
const (
	MediaTypeTTLV = "application/octet-stream"
	MediaTypeJSON = "application/json"
	MediaTypeXML  = "text/xml"
)

// String returns "ttlv", "json" or "xml".
func (e Encoding) String() string {
	switch e {
	case EncodingTTLV:
		return "ttlv"
	case EncodingJSON:
		return "json"
	case EncodingXML:
		return "xml"
	}
	return fmt.Sprintf("Encoding(%d)", int(e))
}

// MediaType returns the encoding's HTTP media type.
func (e Encoding) MediaType() string {
	switch e {
	case EncodingJSON:
		return MediaTypeJSON
	case EncodingXML:
		return MediaTypeXML
	}
	return MediaTypeTTLV
}

// EncodingForContentType maps an HTTP Content-Type header to an encoding.
// Parameters other than a UTF-8 charset (on JSON and XML) are refused, as
// is anything it cannot parse.
func EncodingForContentType(header string) (Encoding, bool) {
	mt, params, err := mime.ParseMediaType(header)
	if err != nil {
		return 0, false
	}
	var e Encoding
	switch mt {
	case MediaTypeTTLV:
		e = EncodingTTLV
	case MediaTypeJSON:
		e = EncodingJSON
	case MediaTypeXML, "application/xml":
		e = EncodingXML
	default:
		return 0, false
	}
	for k, v := range params {
		if k != "charset" || e == EncodingTTLV || !strings.EqualFold(v, "utf-8") {
			return 0, false
		}
	}
	return e, true
}

// Marshal encodes it in the encoding.
func (e Encoding) Marshal(it Item) ([]byte, error) {
	switch e {
	case EncodingTTLV:
		return Encode(it)
	case EncodingJSON:
		return MarshalJSON(it)
	case EncodingXML:
		return MarshalXML(it)
	}
	return nil, fmt.Errorf("ttlv: unknown encoding %d: %w", int(e), ErrInvalidItem)
}

// Decode decodes one whole message in the encoding within lim. XML values
// written as "$NAME" placeholders, which only test cases use, are refused.
func (e Encoding) Decode(data []byte, lim Limits) (Item, error) {
	switch e {
	case EncodingTTLV:
		return Decode(data, lim)
	case EncodingJSON:
		return DecodeJSON(data, lim)
	case EncodingXML:
		return DecodeXML(data, lim)
	}
	return Item{}, fmt.Errorf("ttlv: unknown encoding %d: %w", int(e), ErrMalformed)
}

// DecodeXML decodes exactly one KMIP XML element that fills data, within
// lim. Unlike UnmarshalXML it refuses placeholders: a message from a peer
// must carry real values.
func DecodeXML(data []byte, lim Limits) (Item, error) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxSize {
		return Item{}, fmt.Errorf("ttlv: xml: %d-byte message exceeds the %d-byte limit: %w", len(data), lim.MaxSize, ErrTooLarge)
	}
	d := NewXMLDecoder(bytes.NewReader(data), XMLOptions{Limits: lim})
	it, err := d.Next()
	if errors.Is(err, io.EOF) {
		return Item{}, fmt.Errorf("ttlv: xml: no element: %w", ErrMalformed)
	}
	if err != nil {
		return Item{}, err
	}
	if _, err := d.Next(); !errors.Is(err, io.EOF) {
		if err == nil {
			return Item{}, fmt.Errorf("ttlv: xml: more than one top-level element: %w", ErrMalformed)
		}
		return Item{}, err
	}
	if hasPlaceholder(it, 0) {
		return Item{}, fmt.Errorf("ttlv: xml: placeholder value in a message: %w", ErrMalformed)
	}
	return it, nil
}

func hasPlaceholder(it Item, depth int) bool {
	if _, ok := it.Value.(Placeholder); ok {
		return true
	}
	if depth > maxEncodeDepth {
		return true
	}
	for _, c := range it.Children() {
		if hasPlaceholder(c, depth+1) {
			return true
		}
	}
	return false
}
