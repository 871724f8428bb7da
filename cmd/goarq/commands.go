package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/inspect"
	"github.com/goarq/goarq/internal/view"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// parseArg reads a command-line argument as a JSON literal. A bare word
// that does not look like JSON is a string; one that does (it starts with
// {, [, ", a digit, or - or . and a digit) must be valid JSON: "007",
// "[1,2" and '{"a": 1' are errors, never strings.
func parseArg(s string) (any, error) {
	if looksLikeJSON(s) {
		var probe any
		if err := json.Unmarshal([]byte(s), &probe); err != nil {
			return nil, fmt.Errorf("%q looks like JSON but is not: %v (for a string, quote it: '\"%s\"')", s, err, s)
		}
	}
	v, err := arqcompat.UnmarshalJSON([]byte(s))
	if err != nil {
		if looksLikeJSON(s) {
			return nil, fmt.Errorf("%q: %v", s, err)
		}
		return s, nil
	}
	return v, nil
}

func looksLikeJSON(s string) bool {
	t := strings.TrimSpace(s)
	digit := func(i int) bool { return len(t) > i && t[i] >= '0' && t[i] <= '9' }
	switch {
	case t == "":
		return false
	case t[0] == '{', t[0] == '[', t[0] == '"', digit(0):
		return true
	case t[0] == '-' && (digit(1) || len(t) > 2 && t[1] == '.' && digit(2)), t[0] == '.' && digit(1):
		return true
	}
	return false
}

func enqueueCommand() *cli.Command {
	return &cli.Command{
		Name:      "enqueue",
		Usage:     "enqueue a job, as arq's enqueue_job; prints the job id",
		ArgsUsage: "FUNCTION [ARG...]",
		Description: `Arguments are JSON literals (1, 2.5, "text", [1, 2], {"a": 1}, true, null); a bare word is a string.
An argument that looks like JSON (it starts with {, [, ", a digit, or -digit) must parse: 007 or [1,2 is an error
(exit 2), never a string; quote it as JSON ('"007"') to send a string. Arguments after -- are never flags.

Example:
   goarq enqueue send_email user@example.com --kwarg subject='"hi"' --defer-by 10s
   goarq enqueue add 1 2 --wait 30s`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "kwarg", Usage: "keyword argument key=JSON (repeatable)"},
			&cli.StringFlag{Name: "job-id", Usage: "job id (default: a random uuid4 hex)"},
			&cli.DurationFlag{Name: "defer-by", Usage: "run no sooner than this from now"},
			&cli.TimestampFlag{Name: "defer-until", Usage: "run no sooner than this time (RFC 3339)", Layout: time.RFC3339},
			&cli.DurationFlag{Name: "expires", Usage: "do not start the job after this long"},
			&cli.IntFlag{Name: "job-try", Usage: "start counting tries from this number"},
			&cli.DurationFlag{Name: "wait", Usage: "wait up to this long for the result and print it"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return fail(exitUsage, "enqueue: missing FUNCTION (see goarq enqueue --help)")
			}
			var args []any
			for i, a := range c.Args().Slice()[1:] {
				v, err := parseArg(a)
				if err != nil {
					return fail(exitUsage, "enqueue: argument %d: %v", i+1, err)
				}
				args = append(args, v)
			}
			kwargs := &arqcompat.Dict{}
			for _, kv := range c.StringSlice("kwarg") {
				k, raw, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return fail(exitUsage, "enqueue: --kwarg %q: want key=JSON", kv)
				}
				v, err := parseArg(raw)
				if err != nil {
					return fail(exitUsage, "enqueue: --kwarg %s: %v", k, err)
				}
				_ = kwargs.Set(k, v)
			}
			opts := client.EnqueueOptions{JobID: c.String("job-id"), DeferBy: c.Duration("defer-by"),
				Expires: c.Duration("expires"), JobTry: c.Int("job-try")}
			if t := c.Timestamp("defer-until"); t != nil {
				opts.DeferUntil = *t
			}
			if opts.DeferBy != 0 && !opts.DeferUntil.IsZero() {
				return fail(exitUsage, "enqueue: use either --defer-by or --defer-until, not both")
			}
			cl, err := connect(c)
			if err != nil {
				return err
			}
			defer cl.Close()
			job, err := cl.EnqueueRequest(c.Context, client.Request{Function: c.Args().First(), Args: args, Kwargs: kwargs, Options: opts})
			switch {
			case errors.Is(err, client.ErrJobExists):
				if c.Bool("json") {
					_ = printJSON(c, map[string]any{"enqueued": false, "job_id": opts.JobID})
				}
				return fail(exitDuplicate, "a job with id %q is already queued, running or has a kept result", opts.JobID)
			case errors.Is(err, client.ErrInvalidRequest):
				return fail(exitUsage, "%v", err)
			case err != nil:
				return cmdRedisError(c, err)
			}
			if d := c.Duration("wait"); d > 0 {
				return printResult(c, job, d)
			}
			if c.Bool("json") {
				return printJSON(c, map[string]any{"enqueued": true, "job_id": job.ID})
			}
			fmt.Fprintln(c.App.Writer, job.ID)
			return nil
		},
	}
}

