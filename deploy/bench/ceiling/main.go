// Command ceiling is the bare TLS server of the benchmark
// (internal/benchceiling): `go run ./deploy/bench/ceiling --listen
// 127.0.0.1:15697 --cert server.pem --key server-key.pem --ca ca.pem`.
// It serves until SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/strongroom/strongroom/internal/benchceiling"
	"github.com/strongroom/strongroom/kmip/server"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:15697", "address to listen on")
	cert := flag.String("cert", "", "server certificate PEM")
	key := flag.String("key", "", "server private key PEM")
	ca := flag.String("ca", "", "CA that client certificates must chain to")
	flag.Parse()
	if err := run(*listen, *cert, *key, *ca); err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
}

func run(listen, cert, key, ca string) error {
	// The same TLS configuration as Strongroom's listener (versions,
	// suites, client certificates required).
	cfg, err := server.NewTLSConfig(cert, key, ca)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "ceiling: listening on", ln.Addr())
	return benchceiling.New().Serve(ctx, ln, cfg)
}
