package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/inspect"
)

// workersCommand lists the live goarq workers of the queue, from their
// heartbeat records, and the queue's arq health-check line, which is all a
// Python worker leaves.
func workersCommand() *cli.Command {
	return &cli.Command{
		Name:  "workers",
		Usage: "live goarq workers of the queue (their heartbeat records) and the queue's arq health-check line",
		Description: "Python arq workers keep no heartbeat record; their sign of life is the health-check line\n" +
			"(written every health_check_interval by any worker of the queue).\n\n" +
			"Example:\n   goarq --queue arq:queue workers\n   goarq --json workers",
		Action: func(c *cli.Context) error {
			return withClient(c, func(cl *client.Client) error {
				ws, err := cl.Workers(c.Context, "")
				if err != nil {
					return cmdRedisError(c, err)
				}
				h, err := inspect.New(cl, inspect.Options{}).Health(c.Context, "")
				if err != nil {
					return cmdRedisError(c, err)
				}
				health := h.Line
				if c.Bool("json") {
					return printJSON(c, map[string]any{"queue": cl.QueueName(), "workers": ws, "health": health})
				}
				return printWorkers(c, ws, health)
			})
		},
	}
}

// heartbeatEvery is how often a goarq worker rewrites its heartbeat record
// (worker's heartbeatEvery).
const heartbeatEvery = 5 * time.Second

func printWorkers(c *cli.Context, ws []client.WorkerInfo, health string) error {
	out := c.App.Writer
	if len(ws) == 0 {
		fmt.Fprintln(out, "no live goarq workers")
	} else {
		now := time.Now()
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "WORKER\tHOST\tPID\tVERSION\tUP\tLAST POLL\tCOUNTS AS OF\tRUNNING\tCOMPLETE\tFAILED\tRETRIED\tFUNCTIONS")
		for _, wi := range ws {
			fns := make([]string, len(wi.Functions))
			for i, f := range wi.Functions {
				fns[i] = f
				if n := wi.MaxConcurrency[f]; n > 0 {
					fns[i] = fmt.Sprintf("%s(max %d)", f, n)
				}
			}
			list := strings.Join(fns, ",")
			if wi.OnlyOwnFunctions {
				list += " (only these)"
			}
			fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s ago\t%s ago\t%d/%d\t%d\t%d\t%d\t%s\n", wi.ID, wi.Host, wi.PID, wi.Version,
				now.Sub(wi.Started).Round(time.Second), now.Sub(wi.LastPoll).Round(100*time.Millisecond),
				now.Sub(wi.Updated).Round(100*time.Millisecond),
				wi.Running, wi.MaxJobs, wi.Complete, wi.Failed, wi.Retried, list)
		}
		if err := w.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(out, "(a goarq worker rewrites its record every %s: RUNNING and the counts are as of COUNTS AS OF)\n", heartbeatEvery)
	}
	if health == "" {
		health = "no worker health check found"
	}
	fmt.Fprintln(out, "health: "+health)
	return nil
}
