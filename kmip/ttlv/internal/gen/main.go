// Command gen transcribes the KMIP tag table, the item type of each tag and
// every enumeration and bit mask table from the OASIS specification texts
// (KMIP 1.0 to 2.1, tables flattened to " | "-separated cells) into Go
// source for package ttlv. It exists so that the one table of KMIP names is
// derived from the specifications rather than typed by hand.
//
// Usage (from kmip/ttlv): go run ./internal/gen -spec /work/shared/kmip-spec
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

type version struct{ major, minor int }

func (v version) String() string { return fmt.Sprintf("Version{%d, %d}", v.major, v.minor) }

// specFiles lists the specification texts, oldest first.
var specFiles = []struct {
	file string
	v    version
}{
	{"kmip-spec-1.0-os.txt", version{1, 0}},
	{"kmip-spec-v1.1-os.txt", version{1, 1}},
	{"kmip-spec-v1.2-os.txt", version{1, 2}},
	{"kmip-spec-v1.3-os.txt", version{1, 3}},
	{"kmip-spec-v1.4-os.txt", version{1, 4}},
	{"kmip-spec-v2.0-os.txt", version{2, 0}},
	{"kmip-spec-v2.1-os.txt", version{2, 1}},
}

// cell is one table cell: its first paragraph, and whatever paragraphs follow
// it before the next separator (for the last cell of a table, that is the
// caption and the running text after the table).
type cell struct {
	text    string // first paragraph
	full    string // all paragraphs: a name wrapped across a blank line
	trailer string // paragraphs after the first
	line    int
}

var spaceRE = regexp.MustCompile(`\s+`)

func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		switch r {
		case '\uFFFD', '\u00A0', '\u200B', '\t':
			return ' '
		case '\u2013', '\u2014':
			return '-'
		case '\u2019':
			return '\''
		}
		return r
	}, s)
	return strings.TrimSpace(spaceRE.ReplaceAllString(s, " "))
}

// cells splits a flattened specification into table cells.
func cells(data string) []cell {
	lines := strings.Split(data, "\n")
	var out []cell
	inCell := false
	var paras []string
	var cur []string
	start := 0
	flushPara := func() {
		if len(cur) > 0 {
			paras = append(paras, clean(strings.Join(cur, " ")))
			cur = nil
		}
	}
	flushCell := func() {
		flushPara()
		if inCell {
			c := cell{line: start}
			if len(paras) > 0 {
				c.text = paras[0]
				c.trailer = strings.Join(paras[1:], " ")
				c.full = strings.Join(paras, " ")
			}
			out = append(out, c)
		}
		paras = nil
	}
	for i, l := range lines {
		s := strings.TrimSpace(l)
		switch {
		case s == "|":
			flushCell()
			inCell = true
			start = i + 2
		case s == "":
			flushPara()
		default:
			cur = append(cur, s)
		}
	}
	flushCell()
	return out
}

var (
	tagHexRE  = regexp.MustCompile(`^(42|54)[0-9A-Fa-f]{4}$`)
	enumHexRE = regexp.MustCompile(`^(0x)?([0-9A-Fa-f]{8})\b`)
	headingRE = regexp.MustCompile(`\d+(?:\.\d+)+ ([A-Z][A-Za-z0-9 #./-]*?) Enumeration\b`)
)

type tagRow struct {
	name  string
	value uint32
}

// parseTags finds the tag table ("Tag | Object | Tag Value" in 1.x, "Tag |
// Name | Value" in 2.x) and returns its rows.
func parseTags(cs []cell) []tagRow {
	for i := 0; i+2 < len(cs); i++ {
		if cs[i].text != "Tag" {
			continue
		}
		h1, h2 := cs[i+1].text, cs[i+2].text
		if !((h1 == "Object" && h2 == "Tag Value") || (h1 == "Name" && h2 == "Value")) {
			continue
		}
		var rows []tagRow
		for j := i + 3; j+1 < len(cs); j += 2 {
			name, val := cs[j].full, cs[j+1].text
			if tagHexRE.MatchString(val) && !strings.HasPrefix(name, "(") && name != "Reserved" {
				v, _ := strconv.ParseUint(val, 16, 32)
				rows = append(rows, tagRow{name, uint32(v)})
			}
			if cs[j+1].trailer != "" || strings.HasPrefix(val, "550000") {
				break
			}
		}
		if len(rows) > 50 {
			return rows
		}
	}
	return nil
}

