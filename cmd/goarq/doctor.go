package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/doctor"
)

// commandQueues is a command's own repeatable --queue (also
// comma-separated), else the global --queue.
func commandQueues(c *cli.Context) []string {
	var qs []string
	for _, q := range c.StringSlice("queue") {
		for _, p := range strings.Split(q, ",") {
			if p = strings.TrimSpace(p); p != "" {
				qs = append(qs, p)
			}
		}
	}
	if len(qs) == 0 {
		if l := c.Lineage(); len(l) > 1 {
			qs = []string{l[1].String("queue")}
		}
	}
	if len(qs) == 0 || qs[0] == "" {
		qs = []string{arqcompat.DefaultQueueName}
	}
	return qs
}

func doctorCommand() *cli.Command {
	return &cli.Command{
		Name:  "doctor",
		Usage: "check the deployment (eviction, persistence, push wake-up, ACL, clock, records, stuck jobs) and say what to fix; exit 1 on a problem",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "queue", Usage: "queue to check (repeat for more; default: the global --queue)"},
			&cli.DurationFlag{Name: "job-timeout", Usage: "the workers' job timeout: an in-progress job due longer ago, with no live worker, is stuck", Value: doctor.Options{}.JobTimeout},
			&cli.DurationFlag{Name: "max-ready-age", Usage: "a ready job waiting longer is a problem (default 5m)"},
			&cli.DurationFlag{Name: "max-clock-skew", Usage: "clock skew with Redis's TIME from which on it is a problem (default 1s)"},
			&cli.IntFlag{Name: "sample", Usage: "records read per queue for the serializer and function checks (default 200)"},
			&cli.StringFlag{Name: "acl-user", Usage: "check this ACL user's permissions (ACL DRYRUN; default: the connection's user)"},
			&cli.StringSliceFlag{Name: "role", Usage: "a role the user must be able to play (worker, producer, dashboard, dashboard-read-only, exporter); missing permissions are then a problem"},
		},
		Description: "Example:\n   goarq doctor --queue arq:queue --queue emails --role worker\n\n" +
			"Exit status: 0 when no check found a problem (warnings allowed), 1 on a problem, 4 when Redis cannot be reached.",
		Action: func(c *cli.Context) error {
			ser, err := arqcompat.SerializerByName(c.String("serializer"))
			if err != nil {
				return fail(exitUsage, "%v", err)
			}
			o := doctor.Options{Queues: commandQueues(c), Serializer: ser, JobTimeout: c.Duration("job-timeout"),
				MaxReadyAge: c.Duration("max-ready-age"), MaxClockSkew: c.Duration("max-clock-skew"), Sample: c.Int("sample"),
				ACLUser: c.String("acl-user"), Roles: c.StringSlice("role")}
			return withClient(c, func(cl *client.Client) error {
				rep, err := doctor.Run(c.Context, cl, o)
				if errors.Is(err, doctor.ErrUnknownRole) {
					return fail(exitUsage, "--role: %v", err)
				}
				if err != nil {
					return cmdRedisError(c, err)
				}
				if c.Bool("json") {
					_ = printJSON(c, map[string]any{"ok": rep.Problems() == 0, "problems": rep.Problems(), "warnings": rep.Warnings(), "findings": rep.Findings})
				} else {
					printReport(c, rep)
				}
				if n := rep.Problems(); n > 0 {
					return fail(exitNegative, "doctor found %d problem(s)", n)
				}
				return nil
			})
		},
	}
}

func printReport(c *cli.Context, rep *doctor.Report) {
	tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
	for _, f := range rep.Findings {
		check := f.Check
		if f.Queue != "" {
			check += " [" + f.Queue + "]"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", strings.ToUpper(string(f.Severity)), check, f.Message)
		if len(f.JobIDs) > 0 {
			fmt.Fprintf(tw, "\t\tjobs: %s\n", strings.Join(f.JobIDs, ", "))
		}
		if f.Fix != "" && f.Severity != doctor.OK {
			fmt.Fprintf(tw, "\t\tfix: %s\n", f.Fix)
		}
	}
	_ = tw.Flush()
	fmt.Fprintf(c.App.Writer, "%d problem(s), %d warning(s)\n", rep.Problems(), rep.Warnings())
}
