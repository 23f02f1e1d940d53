package ttlv

import (
	"reflect"
	"testing"
)

func TestTagNames(t *testing.T) {
	cases := []struct {
		tag        Tag
		name, xml  string
		since      Version
		until      Version
		typ        Type
		enum       string
		lookupHave []string
	}{
		{TagUniqueIdentifier, "Unique Identifier", "UniqueIdentifier", Version{1, 0}, Version{}, TypeTextString, "Unique Identifier", []string{"Unique Identifier", "UniqueIdentifier", "0x420094", "uniqueidentifier"}},
		{TagCryptographicUsageMask, "Cryptographic Usage Mask", "CryptographicUsageMask", Version{1, 0}, Version{}, TypeInteger, "Cryptographic Usage Mask", []string{"Cryptographic Usage Mask", "CryptographicUsageMask"}},
		{TagTemplateAttribute, "Template-Attribute", "TemplateAttribute", Version{1, 0}, Version{1, 4}, TypeStructure, "", []string{"Template-Attribute", "TemplateAttribute"}},
		{TagPrivateKeyTemplateAttribute, "Private Key Template-Attribute", "PrivateKeyTemplateAttribute", Version{1, 0}, Version{1, 4}, TypeStructure, "", nil},
		{TagAttributes, "Attributes", "Attributes", Version{2, 0}, Version{}, TypeStructure, "", nil},
		{TagPKCS11Function, "PKCS#11 Function", "PKCS_11Function", Version{2, 0}, Version{}, TypeEnumeration, "PKCS#11 Function", []string{"PKCS_11Function", "PKCS#11 Function"}},
		{TagIVCounterNonce, "IV/Counter/Nonce", "IVCounterNonce", Version{1, 0}, Version{}, TypeByteString, "", nil},
		{TagState, "State", "State", Version{1, 0}, Version{}, TypeEnumeration, "State", nil},
		{TagAttributeReference, "Attribute Reference", "AttributeReference", Version{2, 0}, Version{}, TypeEnumeration, "Tag", nil},
	}
	for _, tc := range cases {
		i, ok := TagInfo(tc.tag)
		if !ok {
			t.Errorf("TagInfo(%06X) not found", uint32(tc.tag))
			continue
		}
		if i.Name != tc.name || i.XMLName != tc.xml || i.Since != tc.since || i.Until != tc.until || i.Enumeration != tc.enum {
			t.Errorf("TagInfo(%s) = %+v", tc.name, i)
		}
		if tc.typ != 0 && i.Type != tc.typ {
			t.Errorf("%s: Type = %s, want %s", tc.name, i.Type, tc.typ)
		}
		if tc.tag.String() != tc.name {
			t.Errorf("String = %q", tc.tag.String())
		}
		for _, n := range tc.lookupHave {
			if got, ok := TagByName(n); !ok || got != tc.tag {
				t.Errorf("TagByName(%q) = %v, %v", n, got, ok)
			}
		}
	}
	if s := Tag(0x540001).String(); s != "0x540001" {
		t.Errorf("unknown tag String = %q", s)
	}
	if _, ok := TagByName("No Such Tag"); ok {
		t.Error("TagByName found a tag that does not exist")
	}
	if !(Info{Since: Version{1, 2}}).InVersion(Version{1, 4}) || (Info{Since: Version{1, 2}}).InVersion(Version{1, 0}) {
		t.Error("InVersion wrong for Since")
	}
	if (Info{Since: Version{1, 0}, Until: Version{1, 4}}).InVersion(Version{2, 0}) {
		t.Error("InVersion wrong for Until")
	}
}

func TestTagTableSorted(t *testing.T) {
	seen := map[string]Tag{}
	for i := range tagInfos {
		if i > 0 && tagInfos[i].Tag <= tagInfos[i-1].Tag {
			t.Fatalf("tagInfos not sorted at %s", tagInfos[i].Name)
		}
		if o, dup := seen[tagInfos[i].XMLName]; dup {
			t.Errorf("XML name %s for %06X and %06X", tagInfos[i].XMLName, uint32(o), uint32(tagInfos[i].Tag))
		}
		seen[tagInfos[i].XMLName] = tagInfos[i].Tag
	}
}