var debug = os.Getenv("GEN_DEBUG") != ""

type enumRow struct {
	name  string
	value uint32
}

type enumTable struct {
	name string
	rows []enumRow
}

// parseEnums finds every "<Enumeration> | Name | Value" table.
func parseEnums(cs []cell) []enumTable {
	var out []enumTable
	prevEnd := 0
	for i := 0; i+2 < len(cs); i++ {
		if cs[i+1].text != "Name" || cs[i+2].text != "Value" || cs[i].text == "Tag" || cs[i].text == "" {
			continue
		}
		name := strings.TrimSuffix(cs[i].text, " Enumeration")
		name = strings.TrimSuffix(name, " Enumerations")
		name = strings.TrimSuffix(name, " enumerations")
		// The header cell sometimes abbreviates, extends or (KMIP 2.x Ticket
		// Type, labelled "State") mislabels the name the section title gives;
		// prefer the nearest preceding "<n.n> <Title> Enumeration" heading.
		if !strings.HasSuffix(name, " Mask") {
			for k := i - 1; k >= prevEnd && k > i-200; k-- {
				if m := headingRE.FindAllStringSubmatch(cs[k].trailer, -1); len(m) > 0 {
					if title := m[len(m)-1][1]; title != name {
						if debug {
							log.Printf("line %d: header %q, section title %q", cs[i].line, name, title)
						}
						name = title
					}
					break
				}
			}
		}
		if n, ok := enumRenames[name]; ok {
			name = n
		}
		ncol := 2
		j := i + 3
		if j < len(cs) && cs[j].text == "Description" {
			ncol = 3
			j++
		}
		t := enumTable{name: name}
		sawExt := false
		for ; j+1 < len(cs); j += ncol {
			n, v := cs[j].full, cs[j+1].text
			if n == "Extensions" {
				sawExt = true
			}
			if !enumHexRE.MatchString(v) {
				break
			}
			if !strings.HasPrefix(n, "(") && n != "Extensions" {
				x, _ := strconv.ParseUint(enumHexRE.FindStringSubmatch(v)[2], 16, 32)
				t.rows = append(t.rows, enumRow{n, uint32(x)})
			}
			if cs[j+ncol-1].trailer != "" {
				break
			}
		}
		if len(t.rows) > 0 || sawExt {
			if debug {
				log.Printf("line %d: table %q (header %q), %d rows", cs[i].line, t.name, cs[i].text, len(t.rows))
			}
			out = append(out, t)
		}
		i = j - 1
		prevEnd = j
	}
	return out
}

var typeNames = []struct {
	spec, goName string
}{
	{"Date-Time Extended", "TypeDateTimeExtended"},
	{"Long Integer", "TypeLongInteger"},
	{"Big Integer", "TypeBigInteger"},
	{"Text String", "TypeTextString"},
	{"Byte String", "TypeByteString"},
	{"Date-Time", "TypeDateTime"},
	{"Structure", "TypeStructure"},
	{"Integer", "TypeInteger"},
	{"Enumeration", "TypeEnumeration"},
	{"Boolean", "TypeBoolean"},
	{"Interval", "TypeInterval"},
}

// cellType recognises an "Encoding" column cell.
func cellType(s string) string {
	for _, t := range typeNames {
		if s == t.spec || strings.HasPrefix(s, t.spec+",") || strings.HasPrefix(s, t.spec+" (") {
			return t.goName
		}
	}
	return ""
}

// goIdent turns a specification name into a Go identifier fragment: words
// capitalised as written, everything but letters and digits removed.
func goIdent(s string) string {
	var b strings.Builder
	up := true
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if up && r < unicode.MaxASCII {
				r = unicode.ToUpper(r)
			}
			if r < unicode.MaxASCII {
				b.WriteRune(r)
			}
			up = false
		case r == ' ' || r == '/' || r == '-' || r == '(' || r == ')' || r == ',':
			up = true
		}
	}
	return b.String()
}

// xmlTagName follows the KMIP XML profile as the OASIS test cases use it:
// words capitalised and joined, '#' and '.' become '_', other punctuation
// is removed ("PKCS#11 Function" -> "PKCS_11Function", "IV/Counter/Nonce" ->
// "IVCounterNonce").
func xmlTagName(s string) string { return xmlName(s, false) }

