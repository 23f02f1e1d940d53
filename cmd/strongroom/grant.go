package main

import (
	"errors"
	"fmt"
	"os/user"
	"strings"

	"github.com/google/uuid"
	"github.com/urfave/cli/v2"

	"github.com/strongroom/strongroom/kmip/ops"
	"github.com/strongroom/strongroom/storage"
)

// Grants are written straight to this node's database (like the audit
// commands read it), not over KMIP: KMIP has no operation for them. The
// row mirrors to peers like every other (key_grants table).

func grantFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "group", Usage: "the group (certificate OU) to grant to"},
		&cli.StringFlag{Name: "user", Usage: "the user (certificate CN) to grant to"},
	}
}

func grantCommand() *cli.Command {
	return &cli.Command{
		Name: "grant", Usage: "let a key client group or user use a key of another group (writes the database directly)",
		ArgsUsage: "UID", Flags: grantFlags(),
		Action: func(c *cli.Context) error { return runGrant(c, "grant") },
	}
}

func revokeGrantCommand() *cli.Command {
	return &cli.Command{
		Name: "revoke-grant", Usage: "take back a grant made with `key grant`",
		ArgsUsage: "UID", Flags: grantFlags(),
		Action: func(c *cli.Context) error { return runGrant(c, "revoke") },
	}
}

func runGrant(c *cli.Context, action string) error {
	uid := c.Args().First()
	group, usr := c.String("group"), c.String("user")
	// urfave/cli stops at the first argument, so `key grant UID --group G`
	// (the documented order) leaves the flags among the arguments.
	rest := c.Args().Tail()
	for len(rest) > 0 {
		name, value, ok := strings.Cut(rest[0], "=")
		rest = rest[1:]
		if !ok {
			if len(rest) == 0 {
				return fmt.Errorf("%s needs a value", name)
			}
			value, rest = rest[0], rest[1:]
		}
		switch name {
		case "--group", "-group":
			group = value
		case "--user", "-user":
			usr = value
		default:
			return fmt.Errorf("unexpected argument %q: give one key UID and --group or --user", name)
		}
	}
	if uid == "" {
		return errors.New("give one key UID")
	}
	kind, grantee := "group", group
	if u := usr; u != "" {
		if grantee != "" {
			return errors.New("give --group or --user, not both")
		}
		kind, grantee = "user", u
	}
	if grantee == "" {
		return errors.New("give --group or --user")
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	store, err := openStore(c.Context, cfg, logger(c))
	if err != nil {
		return err
	}
	defer store.Close()
	if _, _, err := store.Object(c.Context, uid); err != nil {
		return fmt.Errorf("key %s: %w", uid, err)
	}
	by := "local-administrator"
	if u, err := user.Current(); err == nil {
		by = "local:" + u.Username
	}
	// The grant goes into the audit trail, in the local administrator's
	// chain (local.go), right after it is stored.
	ks, err := openHSM(c.Context, cfg, quietLogger(c), false)
	if err != nil {
		return err
	}
	defer ks.Close()
	trailCfg := *cfg
	trailCfg.Node = localAdminChain(cfg.Node)
	trail, closeTrail, err := openTrail(c.Context, &trailCfg, ks, store, quietLogger(c))
	if err != nil {
		return err
	}
	defer closeTrail()
	// The row's MAC is computed in the token (ops.BindGrant); the server
	// ignores grants without a valid one.
	g := storage.Grant{ID: uuid.NewString(), UID: uid, GranteeKind: kind, Grantee: grantee, Action: action, CreatedBy: by}
	if err := ops.BindGrant(c.Context, ks, store.Node(), &g); err != nil {
		return err
	}
	if err := store.AddGrant(c.Context, g); err != nil {
		return err
	}
	op := "Key Grant"
	if action == "revoke" {
		op = "Key Revoke Grant"
	}
	if err := trail.Append(c.Context, storage.AuditRecord{
		Operation: op, UID: uid, User: by, Addr: "local", Status: "Success", Message: kind + " " + grantee,
	}); err != nil {
		return err
	}
	return anchorAdminChain(c.Context, trail, ks, store, quietLogger(c))
}
