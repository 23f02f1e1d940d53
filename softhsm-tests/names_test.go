package softhsmtests

import (
	"context"
	"testing"
	"time"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/client"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

// TestNamesUniqueAcrossObjects: Add Attribute of a Name another live
// object holds is refused, whether that object was created with the name or
// was given it later by an event; the name index on PostgreSQL finds both.
// A destroyed object gives its names up.
func TestNamesUniqueAcrossObjects(t *testing.T) {
	s := newStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := s.dial(t, "admin", kmip.ProtocolVersion{Major: 2, Minor: 1})

	addName := func(uid, name string) error {
		_, err := c.Do(ctx, ttlv.OperationAddAttribute, ttlv.Struct(ttlv.TagRequestPayload,
			ttlv.Text(ttlv.TagUniqueIdentifier, uid),
			ttlv.Struct(ttlv.TagNewAttribute, client.NameAttr(name).Value)))
		return err
	}
	refused := func(what string, err error) {
		t.Helper()
		if !isReason(err, ttlv.ResultReasonNonUniqueNameAttribute) {
			t.Errorf("%s: %v, want Non Unique Name Attribute", what, err)
		}
	}
	born, err := c.CreateAES(ctx, 256, client.NameAttr("born-with-it"))
	if err != nil {
		t.Fatal(err)
	}
	given, err := c.CreateAES(ctx, 256)
	if err != nil {
		t.Fatal(err)
	}
	if err := addName(given, "given-later"); err != nil {
		t.Fatalf("Add Attribute Name: %v", err)
	}
	other, err := c.CreateAES(ctx, 256)
	if err != nil {
		t.Fatal(err)
	}
	refused("a name an object was created with", addName(other, "born-with-it"))
	refused("a name an object was given by Add Attribute", addName(other, "given-later"))
	if err := c.Destroy(ctx, born); err != nil {
		t.Fatal(err)
	}
	if err := addName(other, "born-with-it"); err != nil {
		t.Errorf("a destroyed object's name: %v, want it free", err)
	}
}