// xmlEnumName is the XML text for an enumeration value: as for tags, but '-'
// also becomes '_' ("SHA-256" -> "SHA_256") and leading digits move to the
// end ("3DES" -> "DES3"), as in the OASIS test cases.
func xmlEnumName(s string) string {
	n := xmlName(s, true)
	k := 0
	for k < len(n) && n[k] >= '0' && n[k] <= '9' {
		k++
	}
	if k > 0 && k < len(n) && n[k] != '_' {
		n = n[k:] + n[:k]
	}
	return n
}

func xmlName(s string, dash bool) string {
	var b strings.Builder
	up := true
	for _, r := range s {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if up {
				r = unicode.ToUpper(r)
			}
			b.WriteRune(r)
			up = false
		case r == '#' || r == '.' || (dash && r == '-'):
			b.WriteByte('_')
			up = false
		case r == '_':
			b.WriteByte('_')
		default:
			up = true
		}
	}
	return b.String()
}

type tagRec struct {
	value   uint32
	names   []string // oldest first, distinct
	since   version
	until   version // last version present
	present map[version]bool
	votes   map[string]int
	vvotes  map[version]map[string]int
}

type valRec struct {
	value uint32
	names []string
	since version
	until version
}

type enumRec struct {
	name  string
	vals  map[uint32]*valRec
	since version
}

// supplements are enumerations KMIP defines by reference to another
// specification: PKCS#11 Function is the 1-based position of the function in
// the PKCS#11 v2.40 CK_FUNCTION_LIST; PKCS#11 Return Code the CKR_ value
// (only the common codes are named here; others print in hex).
var supplements = []struct {
	name   string
	first  uint32
	values []string
}{
	{"PKCS#11 Function", 1, []string{
		"C_Initialize", "C_Finalize", "C_GetInfo", "C_GetFunctionList", "C_GetSlotList", "C_GetSlotInfo",
		"C_GetTokenInfo", "C_GetMechanismList", "C_GetMechanismInfo", "C_InitToken", "C_InitPIN", "C_SetPIN",
		"C_OpenSession", "C_CloseSession", "C_CloseAllSessions", "C_GetSessionInfo", "C_GetOperationState",
		"C_SetOperationState", "C_Login", "C_Logout", "C_CreateObject", "C_CopyObject", "C_DestroyObject",
		"C_GetObjectSize", "C_GetAttributeValue", "C_SetAttributeValue", "C_FindObjectsInit", "C_FindObjects",
		"C_FindObjectsFinal", "C_EncryptInit", "C_Encrypt", "C_EncryptUpdate", "C_EncryptFinal", "C_DecryptInit",
		"C_Decrypt", "C_DecryptUpdate", "C_DecryptFinal", "C_DigestInit", "C_Digest", "C_DigestUpdate",
		"C_DigestKey", "C_DigestFinal", "C_SignInit", "C_Sign", "C_SignUpdate", "C_SignFinal",
		"C_SignRecoverInit", "C_SignRecover", "C_VerifyInit", "C_Verify", "C_VerifyUpdate", "C_VerifyFinal",
		"C_VerifyRecoverInit", "C_VerifyRecover", "C_DigestEncryptUpdate", "C_DecryptDigestUpdate",
		"C_SignEncryptUpdate", "C_DecryptVerifyUpdate", "C_GenerateKey", "C_GenerateKeyPair", "C_WrapKey",
		"C_UnwrapKey", "C_DeriveKey", "C_SeedRandom", "C_GenerateRandom", "C_GetFunctionStatus",
		"C_CancelFunction", "C_WaitForSlotEvent",
	}},
	{"PKCS#11 Return Code", 0, []string{
		"OK", "CANCEL", "HOST_MEMORY", "SLOT_ID_INVALID", "", "GENERAL_ERROR", "FUNCTION_FAILED", "ARGUMENTS_BAD",
	}},
}

// valueFixes corrects typos a later specification introduced (KMIP 2.x
// spells the MGF1 mask generator "MFG1"; the OASIS test cases use "MGF1").
var valueFixes = map[string]string{
	"MFG1":                                 "MGF1",
	"Content Commitment (Non Repudiation)": "Content Commitment",
}

