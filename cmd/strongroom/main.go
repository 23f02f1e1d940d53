// Command strongroom is the Strongroom key server and its administrator's
// tool: `init` prepares a node, `serve` runs the KMIP server, and `key ...`
// manages keys over KMIP with the Crypto Officer certificate.
//
// This package only wires: the protocol lives in kmip/..., the HSM in hsm/...,
// the database in storage/....
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

func main() {
	app := &cli.App{
		Name:  "strongroom",
		Usage: "hardware-backed KMIP key manager",
		Flags: []cli.Flag{
			&cli.StringFlag{
				Name: "config", Aliases: []string{"c"}, EnvVars: []string{"STRONGROOM_CONFIG"},
				Usage: "configuration file", Value: "/etc/strongroom/strongroom.json",
			},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
		},
		Commands: []*cli.Command{
			initCommand(),
			serveCommand(),
			keyCommand(),
			benchCommand(),
		},
		ExitErrHandler: func(c *cli.Context, err error) {},
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "strongroom: %v\n", err)
		os.Exit(1)
	}
}
