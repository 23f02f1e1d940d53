package client_test

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/internal/tlstest"
	"github.com/strongroom/strongroom/kmip/client"
)

// closedAddr is a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestSplitAddrs(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"a:5696", []string{"a:5696"}},
		{"a:5696, b:5696 ,,c:1", []string{"a:5696", "b:5696", "c:1"}},
	}
	for _, tc := range cases {
		if got := client.SplitAddrs(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("SplitAddrs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDialAny(t *testing.T) {
	ca := tlstest.NewCA(t, "CA")
	good := fakeServer(t, ca, echo)
	untrusted := fakeServer(t, tlstest.NewCA(t, "other"), echo)
	down := closedAddr(t)
	cfg := clientConfig(t, ca)

	cases := []struct {
		name  string
		addrs []string
		want  string // address expected to answer; "" for an error
	}{
		{"first answers", []string{good, down}, good},
		{"first down", []string{down, good}, good},
		{"first untrusted", []string{untrusted, down, good}, good},
		{"all fail", []string{down, untrusted}, ""},
		{"none given", nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, addr, err := client.DialAny(ctx, tc.addrs, cfg)
			if tc.want == "" {
				if err == nil {
					conn.Close()
					t.Fatalf("DialAny connected to %s", addr)
				}
				for _, a := range tc.addrs {
					if !strings.Contains(err.Error(), a) {
						t.Errorf("error does not name %s: %v", a, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if addr != tc.want {
				t.Fatalf("connected to %s, want %s", addr, tc.want)
			}
			got, err := conn.RoundTrip(ctx, request("x"))
			if err != nil {
				t.Fatal(err)
			}
			sameItem(t, got, request("x"))
		})
	}

	t.Run("context ended", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if conn, _, err := client.DialAny(ctx, []string{good}, cfg); err == nil {
			conn.Close()
			t.Fatal("DialAny connected with an ended context")
		}
	})
}