// appendName records name as the newest, keeping older distinct names first.
func appendName(names []string, name string) []string {
	out := names[:0:0]
	for _, n := range names {
		if n != name {
			out = append(out, n)
		}
	}
	return append(out, name)
}

// enumRenames fixes table headers that no section title corrects.
var enumRenames = map[string]string{
	"Batch Error Continuation": "Batch Error Continuation Option",
}

// Tag name -> enumeration name, where they differ (see the "Encoding" and
// description text of each tag in the specifications).
var tagEnumAlias = map[string]string{
	"Mask Generator Hashing Algorithm": "Hashing Algorithm",
	"Extension Type":                   "Item Type",
	"Attribute Reference":              "Tag",
	"Tag":                              "Tag",
	"Protection Storage Masks":         "",
}

func main() {
	specDir := flag.String("spec", "/work/shared/kmip-spec", "directory with the KMIP specification texts")
	out := flag.String("out", ".", "output directory")
	verbose := flag.Bool("v", false, "print diagnostics")
	flag.Parse()

	tags := map[uint32]*tagRec{}
	enums := map[string]*enumRec{}
	var enumOrder []string
	versions := []version{}
	for _, sf := range specFiles {
		versions = append(versions, sf.v)
		data, err := os.ReadFile(filepath.Join(*specDir, sf.file))
		if err != nil {
			log.Fatal(err)
		}
		cs := cells(string(data))
		rows := parseTags(cs)
		if len(rows) == 0 {
			log.Fatalf("%s: no tag table", sf.file)
		}
		byName := map[string]uint32{}
		for _, r := range rows {
			t := tags[r.value]
			if t == nil {
				t = &tagRec{value: r.value, since: sf.v, present: map[version]bool{}, votes: map[string]int{}, vvotes: map[version]map[string]int{}}
				tags[r.value] = t
			}
			t.present[sf.v] = true
			t.until = sf.v
			t.names = appendName(t.names, r.name)
			byName[r.name] = r.value
		}
		for i := 0; i+1 < len(cs); i++ {
			v, ok := byName[strings.TrimSuffix(cs[i].text, " *")]
			if !ok {
				continue
			}
			if ty := cellType(cs[i+1].text); ty != "" {
				tags[v].votes[ty]++
				if tags[v].vvotes[sf.v] == nil {
					tags[v].vvotes[sf.v] = map[string]int{}
				}
				tags[v].vvotes[sf.v][ty]++
			}
		}
		ets := parseEnums(cs)
		if *verbose {
			log.Printf("%s: %d tags, %d enumeration tables", sf.file, len(rows), len(ets))
		}
		seen := map[string]bool{}
		for _, et := range ets {
			if seen[et.name] {
				if *verbose {
					log.Printf("%s: duplicate table %q, merged", sf.file, et.name)
				}
			}
			seen[et.name] = true
			e := enums[et.name]
			if e == nil {
				e = &enumRec{name: et.name, vals: map[uint32]*valRec{}, since: sf.v}
				enums[et.name] = e
				enumOrder = append(enumOrder, et.name)
			}
			for _, r := range et.rows {
				vr := e.vals[r.value]
				if vr == nil {
					vr = &valRec{value: r.value, since: sf.v}
					e.vals[r.value] = vr
				}
				vr.until = sf.v
				n := r.name
				if f, ok := valueFixes[n]; ok {
					n = f
				}
				vr.names = appendName(vr.names, n)
			}
		}
	}
	latest := versions[len(versions)-1]

	// KMIP 2.0 defines the PKCS#11 Function and Return Code enumerations by
	// reference to PKCS#11 rather than by table; supply them.
	for _, sup := range supplements {
		e := &enumRec{name: sup.name, vals: map[uint32]*valRec{}, since: version{2, 0}}
		for i, n := range sup.values {
			v := uint32(i) + sup.first
			if n != "" {
				e.vals[v] = &valRec{value: v, names: []string{n}, since: version{2, 0}, until: latest}
			}
		}
		if enums[sup.name] == nil {
			enumOrder = append(enumOrder, sup.name)
		}
		enums[sup.name] = e
	}

	var tagList []*tagRec
	for _, t := range tags {
		tagList = append(tagList, t)
	}
	sort.Slice(tagList, func(i, j int) bool { return tagList[i].value < tagList[j].value })
	sort.Strings(enumOrder)

	// Tag name -> enumeration/mask.
	tagEnum := map[uint32]string{}
	for _, t := range tagList {
		for _, n := range t.names {
			if e, ok := tagEnumAlias[n]; ok {
				if e == "Tag" || (e != "" && enums[e] != nil) {
					tagEnum[t.value] = e
				}
				continue
			}
			if enums[n] != nil {
				tagEnum[t.value] = n
			}
		}
	}

	var tb, eb bytes.Buffer
	genTags(&tb, tagList, tagEnum, latest, *verbose)
	genEnums(&eb, enums, enumOrder, latest)
	write(filepath.Join(*out, "tags_gen.go"), tb.Bytes())
	write(filepath.Join(*out, "enums_gen.go"), eb.Bytes())
}

