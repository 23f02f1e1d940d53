package conformance

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/strongroom/strongroom/kmip/ttlv"
)

// Step is one exchange of a test case: a request and the response it must
// get. Index counts steps from 0 in file order.
type Step struct {
	Index    int
	Request  ttlv.Item
	Expected ttlv.Item
}

// Case is a decoded test case file.
type Case struct {
	Steps []Step
}

// maxCaseSize bounds one message of a test case file; the largest OASIS
// messages (certificates, RSA keys) are a few kilobytes.
const maxCaseSize = 4 << 20

// LoadFile reads a test case file.
func LoadFile(path string) (*Case, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("conformance: %w", err)
	}
	defer f.Close()
	return Load(f)
}

// Load decodes a test case: alternating RequestMessage and ResponseMessage
// elements in the KMIP XML encoding, optionally inside a <KMIP> root.
// Placeholder values ("$NOW", "$UNIQUE_IDENTIFIER_0") are kept as they are;
// the runner resolves them while it runs the case.
func Load(r io.Reader) (*Case, error) {
	d := ttlv.NewXMLDecoder(r, ttlv.XMLOptions{Limits: ttlv.Limits{MaxSize: maxCaseSize}})
	var c Case
	var pending *ttlv.Item
	for {
		it, err := d.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("conformance: %w", err)
		}
		switch it.Tag {
		case ttlv.TagRequestMessage:
			if pending != nil {
				return nil, fmt.Errorf("conformance: message %d: request message without a response before it", 2*len(c.Steps)+1)
			}
			pending = &it
		case ttlv.TagResponseMessage:
			if pending == nil {
				return nil, fmt.Errorf("conformance: message %d: response message without a request", 2*len(c.Steps)+1)
			}
			c.Steps = append(c.Steps, Step{Index: len(c.Steps), Request: *pending, Expected: it})
			pending = nil
		default:
			return nil, fmt.Errorf("conformance: message %d: <%s> is neither RequestMessage nor ResponseMessage", 2*len(c.Steps)+1, it.Tag.XMLName())
		}
	}
	if pending != nil {
		return nil, errors.New("conformance: last request message has no response")
	}
	if len(c.Steps) == 0 {
		return nil, errors.New("conformance: no request message")
	}
	return &c, nil
}
