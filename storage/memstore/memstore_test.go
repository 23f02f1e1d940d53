package memstore_test

import (
	"testing"

	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/memstore"
	"github.com/strongroom/strongroom/storage/storagetest"
)

func TestStore(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return memstore.New("node-a") })
}

func TestNodes(t *testing.T) {
	storagetest.RunNodes(t, func(t *testing.T) (storage.Store, storage.Store) {
		a := memstore.New("node-a")
		return a, a.Peer("node-b")
	})
}