// withClient connects, runs fn and closes the connection.
func withClient(c *cli.Context, fn func(cl *client.Client) error) error {
	cl, err := connect(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	return fn(cl)
}

// withInspector is withClient for a command that reads through an
// Inspector; its results index is refreshed on every read.
func withInspector(c *cli.Context, fn func(in *inspect.Inspector) error) error {
	return withClient(c, func(cl *client.Client) error { return fn(inspect.New(cl, inspect.Options{CacheTTL: -1})) })
}

// withJob is withClient for a command whose one argument is a job id.
func withJob(c *cli.Context, fn func(cl *client.Client, job *client.Job) error) error {
	id, err := oneArg(c, "JOB_ID")
	if err != nil {
		return err
	}
	return withClient(c, func(cl *client.Client) error { return fn(cl, cl.Job(id, "")) })
}

func statusCommand() *cli.Command {
	return &cli.Command{
		Name: "status", Usage: "print a job's status: deferred, queued, in_progress, complete or not_found (exit 1)",
		ArgsUsage: "JOB_ID", Description: "Example:\n   goarq status 5c1f0e3b9a2d4e6f8a7b6c5d4e3f2a1b",
		Action: func(c *cli.Context) error {
			return withJob(c, func(_ *client.Client, job *client.Job) error {
				st, err := job.Status(c.Context)
				if err != nil {
					return cmdRedisError(c, err)
				}
				if c.Bool("json") {
					_ = printJSON(c, map[string]any{"job_id": job.ID, "status": st})
				} else {
					fmt.Fprintln(c.App.Writer, st)
				}
				if st == client.StatusNotFound {
					return fail(exitNegative, "") // like info and result of an unknown job
				}
				return nil
			})
		},
	}
}

func resultCommand() *cli.Command {
	return &cli.Command{
		Name: "result", Usage: "wait for a job's result and print it; a failed job prints the Python exception and exits 1, a timeout exits 5",
		ArgsUsage:   "JOB_ID",
		Flags:       []cli.Flag{&cli.DurationFlag{Name: "timeout", Usage: "give up after this long (0: wait forever)"}},
		Description: "Example:\n   goarq result --timeout 10s 5c1f0e3b9a2d4e6f8a7b6c5d4e3f2a1b",
		Action: func(c *cli.Context) error {
			return withJob(c, func(_ *client.Client, job *client.Job) error {
				return printResult(c, job, c.Duration("timeout"))
			})
		},
	}
}

func printResult(c *cli.Context, job *client.Job, timeout time.Duration) error {
	v, err := job.Result(c.Context, client.ResultOptions{Timeout: timeout, PollDelay: 100 * time.Millisecond})
	var fe *client.JobFailedError
	switch {
	case err == nil:
		if c.Bool("json") {
			return printJSON(c, map[string]any{"job_id": job.ID, "success": true, "result": view.JSON(v)})
		}
		fmt.Fprintln(c.App.Writer, arqcompat.Repr(v))
		return nil
	case errors.As(err, &fe):
		if c.Bool("json") {
			out := map[string]any{"job_id": job.ID, "success": false, "result": view.JSON(fe.Result.Result)}
			if fe.Exception != nil {
				out["exception"] = view.Exception(fe.Exception)
			}
			_ = printJSON(c, out)
			return fail(exitNegative, "")
		}
		if fe.Exception != nil {
			return fail(exitNegative, "job %s failed: %s", job.ID, fe.Exception.Error())
		}
		return fail(exitNegative, "job %s failed: %s", job.ID, arqcompat.Repr(fe.Result.Result))
	case errors.Is(err, client.ErrResultNotFound):
		return fail(exitNegative, "job %s: no result, and the job is not queued (unknown id, or its result was not kept)", job.ID)
	case errors.Is(err, client.ErrResultTimeout):
		return fail(exitTimeout, "job %s: no result within %s", job.ID, timeout)
	}
	return cmdRedisError(c, err)
}

// jobTry is a job's try as arq's JobDef.job_try: the enqueuer's _job_try,
// None (nil) when it set none, as for every job that has not run.
func jobTry(d client.JobDef) any {
	if d.JobTry == 0 {
		return nil
	}
	return d.JobTry
}

// jobTryText is jobTry as Python prints it.
func jobTryText(d client.JobDef) string {
	if d.JobTry == 0 {
		return "None"
	}
	return fmt.Sprint(d.JobTry)
}

// jobJSON is a job's fields for --json; err is the record's problem (the
// Err of a listed job or result), nil when it was read.
func jobJSON(d client.JobDef, err error) map[string]any {
	m := map[string]any{"job_id": d.JobID}
	if err == nil {
		m["function"], m["args"], m["kwargs"] = d.Function, view.JSON(d.Args), view.JSON(d.Kwargs)
		m["job_try"], m["enqueue_time"] = jobTry(d), d.EnqueueTime.Format(time.RFC3339Nano)
	} else {
		m["error"] = recordProblem(err)
	}
	if d.Score != nil {
		m["score"] = *d.Score
		m["run_at"] = time.UnixMilli(*d.Score).UTC().Format(time.RFC3339Nano)
	}
	return m
}

// recordProblem says why a listed record is not shown.
func recordProblem(err error) string {
	if errors.Is(err, inspect.ErrJobExpired) {
		return "expired: the job key is gone while the job is still queued"
	}
	return "unreadable: " + err.Error()
}

func infoCommand() *cli.Command {
	return &cli.Command{
		Name: "info", Usage: "print all that is known of a job: definition, score, result", ArgsUsage: "JOB_ID",
		Description: "Example:\n   goarq --json info 5c1f0e3b9a2d4e6f8a7b6c5d4e3f2a1b",
		Action: func(c *cli.Context) error {
			return withJob(c, func(_ *client.Client, job *client.Job) error {
				info, err := job.Info(c.Context)
				if errors.Is(err, client.ErrJobNotFound) {
					return fail(exitNegative, "job %s not found", job.ID)
				}
				if err != nil {
					return cmdRedisError(c, err)
				}
				m := jobJSON(info.JobDef, nil)
				if info.IsFinished() {
					m["success"], m["result"] = info.Success, view.JSON(info.Result)
					m["start_time"], m["finish_time"] = info.StartTime.Format(time.RFC3339Nano), info.FinishTime.Format(time.RFC3339Nano)
					m["queue_name"] = info.QueueName
				}
				if c.Bool("json") {
					return printJSON(c, m)
				}
				w := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
				fmt.Fprintf(w, "job_id\t%s\nfunction\t%s\nargs\t%s\njob_try\t%s\nenqueue_time\t%s\n", info.JobID, info.Function,
					arqcompat.ReprArgs(info.Args, info.Kwargs), jobTryText(info.JobDef), info.EnqueueTime.Format(time.RFC3339Nano))
				if info.Score != nil {
					fmt.Fprintf(w, "run_at\t%s\n", time.UnixMilli(*info.Score).UTC().Format(time.RFC3339Nano))
				}
				if info.IsFinished() {
					fmt.Fprintf(w, "success\t%v\nresult\t%s\nstart_time\t%s\nfinish_time\t%s\n", info.Success, arqcompat.Repr(info.Result),
						info.StartTime.Format(time.RFC3339Nano), info.FinishTime.Format(time.RFC3339Nano))
				}
				return w.Flush()
			})
		},
	}
}

func abortCommand() *cli.Command {
	return &cli.Command{
		Name: "abort", Usage: "abort a job, as arq's Job.abort; exits 0 only when the job was aborted", ArgsUsage: "JOB_ID",
		Flags:       []cli.Flag{&cli.DurationFlag{Name: "timeout", Value: 10 * time.Second, Usage: "wait this long for the worker to abort it"}},
		Description: "The worker must run with allow_abort_jobs.\n\nExample:\n   goarq abort --timeout 5s 5c1f0e3b9a2d4e6f8a7b6c5d4e3f2a1b",
		Action: func(c *cli.Context) error {
			return withJob(c, func(_ *client.Client, job *client.Job) error {
				ok, err := job.Abort(c.Context, client.ResultOptions{Timeout: c.Duration("timeout"), PollDelay: 100 * time.Millisecond})
				if err != nil {
					return cmdRedisError(c, err)
				}
				if c.Bool("json") {
					_ = printJSON(c, map[string]any{"job_id": job.ID, "aborted": ok})
				} else if ok {
					fmt.Fprintln(c.App.Writer, "aborted")
				}
				if !ok {
					return fail(exitNegative, "job %s was not aborted (finished first, unknown, or the worker does not allow aborts)", job.ID)
				}
				return nil
			})
		},
	}
}

func jobsCommand() *cli.Command {
	return &cli.Command{
		Name: "jobs", Usage: "list queued and deferred jobs, in the order they run",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "limit", Value: 50, Usage: "show at most this many (0: all)"},
			&cli.StringFlag{Name: "function", Usage: "only jobs of this function"},
		},
		Description: `TRY is arq's JobDef.job_try: the enqueuer's _job_try, None for a job enqueued without one.
A job that cannot be read is listed with "unreadable: <why>" in the last column, one whose key
expired with "expired".

Example:
   goarq --queue arq:queue jobs --limit 20`,
		Action: func(c *cli.Context) error {
			return withInspector(c, func(in *inspect.Inspector) error {
				jobs, err := listJobs(c.Context, in, c.String("function"), max(0, c.Int("limit")))
				if err != nil {
					return cmdRedisError(c, err)
				}
				if c.Bool("json") {
					rows := []any{}
					for _, j := range jobs {
						rows = append(rows, jobJSON(j.JobDef, j.Err))
					}
					return printJSON(c, map[string]any{"queue": in.Client().QueueName(), "jobs": rows})
				}
				w := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "JOB ID\tFUNCTION\tARGS\tTRY\tENQUEUED\tRUNS")
				now := time.Now()
				for _, j := range jobs {
					if j.Err != nil {
						// every column filled, so that tabwriter keeps one
						// column block above and below this row
						fmt.Fprintf(w, "%s\t?\t-\t-\t-\t%s\n", j.JobID, recordProblem(j.Err))
						continue
					}
					runs := "now"
					if j.Score != nil && *j.Score > arqcompat.TimestampMS(now) {
						runs = "in " + time.UnixMilli(*j.Score).Sub(now).Round(time.Second).String()
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", j.JobID, j.Function, clip(arqcompat.ReprArgs(j.Args, j.Kwargs), 40), jobTryText(j.JobDef),
						j.EnqueueTime.Local().Format("2006-01-02 15:04:05"), runs)
				}
				return w.Flush()
			})
		},
	}
}