func write(path string, b []byte) {
	src, err := format.Source(b)
	if err != nil {
		_ = os.WriteFile(path+".broken", b, 0o644)
		log.Fatalf("%s: %v", path, err)
	}
	if err := os.WriteFile(path, src, 0o644); err != nil {
		log.Fatal(err)
	}
}

const header = "// Code generated by kmip/ttlv/internal/gen from the KMIP 1.0-2.1 specifications. DO NOT EDIT.\n\npackage ttlv\n\n"

// typeOf returns the encoding the newest specification that states one
// gives the tag (KMIP 2.x changed Asynchronous Indicator from Boolean to
// Enumeration and Extension Type from Integer to Enumeration).
func typeOf(t *tagRec) string {
	var votes map[string]int
	for i := len(specFiles) - 1; i >= 0 && votes == nil; i-- {
		votes = t.vvotes[specFiles[i].v]
	}
	best, n := "", 0
	for ty, c := range votes {
		if c > n || (c == n && ty < best) {
			best, n = ty, c
		}
	}
	return best
}

// inferredTypes gives the item type of tags that the specifications use only
// in operation payload tables, which have no Encoding column.
var inferredTypes = map[string]string{
	"Request Payload":                "TypeStructure",
	"Response Payload":               "TypeStructure",
	"Template-Attribute":             "TypeStructure",
	"Common Template-Attribute":      "TypeStructure",
	"Private Key Template-Attribute": "TypeStructure",
	"Public Key Template-Attribute":  "TypeStructure",
	"Private Key Unique Identifier":  "TypeTextString",
	"Public Key Unique Identifier":   "TypeTextString",
	"Replaced Unique Identifier":     "TypeTextString",
	"Linked Object Identifier":       "TypeTextString",
	"Maximum Items":                  "TypeInteger",
	"Offset Items":                   "TypeInteger",
	"Located Items":                  "TypeInteger",
	"Validity Date":                  "TypeDateTime",
}

// inferType is the fallback when no Encoding column names the tag's type:
// a tag holding an enumeration is an Enumeration, one holding a mask an
// Integer; a few payload-only tags are listed in inferredTypes.
func inferType(name, enum string) string {
	switch {
	case inferredTypes[name] != "":
		return inferredTypes[name]
	case enum != "" && isMask(enum):
		return "TypeInteger"
	case enum != "":
		return "TypeEnumeration"
	}
	return "0"
}

func isMask(name string) bool { return strings.HasSuffix(name, " Mask") }

