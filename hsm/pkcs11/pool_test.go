package pkcs11hsm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/strongroom/strongroom/hsm"
	pkcs11hsm "github.com/strongroom/strongroom/hsm/pkcs11"
	"github.com/strongroom/strongroom/internal/softhsmtest"
)

// TestConcurrent runs every operation from 16 goroutines through a pool of
// 2 sessions; run it with -race.
func TestConcurrent(t *testing.T) {
	ks, _ := newKeystore(t, 2)
	const goroutines, rounds = 16, 25
	ctx := context.Background()
	errs := make(chan error, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			errs <- func() error {
				for i := range rounds {
					w, err := ks.GenerateWrapped(ctx, hsm.KindAES, 256)
					if err != nil {
						return err
					}
					if _, err := ks.Unwrap(ctx, hsm.KindAES, w); err != nil {
						return err
					}
					secret := []byte(fmt.Sprintf("goroutine %02d round %03d secret", g, i))
					w, err = ks.ImportWrapped(ctx, hsm.KindGeneric, secret)
					if err != nil {
						return err
					}
					got, err := ks.Unwrap(ctx, hsm.KindGeneric, w)
					if err != nil {
						return err
					}
					if !bytes.Equal(got, secret) {
						return fmt.Errorf("goroutine %d round %d: unwrapped %d bytes differ from %d imported", g, i, len(got), len(secret))
					}
					mac, err := ks.MAC(ctx, secret)
					if err != nil {
						return err
					}
					if err := ks.VerifyMAC(ctx, secret, mac); err != nil {
						return err
					}
					if _, err := ks.Random(ctx, 16); err != nil {
						return err
					}
				}
				return nil
			}()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// TestAcquireRespectsContext exhausts a pool of one and checks that callers
// give up when their context ends, promptly and with ErrBusy.
func TestAcquireRespectsContext(t *testing.T) {
	ks, _ := newKeystore(t, 1)
	release, err := ks.HoldSessionForTest(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		ctx    func() (context.Context, context.CancelFunc)
		target error
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}, context.DeadlineExceeded},
		{"cancel", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			start := time.Now()
			_, err := ks.GenerateWrapped(ctx, hsm.KindAES, 256)
			elapsed := time.Since(start)
			if !errors.Is(err, hsm.ErrBusy) || !errors.Is(err, tc.target) {
				t.Errorf("GenerateWrapped = %v, want ErrBusy and %v", err, tc.target)
			}
			if elapsed > time.Second {
				t.Errorf("gave up after %v, want about 50ms", elapsed)
			}
		})
	}

	// A waiter gets the session as soon as it is released.
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := ks.Random(ctx, 8)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	release()
	if err := <-done; err != nil {
		t.Errorf("waiter after release: %v", err)
	}

	// An expired context fails even when a session is free.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ks.Random(ctx, 8); !errors.Is(err, context.Canceled) {
		t.Errorf("Random with a cancelled context = %v, want context.Canceled", err)
	}
}

// TestBrokenSessionReplaced breaks the pool's only session behind its back
// (closes it, or logs the application out); the next calls must replace it,
// log in again and succeed.
func TestBrokenSessionReplaced(t *testing.T) {
	tok := softhsmtest.NewToken(t)
	var logs syncBuffer
	cfg := tok.Config(1)
	cfg.AllowMissingKeys = true
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	ks, err := pkcs11hsm.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	ctx := context.Background()
	if _, err := ks.EnsureKeys(ctx); err != nil {
		t.Fatal(err)
	}
	w, err := ks.GenerateWrapped(ctx, hsm.KindAES, 256)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ks.Unwrap(ctx, hsm.KindAES, w)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("row")
	mac, err := ks.MAC(ctx, data)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		breakIt func(p *pkcs11.Ctx, sh pkcs11.SessionHandle) error
		check   func() error
	}{
		{"closed, then Unwrap", func(p *pkcs11.Ctx, sh pkcs11.SessionHandle) error { return p.CloseSession(sh) }, func() error {
			got, err := ks.Unwrap(ctx, hsm.KindAES, w)
			if err == nil && !bytes.Equal(got, want) {
				err = errors.New("unwrapped key differs")
			}
			return err
		}},
		{"closed, then MAC", func(p *pkcs11.Ctx, sh pkcs11.SessionHandle) error { return p.CloseSession(sh) }, func() error {
			return ks.VerifyMAC(ctx, data, mac)
		}},
		{"logged out, then Unwrap", func(p *pkcs11.Ctx, sh pkcs11.SessionHandle) error { return p.Logout(sh) }, func() error {
			got, err := ks.Unwrap(ctx, hsm.KindAES, w)
			if err == nil && !bytes.Equal(got, want) {
				err = errors.New("unwrapped key differs")
			}
			return err
		}},
		{"logged out, then MAC", func(p *pkcs11.Ctx, sh pkcs11.SessionHandle) error { return p.Logout(sh) }, func() error {
			return ks.VerifyMAC(ctx, data, mac)
		}},
		{"logged out, then GenerateWrapped", func(p *pkcs11.Ctx, sh pkcs11.SessionHandle) error { return p.Logout(sh) }, func() error {
			_, err := ks.GenerateWrapped(ctx, hsm.KindAES, 128)
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := strings.Count(logs.String(), "replacing broken session")
			err := ks.WithTokenForTest(ctx, func(p *pkcs11.Ctx, sh pkcs11.SessionHandle, _, _ pkcs11.ObjectHandle) error {
				return tc.breakIt(p, sh)
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.check(); err != nil {
				t.Fatalf("call on a broken session: %v\n%s", err, logs.String())
			}
			if after := strings.Count(logs.String(), "replacing broken session"); after != before+1 {
				t.Errorf("%d session replacements logged, want 1", after-before)
			}
		})
	}
	if strings.Contains(logs.String(), tok.PIN) {
		t.Error("PIN appears in the log")
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestCloseWakesWaiters checks that Close turns callers waiting for a
// session away with ErrClosed and itself waits for the session in use.
func TestCloseWakesWaiters(t *testing.T) {
	tok := softhsmtest.NewToken(t)
	cfg := tok.Config(1)
	cfg.AllowMissingKeys = true
	ks, err := pkcs11hsm.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	release, err := ks.HoldSessionForTest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	waiter := make(chan error, 1)
	go func() {
		_, err := ks.Random(context.Background(), 8)
		waiter <- err
	}()
	closed := make(chan error, 1)
	time.Sleep(20 * time.Millisecond)
	go func() { closed <- ks.Close() }()
	select {
	case err := <-waiter:
		if !errors.Is(err, pkcs11hsm.ErrClosed) {
			t.Errorf("waiter got %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter still blocked after Close")
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a session was in use", err)
	case <-time.After(50 * time.Millisecond):
	}
	release()
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
}
