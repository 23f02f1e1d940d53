package ttlv

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const vectorDir = "/work/shared/kmip-vectors"

func vectorFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, v := range []string{"v1.4", "v2.1"} {
		m, _ := filepath.Glob(filepath.Join(vectorDir, v, "*", "*.xml"))
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Skipf("no OASIS test vectors under %s", vectorDir)
	}
	return files
}

// substitute fills the OASIS placeholders with fixed values of the right
// type, so that vectors can be encoded.
func substitute(tag Tag, typ Type, raw string) (any, bool) {
	switch typ {
	case TypeDateTime:
		return time.Unix(1700000000, 0).UTC(), true
	case TypeByteString:
		return []byte(raw), true
	}
	return nil, false
}

// TestXMLVectors parses every OASIS test case, then checks that each
// message survives XML and binary round trips unchanged.
func TestXMLVectors(t *testing.T) {
	var failures, messages int
	for _, f := range vectorFiles(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d := NewXMLDecoder(bytes.NewReader(data), XMLOptions{Placeholders: substitute})
		n := 0
		for {
			it, err := d.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				failures++
				t.Errorf("%s: message %d: %v", filepath.Base(f), n, err)
				break
			}
			n++
			if it.Tag != TagRequestMessage && it.Tag != TagResponseMessage {
				t.Errorf("%s: message %d is a %s", filepath.Base(f), n, it.Tag)
			}
			bin, err := Encode(it)
			if err != nil {
				t.Errorf("%s: message %d: encode: %v", filepath.Base(f), n, err)
				continue
			}
			back, err := Decode(bin, Limits{})
			if err != nil {
				t.Errorf("%s: message %d: decode: %v", filepath.Base(f), n, err)
				continue
			}
			if !reflect.DeepEqual(normalize(it), normalize(back)) {
				t.Errorf("%s: message %d: binary round trip differs", filepath.Base(f), n)
			}
			x, err := MarshalXML(back)
			if err != nil {
				t.Errorf("%s: message %d: MarshalXML: %v", filepath.Base(f), n, err)
				continue
			}
			again, err := UnmarshalXML(x)
			if err != nil {
				t.Errorf("%s: message %d: UnmarshalXML of own output: %v", filepath.Base(f), n, err)
				continue
			}
			if !reflect.DeepEqual(normalize(back), normalize(again)) {
				t.Errorf("%s: message %d: XML round trip differs", filepath.Base(f), n)
			}
		}
		messages += n
		if n == 0 {
			t.Errorf("%s: no messages", filepath.Base(f))
		}
	}
	t.Logf("%d messages parsed, %d files failed", messages, failures)
}

// normalize makes big.Int and nil byte strings comparable with DeepEqual.
func normalize(it Item) Item {
	switch v := it.Value.(type) {
	case []Item:
		out := make([]Item, len(v))
		for i, c := range v {
			out[i] = normalize(c)
		}
		it.Value = out
	case []byte:
		it.Value = string(v)
	case interface{ String() string }:
		if it.Type == TypeBigInteger {
			it.Value = v.String()
		}
	}
	return it
}

func TestUnmarshalXMLPlaceholders(t *testing.T) {
	src := `<RequestMessage>
  <!-- comment -->
  <UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER_0"/>
  <ActivationDate type="DateTime" value="$NOW-3600"/>
  <Data type="ByteString" value="$DATA_1"/>
</RequestMessage>`
	it, err := UnmarshalXML([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	c := it.Children()
	if s, _ := c[0].TextValue(); s != "$UNIQUE_IDENTIFIER_0" {
		t.Errorf("text placeholder = %v", c[0].Value)
	}
	if p, ok := c[1].Value.(Placeholder); !ok || p != "$NOW-3600" {
		t.Errorf("date placeholder = %#v", c[1].Value)
	}
	if _, err := Encode(it); !errors.Is(err, ErrInvalidItem) {
		t.Errorf("Encode with placeholder: err = %v, want ErrInvalidItem", err)
	}
	out, err := MarshalXML(it)
	if err != nil || !strings.Contains(string(out), `value="$NOW-3600"`) {
		t.Errorf("MarshalXML = %s, %v", out, err)
	}
}
