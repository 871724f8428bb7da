package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/goarq/goarq/doctor"
)

func aclCommand() *cli.Command {
	return &cli.Command{
		Name:  "acl",
		Usage: "print the ACL SETUSER rule with exactly the commands, keys and channels a role needs (Redis 7.0+)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "role", Required: true, Usage: "worker, producer, dashboard, dashboard-read-only or exporter"},
			&cli.StringSliceFlag{Name: "queue", Usage: "queue the role uses (repeat for more; default: the global --queue)"},
			&cli.StringFlag{Name: "user", Usage: "the ACL user's name (default goarq-<role>)"},
			&cli.StringFlag{Name: "password", Usage: "the user's password (default: CHANGE-ME, to replace)", Value: "CHANGE-ME"},
		},
		Description: "Example:\n   goarq acl --role worker --queue arq:queue --password \"$PW\" | redis-cli -u redis://admin@redis:6379\n\n" +
			"The rule starts with reset, so the user has exactly it. A worker whose jobs enqueue into other\n" +
			"queues needs those queues too (repeat --queue).",
		Action: func(c *cli.Context) error {
			role := c.String("role")
			rule, err := doctor.RoleRule(role, commandQueues(c))
			if err != nil {
				return fail(exitUsage, "%v", err)
			}
			user := c.String("user")
			if user == "" {
				user = "goarq-" + role
			}
			setuser := rule.SetUser(user, c.String("password"))
			if c.Bool("json") {
				return printJSON(c, map[string]any{"role": role, "user": user, "commands": rule.Commands, "keys": rule.Keys,
					"channels": rule.Channels, "rule": rule.String(), "setuser": setuser})
			}
			fmt.Fprintln(c.App.Writer, setuser)
			return nil
		},
	}
}
