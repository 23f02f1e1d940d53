package softhsmtests

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/strongroom/strongroom/internal/kmipbench"
	"github.com/strongroom/strongroom/kmip"
)

// TestBenchSmoke runs the load generator of `strongroom bench` briefly
// against a real node (SoftHSM2, PostgreSQL, TLS) for every operation and
// for a mix of them: no errors, some of each operation. The figures
// themselves come from make bench.
func TestBenchSmoke(t *testing.T) {
	s := newStack(t)
	cfg := s.tlsConfig(t, "admin")
	for _, op := range slices.Concat(kmipbench.Ops, []string{"get=6,get-attributes=2,create=1,encrypt=1"}) {
		t.Run(op, func(t *testing.T) {
			res, err := kmipbench.Run(context.Background(), kmipbench.Options{
				Addr: s.addr, TLS: cfg, Version: kmip.ProtocolVersion{Major: 1, Minor: 2}, Op: op,
				Conns: 2, Duration: 300 * time.Millisecond, Warmup: 50 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Errors != 0 || res.Ops == 0 {
				t.Fatalf("%s: %d operations, %d errors (first: %s)", op, res.Ops, res.Errors, res.FirstError)
			}
			for _, o := range res.Mix {
				if o.Ops == 0 {
					t.Fatalf("%s: no %s in the mix", op, o.Op)
				}
			}
		})
	}
}
