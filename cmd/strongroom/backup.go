package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5"
	"github.com/urfave/cli/v2"

	"github.com/strongroom/strongroom/backup"
)

func backupCommand() *cli.Command {
	return &cli.Command{
		Name:  "backup",
		Usage: "back up or restore this node's database (keys stay wrapped under the token's KEK)",
		Description: "A backup holds every table of the schema (key rows with their wrapped blobs, events, the audit\n" +
			"trail, certificates) from one consistent snapshot, and no plaintext key: it is useful only with a\n" +
			"token holding the same KEK. Restore into an empty database (it is migrated first), then start serve.",
		Subcommands: []*cli.Command{
			{
				Name: "create", Usage: "write a backup of the configured database to FILE", ArgsUsage: "FILE",
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return errors.New("backup create: want FILE")
					}
					cfg, err := loadConfig(c)
					if err != nil {
						return err
					}
					conn, err := pgx.Connect(c.Context, cfg.Database.URL)
					if err != nil {
						return fmt.Errorf("backup create: connect: %w", err)
					}
					defer conn.Close(c.Context)
					path := c.Args().First()
					f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
					if err != nil {
						return fmt.Errorf("backup create: %w", err)
					}
					defer os.Remove(f.Name())
					m, err := backup.Create(c.Context, conn, cfg.Node, f)
					if err == nil {
						err = f.Sync()
					}
					if cerr := f.Close(); err == nil {
						err = cerr
					}
					if err != nil {
						return err
					}
					if err := os.Rename(f.Name(), path); err != nil {
						return fmt.Errorf("backup create: %w", err)
					}
					for _, t := range m.Tables {
						fmt.Printf("%-28s %8d rows\n", t.Name, t.Rows)
					}
					fmt.Printf("backup of node %s (schema version %d) written to %s\n", m.Node, m.SchemaVersion, path)
					return nil
				},
			},
			{
				Name: "restore", Usage: "restore FILE into the configured database, which must be empty", ArgsUsage: "FILE",
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return errors.New("backup restore: want FILE")
					}
					cfg, err := loadConfig(c)
					if err != nil {
						return err
					}
					f, err := os.Open(c.Args().First())
					if err != nil {
						return fmt.Errorf("backup restore: %w", err)
					}
					defer f.Close()
					// Open migrates the schema to this binary's version.
					store, err := openStore(c.Context, cfg, logger(c))
					if err != nil {
						return err
					}
					store.Close()
					conn, err := pgx.Connect(c.Context, cfg.Database.URL)
					if err != nil {
						return fmt.Errorf("backup restore: connect: %w", err)
					}
					defer conn.Close(c.Context)
					m, err := backup.Restore(c.Context, conn, f)
					if err != nil {
						return err
					}
					for _, t := range m.Tables {
						fmt.Printf("%-28s %8d rows\n", t.Name, t.Rows)
					}
					fmt.Printf("restored the backup of node %s taken %s\n", m.Node, m.Created.Format("2006-01-02 15:04:05Z"))
					return nil
				},
			},
		},
	}
}