// listJobs reads the queue's jobs a page at a time until it has limit of
// them (0: all), so that a limit bounds what is read.
func listJobs(ctx context.Context, in *inspect.Inspector, function string, limit int) ([]inspect.QueuedJob, error) {
	var out []inspect.QueuedJob
	q := inspect.JobsQuery{Function: function}
	for {
		q.Limit = inspect.MaxLimit
		if limit > 0 {
			q.Limit = min(limit-len(out), inspect.MaxLimit)
		}
		p, err := in.Jobs(ctx, q)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Jobs...)
		if p.NextOffset < 0 || (limit > 0 && len(out) >= limit) {
			return out, nil
		}
		q.Offset = p.NextOffset
	}
}

// listResults reads the kept results a page at a time until it has limit
// of them (0: all).
func listResults(ctx context.Context, in *inspect.Inspector, q inspect.ResultsQuery, limit int) ([]inspect.ResultEntry, error) {
	snap, err := in.Snapshot(ctx, -1)
	if err != nil {
		return nil, err
	}
	var out []inspect.ResultEntry
	for {
		q.Limit = inspect.MaxLimit
		if limit > 0 {
			q.Limit = min(limit-len(out), inspect.MaxLimit)
		}
		p, err := in.Results(ctx, snap, q)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Results...)
		q.Offset += q.Limit
		if q.Offset >= p.Matched || (limit > 0 && len(out) >= limit) {
			return out, nil
		}
	}
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func resultsCommand() *cli.Command {
	return &cli.Command{
		Name: "results", Usage: "list the kept results of the queue's jobs, newest first",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "failed", Usage: "only failed jobs"},
			&cli.StringFlag{Name: "function", Usage: "only jobs of this function"},
			&cli.IntFlag{Name: "limit", Value: 50, Usage: "show at most this many (0: all)"},
			&cli.BoolFlag{Name: "all-queues", Usage: "the results of every queue's jobs, not only --queue's"},
		},
		Description: `Results are those of --queue's jobs (by the queue name each result record carries),
sorted by finish time, newest first. A result that cannot be read is listed last, whatever its
queue, with "unreadable: <why>" as its result.

Example:
   goarq results --failed --limit 10
   goarq --queue emails results --function send_email`,
		Action: func(c *cli.Context) error {
			return withInspector(c, func(in *inspect.Inspector) error {
				q := inspect.ResultsQuery{Function: c.String("function")}
				if !c.Bool("all-queues") {
					q.Queue = in.Client().QueueName()
				}
				if c.Bool("failed") {
					q.Success = "failed"
				}
				entries, err := listResults(c.Context, in, q, max(0, c.Int("limit")))
				if err != nil {
					return cmdRedisError(c, err)
				}
				rows := make([]*client.JobResult, len(entries))
				for i, e := range entries {
					rows[i] = e.Result
					if e.Err != nil {
						rows[i] = &client.JobResult{JobDef: client.JobDef{JobID: e.Summary.JobID}}
					}
				}
				if c.Bool("json") {
					out := []any{}
					for i, r := range rows {
						m := jobJSON(r.JobDef, entries[i].Err)
						if entries[i].Err == nil {
							m["job_try"] = r.JobTry // the try that ran, never None
							m["success"], m["result"], m["queue_name"] = r.Success, view.JSON(r.Result), r.QueueName
							m["start_time"], m["finish_time"] = r.StartTime.Format(time.RFC3339Nano), r.FinishTime.Format(time.RFC3339Nano)
							m["duration_s"] = r.FinishTime.Sub(r.StartTime).Seconds()
						}
						out = append(out, m)
					}
					return printJSON(c, map[string]any{"results": out})
				}
				w := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "JOB ID\tQUEUE\tFUNCTION\tOK\tDURATION\tFINISHED\tRESULT")
				for i, r := range rows {
					if err := entries[i].Err; err != nil {
						fmt.Fprintf(w, "%s\t?\t?\t-\t-\t-\t%s\n", r.JobID, recordProblem(err))
						continue
					}
					shown := arqcompat.Repr(r.Result)
					if exc, ok := r.Result.(*arqcompat.Exception); ok {
						shown = exc.Error()
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%s\t%s\t%s\n", r.JobID, r.QueueName, r.Function, r.Success,
						r.FinishTime.Sub(r.StartTime).Round(time.Millisecond), r.FinishTime.Local().Format("2006-01-02 15:04:05"), clip(shown, 50))
				}
				return w.Flush()
			})
		},
	}
}