func genTags(b *bytes.Buffer, tagList []*tagRec, tagEnum map[uint32]string, latest version, verbose bool) {
	p := func(f string, a ...any) { fmt.Fprintf(b, f, a...) }
	p(header)

	// Tag constants.
	p("// Tags defined by KMIP 1.0 to 2.1 (KMIP 1.4 §9.1.3.1, KMIP 2.1 §11.56).\n")
	p("// Where a later version renamed a tag, the older name is kept as an alias.\n")
	p("const (\n")
	idents := map[string]uint32{}
	for _, t := range tagList {
		newest := t.names[len(t.names)-1]
		id := "Tag" + goIdent(newest)
		if o, dup := idents[id]; dup && o != t.value {
			log.Fatalf("tag identifier %s for %06X and %06X", id, o, t.value)
		}
		idents[id] = t.value
		p("\t%s Tag = 0x%06X // %s\n", id, t.value, newest)
	}
	for _, t := range tagList {
		newest := "Tag" + goIdent(t.names[len(t.names)-1])
		for _, n := range t.names[:len(t.names)-1] {
			id := "Tag" + goIdent(n)
			if _, dup := idents[id]; dup {
				continue
			}
			idents[id] = t.value
			p("\t%s = %s // %s (older name)\n", id, newest, n)
		}
	}
	p(")\n\n")

	// Tag info table.
	p("// tagInfos holds every standard tag, sorted by value.\n")
	p("var tagInfos = [...]Info{\n")
	for _, t := range tagList {
		newest := t.names[len(t.names)-1]
		ty := typeOf(t)
		if ty == "" {
			ty = inferType(newest, tagEnum[t.value])
		}
		until := "Version{}"
		if t.until != latest {
			until = t.until.String()
		}
		var older []string
		for _, n := range t.names[:len(t.names)-1] {
			older = append(older, strconv.Quote(n))
		}
		en := tagEnum[t.value]
		p("\t{Tag: 0x%06X, Name: %q, XMLName: %q, Type: %s, Since: %s, Until: %s, Enumeration: %q, Mask: %v", t.value, newest, xmlTagName(newest), ty, t.since, until, en, en != "" && isMask(en))
		if len(older) > 0 {
			p(", OlderNames: []string{%s}", strings.Join(older, ", "))
		}
		p("},\n")
		if verbose && len(t.votes) > 1 {
			log.Printf("tag %q has several encodings %v; using %s", newest, t.votes, ty)
		}
	}
	p("}\n")
}

func genEnums(b *bytes.Buffer, enums map[string]*enumRec, enumOrder []string, latest version) {
	p := func(f string, a ...any) { fmt.Fprintf(b, f, a...) }
	p(header)
	for _, en := range enumOrder {
		if en == "Tag" {
			continue
		}
		e := enums[en]
		tn := goIdent(en)
		kind := "enumeration"
		if isMask(en) {
			kind = "bit mask"
		}
		p("// %s is the KMIP %s %s.\n", tn, en, kind)
		p("type %s uint32\n\n", tn)
		var vals []*valRec
		for _, v := range e.vals {
			vals = append(vals, v)
		}
		sort.Slice(vals, func(i, j int) bool { return vals[i].value < vals[j].value })
		if len(vals) == 0 {
			p("// String returns the specification's name for the value.\n")
			p("func (v %s) String() string { return enumString(%q, uint32(v)) }\n\n", tn, en)
			continue
		}
		p("// %s values.\nconst (\n", en)
		ids := map[string]bool{}
		for _, v := range vals {
			id := tn + goIdent(v.names[len(v.names)-1])
			if ids[id] {
				id = fmt.Sprintf("%s%X", id, v.value)
			}
			ids[id] = true
			p("\t%s %s = 0x%08X // %s\n", id, tn, v.value, v.names[len(v.names)-1])
		}
		for _, v := range vals {
			for _, n := range v.names[:len(v.names)-1] {
				id := tn + goIdent(n)
				if ids[id] {
					continue
				}
				ids[id] = true
				p("\t%s %s = 0x%08X // %s (older name)\n", id, tn, v.value, n)
			}
		}
		p(")\n\n")
		p("// String returns the specification's name for the value.\n")
		p("func (v %s) String() string { return enumString(%q, uint32(v)) }\n\n", tn, en)
	}

	p("// enumDefs holds every enumeration and bit mask, keyed by specification name.\n")
	p("var enumDefs = map[string]enumDef{\n")
	for _, en := range enumOrder {
		if en == "Tag" {
			continue
		}
		e := enums[en]
		var vals []*valRec
		for _, v := range e.vals {
			vals = append(vals, v)
		}
		sort.Slice(vals, func(i, j int) bool { return vals[i].value < vals[j].value })
		p("\t%q: {Name: %q, Mask: %v, Values: []EnumValue{\n", en, en, isMask(en))
		for _, v := range vals {
			newest := v.names[len(v.names)-1]
			until := "Version{}"
			if v.until != latest {
				until = v.until.String()
			}
			var older []string
			for _, n := range v.names[:len(v.names)-1] {
				older = append(older, strconv.Quote(n))
			}
			p("\t\t{Value: 0x%08X, Name: %q, XMLName: %q, Since: %s, Until: %s", v.value, newest, xmlEnumName(newest), v.since, until)
			if len(older) > 0 {
				p(", OlderNames: []string{%s}", strings.Join(older, ", "))
			}
			p("},\n")
		}
		p("\t}},\n")
	}
	p("}\n")
}
