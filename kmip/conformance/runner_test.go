package conformance

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/kmip/ttlv"
)

// script is a fake server: it checks each request with a function and
// answers with a canned response.
type script struct {
	t     *testing.T
	steps []scriptStep
	n     int
}

type scriptStep struct {
	check func(req ttlv.Item) error
	resp  string
}

func (s *script) RoundTrip(_ context.Context, req ttlv.Item) (ttlv.Item, error) {
	if s.n >= len(s.steps) {
		return ttlv.Item{}, errors.New("no more responses")
	}
	st := s.steps[s.n]
	s.n++
	if st.check != nil {
		if err := st.check(req); err != nil {
			s.t.Errorf("request %d: %v", s.n-1, err)
		}
	}
	return mustXML(s.t, st.resp), nil
}

func payloadOf(req ttlv.Item) ttlv.Item {
	bi, _ := req.Find(ttlv.TagBatchItem)
	p, _ := bi.Find(ttlv.TagRequestPayload)
	return p
}

func TestRun(t *testing.T) {
	now := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	file := `<KMIP><!-- a comment -->` +
		req14(reqItem("Register", `<ObjectType type="Enumeration" value="SymmetricKey"/><TemplateAttribute>`+
			attr("Activation Date", `<AttributeValue type="DateTime" value="$NOW-3600"/>`)+`</TemplateAttribute>`)) +
		resp14("$NOW", ok("Register", uid("$UNIQUE_IDENTIFIER_0"))) +
		req14(reqItem("Encrypt", uid("$UNIQUE_IDENTIFIER_0")+`<Data type="ByteString" value="01"/>`)) +
		resp14("$NOW", ok("Encrypt", uid("$UNIQUE_IDENTIFIER_0")+`<Data type="ByteString" value="aaaa"/><IVCounterNonce type="ByteString" value="bbbb"/>`)) +
		req14(reqItem("Decrypt", uid("$UNIQUE_IDENTIFIER_0")+`<Data type="ByteString" value="$DATA_0"/><IVCounterNonce type="ByteString" value="$IV_COUNTER_NONCE"/>`)) +
		resp14("$NOW", ok("Decrypt", uid("$UNIQUE_IDENTIFIER_0")+`<Data type="ByteString" value="01"/>`)) +
		`</KMIP>`
	c, err := Load(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	wantUID := func(req ttlv.Item) error {
		u, _ := payloadOf(req).Find(ttlv.TagUniqueIdentifier)
		if v, _ := u.TextValue(); v != "k-17" {
			return errors.New("unique identifier not substituted: " + v)
		}
		return nil
	}
	fake := &script{t: t, steps: []scriptStep{
		{
			check: func(req ttlv.Item) error {
				ta, _ := payloadOf(req).Find(ttlv.TagTemplateAttribute)
				a, _ := ta.Find(ttlv.TagAttribute)
				v, _ := a.Find(ttlv.TagAttributeValue)
				if tv, _ := v.TimeValue(); !tv.Equal(now.Add(-time.Hour)) {
					return errors.New("$NOW-3600 became " + tv.String())
				}
				return nil
			},
			resp: resp14(t1, ok("Register", uid("k-17"))),
		},
		{check: wantUID, resp: resp14(t1, ok("Encrypt", uid("k-17")+`<Data type="ByteString" value="cccc"/><IVCounterNonce type="ByteString" value="dddd"/>`))},
		{
			check: func(req ttlv.Item) error {
				if err := wantUID(req); err != nil {
					return err
				}
				d, _ := payloadOf(req).Find(ttlv.TagData)
				iv, _ := payloadOf(req).Find(ttlv.TagIVCounterNonce)
				if db, _ := d.BytesValue(); string(db) != "\xcc\xcc" {
					return errors.New("$DATA_0 is not the received ciphertext")
				}
				if ivb, _ := iv.BytesValue(); string(ivb) != "\xdd\xdd" {
					return errors.New("$IV_COUNTER_NONCE is not the received IV")
				}
				return nil
			},
			resp: resp14(t1, ok("Decrypt", uid("k-17")+`<Data type="ByteString" value="01"/>`)),
		},
	}}
	r := &Runner{Dial: func(context.Context) (RoundTripper, error) { return fake, nil }, Now: func() time.Time { return now }}
	res := r.Run(context.Background(), c)
	if !res.Passed {
		t.Fatalf("not passed: %s", res.Reason())
	}
	if res.Steps != 3 || fake.n != 3 {
		t.Fatalf("steps %d, requests %d; want 3", res.Steps, fake.n)
	}
}

func TestRunReportsFirstDifference(t *testing.T) {
	file := req14(reqItem("Destroy", uid("x"))) + resp14("$NOW", ok("Destroy", uid("x"))) +
		req14(reqItem("Destroy", uid("x"))) + resp14("$NOW", ok("Destroy", uid("x")))
	c, err := Load(strings.NewReader("<KMIP>" + file + "</KMIP>"))
	if err != nil {
		t.Fatal(err)
	}
	fake := &script{t: t, steps: []scriptStep{
		{resp: resp14(t1, ok("Destroy", uid("x")))},
		{resp: resp14(t1, `<BatchItem><Operation type="Enumeration" value="Destroy"/><ResultStatus type="Enumeration" value="OperationFailed"/><ResultReason type="Enumeration" value="ItemNotFound"/></BatchItem>`)},
	}}
	var cleaned []string
	cleaner := &script{t: t}
	for range 2 {
		cleaner.steps = append(cleaner.steps, scriptStep{
			check: func(req ttlv.Item) error {
				bi, _ := req.Find(ttlv.TagBatchItem)
				op, _ := bi.Find(ttlv.TagOperation)
				name, _ := ttlv.EnumName(ttlv.TagOperation, op.Value.(uint32))
				u, _ := payloadOf(req).Find(ttlv.TagUniqueIdentifier)
				v, _ := u.TextValue()
				cleaned = append(cleaned, name+" "+v)
				return nil
			},
			resp: resp14(t1, ok("Destroy", "")),
		})
	}
	dials := 0
	r := &Runner{Dial: func(context.Context) (RoundTripper, error) {
		dials++
		if dials == 1 {
			return fake, nil
		}
		return cleaner, nil
	}}
	res := r.Run(context.Background(), c)
	if res.Passed || res.FirstDiff == nil {
		t.Fatalf("passed: %+v", res)
	}
	if got, want := res.FirstDiff.Path, "ResponseMessage[1]/BatchItem[0]/ResultStatus"; got != want {
		t.Fatalf("path %q, want %q", got, want)
	}
	// Nothing was captured, so nothing is cleaned up.
	if len(cleaned) != 0 {
		t.Fatalf("cleaned %v", cleaned)
	}
}

// A failed file's objects are revoked and destroyed.
func TestRunCleansUpAfterFailure(t *testing.T) {
	file := req14(reqItem("Create", "")) + resp14("$NOW", ok("Create", uid("$UNIQUE_IDENTIFIER_0"))) +
		req14(reqItem("Get", uid("$UNIQUE_IDENTIFIER_0"))) + resp14("$NOW", ok("Get", uid("$UNIQUE_IDENTIFIER_0")))
	c, err := Load(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	fake := &script{t: t, steps: []scriptStep{
		{resp: resp14(t1, ok("Create", uid("k9")))},
		{resp: resp14(t1, `<BatchItem><Operation type="Enumeration" value="Get"/><ResultStatus type="Enumeration" value="OperationFailed"/><ResultReason type="Enumeration" value="ItemNotFound"/></BatchItem>`)},
	}}
	var cleaned []string
	record := func(req ttlv.Item) error {
		bi, _ := req.Find(ttlv.TagBatchItem)
		op, _ := bi.Find(ttlv.TagOperation)
		name, _ := ttlv.EnumName(ttlv.TagOperation, op.Value.(uint32))
		u, _ := payloadOf(req).Find(ttlv.TagUniqueIdentifier)
		v, _ := u.TextValue()
		cleaned = append(cleaned, name+" "+v)
		return nil
	}
	cleaner := &script{t: t, steps: []scriptStep{{check: record, resp: resp14(t1, ok("Revoke", ""))}, {check: record, resp: resp14(t1, ok("Destroy", ""))}}}
	conns := []RoundTripper{fake, cleaner}
	r := &Runner{Dial: func(context.Context) (RoundTripper, error) {
		c := conns[0]
		conns = conns[1:]
		return c, nil
	}}
	if res := r.Run(context.Background(), c); res.Passed {
		t.Fatal("passed")
	}
	if got, want := strings.Join(cleaned, ", "), "Revoke k9, Destroy k9"; got != want {
		t.Fatalf("clean-up requests %q, want %q", got, want)
	}
}

func TestSubstitute(t *testing.T) {
	now := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	tests := []struct {
		name    string
		vars    map[string]binding
		last    map[ttlv.Tag]binding
		in      string
		want    any
		wantErr string
	}{
		{name: "now", in: `<ActivationDate type="DateTime" value="$NOW"/>`, want: now},
		{name: "now plus", in: `<ActivationDate type="DateTime" value="$NOW+3600"/>`, want: now.Add(time.Hour)},
		{name: "now minus", in: `<ActivationDate type="DateTime" value="$NOW-3600"/>`, want: now.Add(-time.Hour)},
		{name: "now in a text", in: `<UniqueIdentifier type="TextString" value="$NOW"/>`, wantErr: "not a date"},
		{
			name: "captured", in: `<UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER_1"/>`,
			vars: map[string]binding{"UNIQUE_IDENTIFIER_1": {typ: ttlv.TypeTextString, value: "u1"}}, want: "u1",
		},
		{
			name: "captured as another type", in: `<Data type="ByteString" value="$UNIQUE_IDENTIFIER_1"/>`,
			vars:    map[string]binding{"UNIQUE_IDENTIFIER_1": {typ: ttlv.TypeTextString, value: "u1"}},
			wantErr: "captured as TextString",
		},
		{
			name: "implicit capture from the last response", in: `<MACData type="ByteString" value="$MAC_DATA"/>`,
			last: map[ttlv.Tag]binding{ttlv.TagMACData: {typ: ttlv.TypeByteString, value: []byte{1, 2}}}, want: []byte{1, 2},
		},
		{name: "never captured", in: `<MACData type="ByteString" value="$MAC_DATA"/>`, wantErr: "before any response"},
		{name: "literal", in: `<Data type="ByteString" value="0102"/>`, want: []byte{1, 2}},
		{name: "dollar text that is no placeholder", in: `<NameValue type="TextString" value="$ 5"/>`, want: "$ 5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newState(func() time.Time { return now })
			for k, v := range tc.vars {
				s.vars[k] = v
			}
			for k, v := range tc.last {
				s.lastByTag[k] = v
			}
			got, err := s.substitute(mustXML(t, tc.in), 0)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !equalValues(got.Value, tc.want) {
				t.Fatalf("got %v, want %v", got.Value, tc.want)
			}
		})
	}
}

func TestProfileAndVersion(t *testing.T) {
	tests := []struct{ file, profile, version string }{
		{"v1.4/mandatory/CS-BC-M-GCM-1-14.xml", "CS-BC", "1.4"},
		{"BL-M-1-21.xml", "BL", "2.1"},
		{"x/MSGENC-HTTPS-M-1-21.xml", "MSGENC-HTTPS", "2.1"},
		{"SUITEB_128-M-1-14.xml", "SUITEB_128", "1.4"},
		{"CS-RNG-O-2-14.xml", "CS-RNG", "1.4"},
		{"TC-OFFSET-1-13.xml", "TC-OFFSET", "1.3"},
		{"odd.xml", "odd", ""},
	}
	for _, tc := range tests {
		if p := Profile(tc.file); p != tc.profile {
			t.Errorf("Profile(%q) = %q, want %q", tc.file, p, tc.profile)
		}
		if v := Version(tc.file); v != tc.version {
			t.Errorf("Version(%q) = %q, want %q", tc.file, v, tc.version)
		}
	}
}

func TestLoadRejects(t *testing.T) {
	for name, in := range map[string]string{
		"empty":              "<KMIP></KMIP>",
		"response first":     resp14("$NOW"),
		"request last":       req14(),
		"two requests":       req14() + req14(),
		"not a message":      `<UniqueIdentifier type="TextString" value="x"/>`,
		"unknown element":    `<Nonsense/>`,
		"unterminated xml":   `<RequestMessage>`,
		"enumeration typo":   `<RequestMessage><Operation type="Enumeration" value="Gett"/></RequestMessage>`,
		"two responses late": req14() + resp14("$NOW") + resp14("$NOW"),
	} {
		if _, err := Load(strings.NewReader(in)); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
}
