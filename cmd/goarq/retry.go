package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/history"
)

func retryCommand() *cli.Command {
	return &cli.Command{
		Name:      "retry",
		Usage:     "enqueue final failures again, in bulk, from the history (and the kept results)",
		ArgsUsage: " ",
		Flags: append(filterFlags(), historyFlag(),
			&cli.BoolFlag{Name: "failed", Usage: "required: retry final failures (the only kind retry enqueues)"},
			&cli.BoolFlag{Name: "yes", Usage: "enqueue; without it retry only shows what it would enqueue"},
			&cli.IntFlag{Name: "limit", Value: 1000, Usage: "enqueue at most this many"},
			&cli.BoolFlag{Name: "no-sync", Usage: "do not first copy the kept results into the history"}),
		Description: "A dry run unless --yes. Each new job gets a new id; the history links it to the failure it retries,\n" +
			"   both ways. A failure already retried is not retried again; one whose record cannot be decoded never is.\n\n" +
			"Example:\n   goarq retry --failed --function send_email --exception ValueError --since 2h --yes",
		Action: func(c *cli.Context) error {
			if !c.Bool("failed") {
				return fail(exitUsage, "retry: give --failed (retry enqueues final failures only)")
			}
			f, err := filterFrom(c)
			if err != nil {
				return err
			}
			if c.Int("limit") <= 0 {
				return fail(exitUsage, "--limit: must be positive")
			}
			return withClient(c, func(cl *client.Client) error {
				// without --no-sync it copies the kept results into the store
				// first, so it may start one: retry works from kept results alone
				return withHistory(c, !c.Bool("no-sync"), func(s history.Store) error {
					if !c.Bool("no-sync") {
						rec := history.NewRecorder(cl, s, history.RecorderOptions{Serializer: cl.Serializer(), Logger: quietLogger()})
						if err := rec.Sync(c.Context); err != nil {
							return cmdRedisError(c, err)
						}
					}
					plan, err := history.PlanRetry(c.Context, s, f, c.Int("limit"))
					if err != nil {
						return fail(exitNegative, "%v", err)
					}
					if !c.Bool("yes") {
						return printPlan(c, plan)
					}
					done := history.Retry(c.Context, s, cl, plan)
					return printRetried(c, plan, done)
				})
			})
		},
	}
}

type planJSON struct {
	DryRun  bool        `json:"dry_run"`
	Count   int         `json:"count"`
	More    bool        `json:"more"`
	Jobs    []retryJSON `json:"jobs"`
	Skipped []retryJSON `json:"skipped"`
}

type retryJSON struct {
	ID        int64  `json:"history_id"`
	JobID     string `json:"job_id"`
	Queue     string `json:"queue"`
	Function  string `json:"function"`
	Args      string `json:"args"`
	Exception string `json:"exception,omitempty"`
	NewJobID  string `json:"new_job_id,omitempty"`
	Error     string `json:"error,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

func candJSON(c history.RetryCandidate) retryJSON {
	r := c.Record
	return retryJSON{ID: r.ID, JobID: r.JobID, Queue: r.Queue, Function: r.Function, Args: r.Args, Exception: r.ExcClass, Reason: c.Skip}
}

func printPlan(c *cli.Context, plan history.RetryPlan) error {
	if c.Bool("json") {
		out := planJSON{DryRun: true, Count: len(plan.Enqueue), More: plan.More, Jobs: []retryJSON{}, Skipped: []retryJSON{}}
		for _, cand := range plan.Enqueue {
			out.Jobs = append(out.Jobs, candJSON(cand))
		}
		for _, cand := range plan.Skipped {
			out.Skipped = append(out.Skipped, candJSON(cand))
		}
		return printJSON(c, out)
	}
	w := c.App.Writer
	if len(plan.Enqueue) == 0 {
		fmt.Fprintln(w, "no final failure matches: nothing to enqueue")
		printSkipped(c, plan)
		return nil
	}
	more := ""
	if plan.More {
		more = " (more match: raise --limit)"
	}
	fmt.Fprintf(w, "would enqueue %s again%s:\n", count(len(plan.Enqueue), "job", "jobs"), more)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, cand := range plan.Enqueue {
		r := cand.Record
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", r.JobID, r.Queue, clip(r.Function+"("+r.Args+")", 60), r.ExcClass)
	}
	_ = tw.Flush()
	printSkipped(c, plan)
	fmt.Fprintln(w, "dry run: nothing enqueued; add --yes to enqueue")
	return nil
}

func printSkipped(c *cli.Context, plan history.RetryPlan) {
	if len(plan.Skipped) == 0 {
		return
	}
	fmt.Fprintf(c.App.Writer, "not enqueued again (%d):\n", len(plan.Skipped))
	for _, cand := range plan.Skipped {
		fmt.Fprintf(c.App.Writer, "  %s: %s\n", cand.Record.JobID, cand.Skip)
	}
}

func printRetried(c *cli.Context, plan history.RetryPlan, done []history.Retried) error {
	failed := 0
	out := planJSON{Jobs: []retryJSON{}, Skipped: []retryJSON{}, More: plan.More}
	for _, d := range done {
		j := candJSON(history.RetryCandidate{Record: d.Origin})
		if d.Err != nil {
			failed++
			j.Error = d.Err.Error()
		} else {
			j.NewJobID = d.NewJobID
			out.Count++
		}
		out.Jobs = append(out.Jobs, j)
	}
	for _, cand := range plan.Skipped {
		out.Skipped = append(out.Skipped, candJSON(cand))
	}
	if c.Bool("json") {
		if err := printJSON(c, out); err != nil {
			return err
		}
	} else {
		if len(out.Jobs) == 0 {
			fmt.Fprintln(c.App.Writer, "no final failure matches: nothing enqueued")
		} else {
			fmt.Fprintf(c.App.Writer, "enqueued %s again:\n", count(out.Count, "job", "jobs"))
		}
		for _, j := range out.Jobs {
			if j.Error != "" {
				fmt.Fprintf(c.App.Writer, "  %s: FAILED: %s\n", j.JobID, j.Error)
			} else {
				fmt.Fprintf(c.App.Writer, "  %s -> %s  %s\n", j.JobID, j.NewJobID, clip(j.Function+"("+j.Args+")", 60))
			}
		}
		printSkipped(c, plan)
	}
	if failed > 0 {
		return fail(exitRedis, "%d of %d enqueues failed", failed, len(done))
	}
	return nil
}

// count is "1 job" or "3 jobs".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
