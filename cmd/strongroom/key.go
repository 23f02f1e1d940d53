package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/strongroom/strongroom/kmip"
	"github.com/strongroom/strongroom/kmip/client"
	"github.com/strongroom/strongroom/kmip/ttlv"
)

func keyCommand() *cli.Command {
	return &cli.Command{
		Name:  "key",
		Usage: "manage keys on the server over KMIP with the Crypto Officer certificate",
		Subcommands: []*cli.Command{
			{
				Name: "create", Usage: "create an AES key in the HSM",
				Flags: append(clientFlags(),
					&cli.StringFlag{Name: "name", Usage: "key name"},
					&cli.StringFlag{Name: "group", Usage: "object group"},
					&cli.IntFlag{Name: "length", Value: 256, Usage: "128, 192 or 256"},
					&cli.BoolFlag{Name: "activate", Usage: "activate the key at once"},
				),
				Action: func(c *cli.Context) error {
					cl, err := adminClient(c)
					if err != nil {
						return err
					}
					defer cl.Close()
					var extra []kmip.Attribute
					if n := c.String("name"); n != "" {
						extra = append(extra, client.NameAttr(n))
					}
					if g := c.String("group"); g != "" {
						extra = append(extra, kmip.Attr(ttlv.Text(ttlv.TagObjectGroup, g)))
					}
					uid, err := cl.CreateAES(c.Context, int32(c.Int("length")), extra...)
					if err != nil {
						return err
					}
					if c.Bool("activate") {
						if err := cl.Activate(c.Context, uid); err != nil {
							return err
						}
					}
					fmt.Println(uid)
					return nil
				},
			},
			{
				Name: "list", Usage: "list keys: identifier, state, algorithm, length, name",
				Flags: clientFlags(),
				Action: func(c *cli.Context) error {
					cl, err := adminClient(c)
					if err != nil {
						return err
					}
					defer cl.Close()
					uids, err := cl.Locate(c.Context, -1)
					if err != nil {
						return err
					}
					w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(w, "UNIQUE IDENTIFIER\tTYPE\tSTATE\tALGORITHM\tLENGTH\tNAME")
					for _, uid := range uids {
						attrs, err := cl.GetAttributes(c.Context, uid)
						if err != nil {
							return err
						}
						get := func(name string) string { return attrText(attrs, name) }
						fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", uid, get("Object Type"), get("State"),
							get("Cryptographic Algorithm"), get("Cryptographic Length"), get("Name"))
					}
					return w.Flush()
				},
			},
			{
				Name: "show", Usage: "show every attribute of a key", ArgsUsage: "UID",
				Flags: clientFlags(),
				Action: withKey(func(c *cli.Context, cl *client.Client, uid string) error {
					attrs, err := cl.GetAttributes(c.Context, uid)
					if err != nil {
						return err
					}
					for _, a := range attrs {
						fmt.Printf("%s: %s\n", a.Name, valueText(a.Value))
					}
					return nil
				}),
			},
			{
				Name: "activate", Usage: "activate a Pre-Active key", ArgsUsage: "UID", Flags: clientFlags(),
				Action: withKey(func(c *cli.Context, cl *client.Client, uid string) error {
					return cl.Activate(c.Context, uid)
				}),
			},
			{
				Name: "revoke", Usage: "revoke a key (deactivate it, or mark it compromised)", ArgsUsage: "UID",
				Flags: append(clientFlags(),
					&cli.BoolFlag{Name: "compromised", Usage: "the key was compromised"},
					&cli.StringFlag{Name: "message", Usage: "revocation message"}),
				Action: withKey(func(c *cli.Context, cl *client.Client, uid string) error {
					code := ttlv.RevocationReasonCodeCessationOfOperation
					if c.Bool("compromised") {
						code = ttlv.RevocationReasonCodeKeyCompromise
					}
					return cl.Revoke(c.Context, uid, code, c.String("message"))
				}),
			},
			{
				Name: "destroy", Usage: "destroy a key's material (it must not be Active)", ArgsUsage: "UID", Flags: clientFlags(),
				Action: withKey(func(c *cli.Context, cl *client.Client, uid string) error {
					return cl.Destroy(c.Context, uid)
				}),
			},
			grantCommand(), revokeGrantCommand(),
		},
	}
}

// attrText prints the first instance of an attribute.
func attrText(attrs []kmip.Attribute, name string) string {
	for _, a := range attrs {
		if a.Name == name {
			return valueText(a.Value)
		}
	}
	return "-"
}

// valueText prints an attribute value for people. Key material never
// reaches here: the CLI prints attributes, not objects.
func valueText(v ttlv.Item) string {
	switch v.Type {
	case ttlv.TypeEnumeration:
		e, _ := v.EnumValue()
		if n, ok := ttlv.EnumName(v.Tag, e); ok {
			return n
		}
		return fmt.Sprintf("0x%08x", e)
	case ttlv.TypeInteger:
		i, _ := v.Int32()
		if names, ok := ttlv.MaskNames(v.Tag, uint32(i)); ok && len(names) > 0 {
			return strings.Join(names, "|")
		}
		return fmt.Sprint(i)
	case ttlv.TypeStructure:
		if n, ok := v.Find(ttlv.TagNameValue); ok {
			s, _ := n.TextValue()
			return s
		}
		var parts []string
		for _, c := range v.Children() {
			parts = append(parts, valueText(c))
		}
		return strings.Join(parts, " ")
	case ttlv.TypeDateTime, ttlv.TypeDateTimeExtended:
		t, _ := v.TimeValue()
		return t.UTC().Format("2006-01-02T15:04:05Z")
	case ttlv.TypeByteString:
		b, _ := v.BytesValue()
		return fmt.Sprintf("%x", b)
	}
	return fmt.Sprint(v.Value)
}

// withKey adapts an action on one key: it checks the UID argument and
// connects with the Crypto Officer certificate.
func withKey(f func(c *cli.Context, cl *client.Client, uid string) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		if c.NArg() != 1 {
			return fmt.Errorf("%s needs exactly one key identifier", c.Command.Name)
		}
		cl, err := adminClient(c)
		if err != nil {
			return err
		}
		defer cl.Close()
		return f(c, cl, c.Args().First())
	}
}
