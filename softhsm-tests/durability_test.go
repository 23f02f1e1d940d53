package softhsmtests

import (
	"bytes"
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/strongroom/strongroom/kmip"
)

// TestCreateSurvivesSIGKILL kills the server with SIGKILL in the middle of
// a concurrent Create load, restarts it, and finds every key whose Create
// was answered with Success, with the bytes Get returned before the kill.
func TestCreateSurvivesSIGKILL(t *testing.T) {
	n := newNode(t)
	n.start(t)
	v := kmip.ProtocolVersion{Major: 1, Minor: 2}
	var mu sync.Mutex
	acked := map[string][]byte{} // uid -> key bytes (nil if Get did not answer)
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := n.dial(t, v)
			if err != nil {
				return
			}
			defer c.Close()
			for ctx.Err() == nil {
				uid, err := c.CreateAES(ctx, 256)
				if err != nil {
					return // the server died
				}
				mu.Lock()
				acked[uid] = nil
				mu.Unlock()
				key, err := c.GetKey(ctx, uid)
				if err != nil {
					return
				}
				mu.Lock()
				acked[uid] = key
				mu.Unlock()
			}
		}()
	}
	// Let the load run, then kill the server without warning.
	time.Sleep(1500 * time.Millisecond)
	if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	n.cmd.Wait()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(acked) < 20 {
		t.Fatalf("only %d creates acknowledged before the kill; the load did not run", len(acked))
	}
	n.start(t)
	c, err := n.dial(t, v)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	withBytes := 0
	for uid, key := range acked {
		got, err := c.GetKey(context.Background(), uid)
		if err != nil {
			t.Fatalf("key %s acknowledged before the kill is gone: %v", uid, err)
		}
		if key != nil {
			withBytes++
			if !bytes.Equal(got, key) {
				t.Fatalf("key %s changed across the restart", uid)
			}
		}
	}
	t.Logf("%d acknowledged creates (%d with bytes compared) all present after SIGKILL and restart", len(acked), withBytes)
}
