package pkcs11hsm_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/hsm"
)

// TestPoolStatsAndCallObserver checks that a held session counts as in use
// and that every pooled call reaches the observer with its name.
func TestPoolStatsAndCallObserver(t *testing.T) {
	ks, _ := newKeystore(t, 2)
	ctx := context.Background()
	var mu sync.Mutex
	calls := map[string]int{}
	ks.SetCallObserver(func(op string, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if d < 0 {
			t.Errorf("negative duration for %s", op)
		}
		calls[op]++
	})
	if size, inUse := ks.PoolStats(); size != 2 || inUse != 0 {
		t.Fatalf("idle pool: size %d, in use %d", size, inUse)
	}
	release, err := ks.HoldSessionForTest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, inUse := ks.PoolStats(); inUse != 1 {
		t.Fatalf("held session: in use %d, want 1", inUse)
	}
	release()
	if _, inUse := ks.PoolStats(); inUse != 0 {
		t.Fatalf("released session: in use %d, want 0", inUse)
	}
	w, err := ks.GenerateWrapped(ctx, hsm.KindAES, 256)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Unwrap(ctx, hsm.KindAES, w); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) < 2 || calls["test hold"] != 1 {
		t.Fatalf("observed calls %v: want the hold, the generation and the unwrap", calls)
	}
}