func TestEnums(t *testing.T) {
	cases := []struct {
		tag   Tag
		v     uint32
		name  string
		names []string // also accepted by EnumByName
	}{
		{TagObjectType, uint32(ObjectTypeSymmetricKey), "Symmetric Key", []string{"SymmetricKey", "0x00000002"}},
		{TagOperation, uint32(OperationDiscoverVersions), "Discover Versions", []string{"DiscoverVersions"}},
		{TagState, uint32(StateDestroyedCompromised), "Destroyed Compromised", []string{"DestroyedCompromised"}},
		{TagCryptographicAlgorithm, uint32(CryptographicAlgorithm3DES), "3DES", []string{"DES3"}},
		{TagHashingAlgorithm, 6, "SHA-256", []string{"SHA_256"}},
		{TagMaskGeneratorHashingAlgorithm, 6, "SHA-256", nil},
		{TagKeyFormatType, uint32(KeyFormatTypePKCS1), "PKCS#1", []string{"PKCS_1"}},
		{TagResultReason, uint32(ResultReasonItemNotFound), "Item Not Found", nil},
		{TagAttributeReference, uint32(TagState), "State", nil},
		{TagPKCS11Function, 1, "C_Initialize", nil},
		{TagMaskGenerator, 1, "MGF1", nil},
	}
	for _, tc := range cases {
		if n, ok := EnumName(tc.tag, tc.v); !ok || n != tc.name {
			t.Errorf("EnumName(%s, %d) = %q, %v; want %q", tc.tag, tc.v, n, ok, tc.name)
		}
		for _, n := range append(tc.names, tc.name) {
			if v, ok := EnumByName(tc.tag, n); !ok || v != tc.v {
				t.Errorf("EnumByName(%s, %q) = %d, %v; want %d", tc.tag, n, v, ok, tc.v)
			}
		}
	}
	if s := ObjectTypeSymmetricKey.String(); s != "Symmetric Key" {
		t.Errorf("String = %q", s)
	}
	if s := ObjectType(0x80000001).String(); s != "0x80000001" {
		t.Errorf("extension String = %q", s)
	}
	if v, ok := EnumByName(TagObjectType, "0x80000001"); !ok || v != 0x80000001 {
		t.Errorf("hex extension = %d, %v", v, ok)
	}
	if _, ok := EnumByName(TagObjectType, "Nonsense"); ok {
		t.Error("EnumByName accepted a nonsense name")
	}
	e, ok := EnumValueInfo(TagCryptographicUsageMask, uint32(CryptographicUsageMaskContentCommitment))
	if !ok || e.Until != (Version{1, 4}) || e.InVersion(Version{2, 1}) {
		t.Errorf("Content Commitment = %+v", e)
	}
	e, ok = EnumValueInfo(TagOperation, uint32(OperationDiscoverVersions))
	if !ok || e.Since != (Version{1, 1}) {
		t.Errorf("Discover Versions = %+v", e)
	}
}

func TestMasks(t *testing.T) {
	v := uint32(CryptographicUsageMaskEncrypt | CryptographicUsageMaskDecrypt)
	names, ok := MaskNames(TagCryptographicUsageMask, v)
	if !ok || !reflect.DeepEqual(names, []string{"Encrypt", "Decrypt"}) {
		t.Errorf("MaskNames = %v, %v", names, ok)
	}
	for _, in := range [][]string{{"Encrypt", "Decrypt"}, {"Decrypt", "Encrypt"}, {"0x0000000C"}, {"Encrypt", "0x00000008"}} {
		if got, ok := MaskByNames(TagCryptographicUsageMask, in...); !ok || got != v {
			t.Errorf("MaskByNames(%v) = %X, %v", in, got, ok)
		}
	}
	if got, ok := MaskByNames(TagCryptographicUsageMask, "MACGenerate", "MAC Verify"); !ok || got != 0x180 {
		t.Errorf("MaskByNames MAC = %X, %v", got, ok)
	}
	if _, ok := MaskNames(TagCryptographicUsageMask, 0x80000000); ok {
		t.Error("MaskNames named an undefined bit")
	}
	if _, ok := MaskNames(TagObjectType, 1); ok {
		t.Error("MaskNames accepted an enumeration")
	}
	if got, ok := MaskByNames(TagStorageStatusMask, "On-line storage", "ArchivalStorage"); !ok || got != 3 {
		t.Errorf("Storage Status Mask = %X, %v", got, ok)
	}
}
