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
		Name:    "strongroom",
		Usage:   "hardware-backed KMIP key manager",
		Version: version(),
		Flags: []cli.Flag{
			configFlag(),
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
		},
		Commands: []*cli.Command{
			initCommand(),
			serveCommand(),
			keyCommand(),
			benchCommand(),
			conformanceCommand(),
			mirrorCommand(),
			hsmCommand(),
			backupCommand(),
			auditCommand(),
			caCommand(),
		},
		ExitErrHandler: func(c *cli.Context, err error) {},
	}
	for _, cmd := range app.Commands {
		addConfigFlag(cmd)
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "strongroom: %v\n", err)
		os.Exit(1)
	}
}

// addConfigFlag gives a command and its subcommands the --config flag.
func addConfigFlag(cmd *cli.Command) {
	cmd.Flags = append(cmd.Flags, configFlag())
	for _, sub := range cmd.Subcommands {
		addConfigFlag(sub)
	}
}
