package server_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/strongroom/strongroom/kmip/server"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

func TestShutdownWaitsForInFlightRequest(t *testing.T) {
	e := start(t, nil)
	busy, idle := e.dial(t), dialRaw(t, e.addr, e.clientTLS)
	if _, err := idle.Write(encode(t, request("hello"))); err != nil {
		t.Fatal(err)
	}
	if resp, err := readResponse(idle); err != nil || !isOK(resp) {
		t.Fatalf("idle connection's first request: %+v, %v", resp, err)
	}
	type result struct {
		resp ttlv.Item
		err  error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := roundTrip(busy, "block")
		res <- result{resp, err}
	}()
	<-e.h.entered

	shutdown := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shutdown <- e.srv.Shutdown(ctx)
	}()
	select {
	case err := <-e.serveErr:
		if !errors.Is(err, server.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve still accepting after Shutdown")
	}
	e.serveErr <- server.ErrServerClosed // for the cleanup
	// The idle connection is closed without waiting for the busy one, and
	// new ones are refused. (Sending a request on the idle connection here
	// would race Shutdown's first sweep: a request read whole before the
	// sweep is served, as net/http does.)
	expectClosed(t, idle)
	if nc, err := net.DialTimeout("tcp", e.addr, time.Second); err == nil {
		nc.Close()
		t.Error("new connection accepted during Shutdown")
	}
	select {
	case err := <-shutdown:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(e.h.release)
	r := <-res
	if r.err != nil || !isOK(r.resp) {
		t.Fatalf("in-flight request: %+v, %v", r.resp, r.err)
	}
	if err := <-shutdown; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case err := <-e.h.ctxErr:
		t.Errorf("request context ended (%v) during a graceful shutdown", err)
	default:
	}
}

func TestShutdownDeadlineCancelsRequests(t *testing.T) {
	e := start(t, nil)
	c := e.dial(t)
	res := make(chan error, 1)
	go func() {
		_, err := roundTrip(c, "block")
		res <- err
	}()
	<-e.h.entered
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := e.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want context.DeadlineExceeded", err)
	}
	select {
	case err := <-e.h.ctxErr:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("request context: %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("request context not cancelled after the Shutdown deadline")
	}
	if err := <-res; err == nil {
		t.Error("request answered after its connection was force-closed")
	}
}

func TestServeContextCancel(t *testing.T) {
	e := start(t, nil)
	c := e.dial(t)
	go func() { _, _ = roundTrip(c, "block") }()
	<-e.h.entered
	e.cancel()
	select {
	case err := <-e.serveErr:
		if !errors.Is(err, context.Canceled) && !errors.Is(err, server.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
		e.serveErr <- err
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its context was cancelled")
	}
	select {
	case <-e.h.ctxErr:
	case <-time.After(5 * time.Second):
		t.Fatal("request context not cancelled with Serve's context")
	}
}

func TestListenAndServe(t *testing.T) {
	e := start(t, nil)
	tcfg := e.clientTLS.Clone()
	tcfg.ClientAuth = tls.RequireAndVerifyClientCert
	tcfg.ClientCAs = e.ca.Pool
	tcfg.Certificates = []tls.Certificate{e.ca.Issue(t, "localhost", true)}
	srv, err := server.New(server.Config{Addr: "127.0.0.1:0", TLS: tcfg, Handler: e.h})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(context.Background()) }()
	var addr net.Addr
	for deadline := time.Now().Add(5 * time.Second); addr == nil; time.Sleep(10 * time.Millisecond) {
		if addr = srv.Addr(); addr == nil && time.Now().After(deadline) {
			t.Fatal("server not listening")
		}
	}
	e.addr = addr.String()
	if resp, err := roundTrip(e.dial(t), "hello"); err != nil || !isOK(resp) {
		t.Fatalf("%+v, %v", resp, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, server.ErrServerClosed) {
		t.Fatalf("ListenAndServe: %v, want ErrServerClosed", err)
	}
	if srv.Addr() != nil {
		t.Error("Addr() not nil after Shutdown")
	}
}
