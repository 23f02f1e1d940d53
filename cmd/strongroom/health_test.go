package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/strongroom/strongroom/hsm"
)

// fakeToken is a keystore whose Random fails on demand; the health check
// calls nothing else.
type fakeToken struct {
	hsm.Keystore
	err error
}

func (f fakeToken) Random(context.Context, int) ([]byte, error) { return []byte{0}, f.err }

type fakeDB struct{ err error }

func (f fakeDB) Ping(context.Context) error { return f.err }

func TestHealthEndpoint(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	down := errors.New("down")

	cases := []struct {
		name     string
		tokenErr error
		dbErr    error
		kmip     string
		want     int
		failing  string
	}{
		{"all well", nil, nil, ln.Addr().String(), http.StatusOK, ""},
		{"token gone", down, nil, ln.Addr().String(), http.StatusServiceUnavailable, "hsm"},
		{"database down", nil, down, ln.Addr().String(), http.StatusServiceUnavailable, "database"},
		{"listener gone", nil, nil, closedAddr, http.StatusServiceUnavailable, "kmip"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := &healthChecker{node: "n1", keys: fakeToken{err: tc.tokenErr}, db: fakeDB{tc.dbErr}, kmipAddr: tc.kmip}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, healthPath, nil))
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
			var rep healthReport
			if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Node != "n1" || len(rep.Checks) != 3 || rep.Healthy != (tc.want == http.StatusOK) {
				t.Fatalf("report %+v", rep)
			}
			for name, c := range rep.Checks {
				if c.OK == (name == tc.failing) {
					t.Errorf("check %s: ok=%v (error %q)", name, c.OK, c.Error)
				}
			}
		})
	}
	rec := httptest.NewRecorder()
	(&healthChecker{}).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, healthPath, nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST: status %d", rec.Code)
	}
}