func healthCommand() *cli.Command {
	return &cli.Command{
		Name: "health", Usage: "exit 0 when a worker's health-check key is present, 1 when not, like arq --check",
		Flags:       []cli.Flag{&cli.StringFlag{Name: "health-check-key", Usage: "the key (default: <queue>:health-check)"}},
		Description: "Example:\n   goarq --queue arq:queue health && echo healthy",
		Action: func(c *cli.Context) error {
			return withInspector(c, func(in *inspect.Inspector) error {
				h, err := in.Health(c.Context, c.String("health-check-key"))
				if err != nil {
					return cmdRedisError(c, err)
				}
				key, v := h.Key, h.Line
				if c.Bool("json") {
					_ = printJSON(c, map[string]any{"key": key, "healthy": v != "", "value": v})
				}
				if v == "" {
					return fail(exitNegative, "health check failed: no health check sentinel value found at %s", key)
				}
				if !c.Bool("json") {
					fmt.Fprintln(c.App.Writer, "health check successful: "+v)
				}
				return nil
			})
		},
	}
}

func statsCommand() *cli.Command {
	return &cli.Command{
		Name: "stats", Usage: "queued, deferred and running jobs, kept results and the workers' health line",
		Flags: []cli.Flag{&cli.DurationFlag{Name: "watch", Usage: "refresh every interval until interrupted"}},
		Description: `With --watch on a terminal the screen is redrawn; piped, each refresh prints one more block
(with --json, one more JSON line).

Example:
   goarq stats --watch 2s`,
		Action: func(c *cli.Context) error {
			// one Inspector for every tick: its results index decodes only
			// the results that are new since the last tick
			return withInspector(c, func(in *inspect.Inspector) error {
				for {
					q, err := in.QueueStats(c.Context, "", nil)
					if err != nil && c.Context.Err() != nil {
						return nil // interrupted while watching
					}
					if err != nil {
						return cmdRedisError(c, err)
					}
					if c.Bool("json") {
						_ = printJSON(c, statsJSON(q))
					} else {
						if c.Duration("watch") > 0 {
							if isTerminal(c.App.Writer) {
								fmt.Fprint(c.App.Writer, "\033[H\033[2J")
							} else {
								fmt.Fprintln(c.App.Writer, time.Now().Format("15:04:05"))
							}
						}
						w := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
						fmt.Fprintln(w, "QUEUE\tQUEUED\tDEFERRED\tIN PROGRESS\tRESULTS OK\tRESULTS FAILED")
						fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\n", q.Queue, q.Queued, q.Deferred, q.InProgress, q.ResultsOK, q.ResultsFailed)
						_ = w.Flush()
						health := q.Health.Line
						if health == "" {
							health = "no worker health check found"
						}
						fmt.Fprintln(c.App.Writer, "health: "+health)
						if q.ResultsLeftOut > 0 {
							fmt.Fprintf(c.App.Writer, "kept results not counted (past the index's bound): %d\n", q.ResultsLeftOut)
						}
						if q.ResultsUnreadable > 0 {
							fmt.Fprintf(c.App.Writer, "unreadable results (any queue): %d, see goarq results\n", q.ResultsUnreadable)
						}
					}
					d := c.Duration("watch")
					if d <= 0 {
						return nil
					}
					select {
					case <-c.Context.Done():
						return nil
					case <-time.After(d):
					}
				}
			})
		},
	}
}

// statsJSON is what stats --json prints of q.
func statsJSON(q inspect.QueueStats) map[string]any {
	return map[string]any{"queue": q.Queue, "queued": q.Queued, "deferred": q.Deferred, "in_progress": q.InProgress,
		"results_ok": q.ResultsOK, "results_failed": q.ResultsFailed, "results_unreadable": q.ResultsUnreadable,
		"results_left_out": q.ResultsLeftOut, "health": q.Health.Line}
}

// isTerminal reports whether w is a terminal (a character device), where
// stats --watch may clear the screen. A writer may also say so itself.
func isTerminal(w io.Writer) bool {
	if t, ok := w.(interface{ IsTerminal() bool }); ok {
		return t.IsTerminal()
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
