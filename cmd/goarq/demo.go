package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/urfave/cli/v2"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/worker"
)

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "run a Go worker and the Go client on an embedded Redis (or --redis) and show every job outcome",
		Description: `Without --redis the demo starts an embedded Redis and needs nothing installed; ARQ_REDIS_URL and
REDIS_URL are ignored, so that the demo never writes into the Redis your app uses unless you name it.

Example:
   goarq demo
   goarq --redis redis://localhost:6379/0 demo`,
		Action: runDemo,
	}
}

// demoFunctions are the example job functions the demo's worker runs.
func demoFunctions() []worker.Function {
	return []worker.Function{
		worker.Func("add", func(ctx context.Context, a, b int) (int, error) { return a + b, nil }, worker.WithParams("a", "b")),
		worker.Func("greet", func(ctx context.Context, name string) (string, error) { return "hello, " + name, nil },
			worker.WithParams("name")),
		worker.Func("parse_age", func(ctx context.Context, s string) (int, error) {
			var n int
			if _, err := fmt.Sscan(s, &n); err != nil {
				return 0, worker.PythonError("builtins", "ValueError", fmt.Sprintf("invalid literal for int(): %q", s))
			}
			return n, nil
		}, worker.WithParams("s")),
		worker.Func("flaky_fetch", func(ctx context.Context, url string) (string, error) {
			job, _ := worker.JobFromContext(ctx)
			if job.Try < 3 {
				return "", worker.Retry(time.Duration(job.Try) * 100 * time.Millisecond) // back off: 0.1 s, then 0.2 s
			}
			return fmt.Sprintf("fetched %s on try %d", url, job.Try), nil
		}, worker.WithParams("url")),
		worker.Func("long_report", func(ctx context.Context, seconds float64) (string, error) {
			select {
			case <-time.After(time.Duration(seconds * float64(time.Second))):
				return "report done", nil
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}, worker.WithParams("seconds")),
	}
}

// demoPoll is the demo worker's poll delay.
const demoPoll = 20 * time.Millisecond

// dropHandler drops the records drop picks and hands the rest to Handler.
type dropHandler struct {
	slog.Handler
	drop func(slog.Record) bool
}

func (d dropHandler) Handle(ctx context.Context, r slog.Record) error {
	if d.drop(r) {
		return nil
	}
	return d.Handler.Handle(ctx, r)
}

func (d dropHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return dropHandler{d.Handler.WithAttrs(as), d.drop}
}

func (d dropHandler) WithGroup(name string) slog.Handler {
	return dropHandler{d.Handler.WithGroup(name), d.drop}
}

func runDemo(c *cli.Context) error {
	ctx := c.Context
	out := c.App.Writer
	var rdb redis.UniversalClient
	// the environment's Redis is the app's: the demo uses it only when asked
	embedded := !c.IsSet("redis") && len(commaList(c, "sentinel")) == 0
	var url string
	if embedded {
		mr, err := miniredis.Run()
		if err != nil {
			return fail(exitRedis, "starting the embedded Redis: %v", err)
		}
		defer mr.Close()
		url = "redis://" + mr.Addr() + "/0"
		fmt.Fprintf(out, "embedded Redis at %s (pass --redis to use yours)\n", mr.Addr())
		fmt.Fprintf(out, "The embedded Redis has no client tracking, so the demo polls every %s instead of using push wake-up.\n\n", demoPoll)
	}
	rs, err := settingsFrom(c)
	if embedded {
		rs, err = client.ParseDSN(url)
	}
	if err != nil {
		return fail(exitUsage, "--redis: %v", err)
	}
	rs.ConnRetries = 0
	rdb, err = client.Connect(ctx, rs, quietLogger())
	if err != nil {
		return redisError(rs, err)
	}
	defer rdb.Close()
	queue := c.String("queue")
	if !c.IsSet("queue") {
		queue = "goarq:demo" // keep clear of a real arq:queue
	}

	var h slog.Handler = worker.NewArqLogHandler(out, slog.LevelInfo)
	if embedded {
		// the embedded Redis answers no INFO server or memory: arq's
		// "redis_version=? mem_usage=? ..." line would only say so
		h = dropHandler{h, func(r slog.Record) bool { return strings.HasPrefix(r.Message, "redis_version=") }}
	}
	// push wake-up needs client tracking, which the embedded Redis lacks:
	// the line above says so once, instead of a warning from each side
	w, err := worker.New(worker.Settings{Functions: demoFunctions(), RedisClient: rdb, QueueName: queue,
		PollDelay: demoPoll, AllowAbortJobs: true, NoPushWakeup: embedded, Logger: slog.New(h)})
	if err != nil {
		return err
	}
	wctx, stopWorker := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	defer func() { stopWorker(); <-done }()

	cl := client.New(rdb, client.Options{QueueName: queue, NoPushWakeup: embedded, Logger: slog.New(h)})
	type entry struct {
		label string
		job   *client.Job
	}
	var jobs []entry
	enqueue := func(label, fn string, opts client.EnqueueOptions, args ...any) error {
		j, err := cl.EnqueueRequest(ctx, client.Request{Function: fn, Args: args, Options: opts})
		if err != nil {
			return fmt.Errorf("enqueue %s: %w", fn, err)
		}
		jobs = append(jobs, entry{label, j})
		return nil
	}
	steps := []error{
		enqueue("plain result", "add", client.EnqueueOptions{}, 1, 2),
		enqueue("deferred 0.3 s", "greet", client.EnqueueOptions{DeferBy: 300 * time.Millisecond}, "world"),
		enqueue("failure", "parse_age", client.EnqueueOptions{}, "forty"),
		enqueue("retry with backoff", "flaky_fetch", client.EnqueueOptions{}, "https://example.com"),
		enqueue("aborted", "long_report", client.EnqueueOptions{}, 30),
	}
	if err := errors.Join(steps...); err != nil {
		return cmdRedisError(c, err)
	}
	// abort the long job once it runs
	long := jobs[len(jobs)-1].job
	for {
		st, err := long.Status(ctx)
		if err != nil {
			return cmdRedisError(c, err)
		}
		if st == client.StatusInProgress {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	aborted, err := long.Abort(ctx, client.ResultOptions{Timeout: 5 * time.Second, PollDelay: demoPoll})
	if err != nil {
		return cmdRedisError(c, err)
	}

	type row struct {
		label, function, status string
		tries                   int
		outcome                 string
	}
	var rows []row
	for _, e := range jobs {
		v, err := e.job.Result(ctx, client.ResultOptions{Timeout: 10 * time.Second, PollDelay: demoPoll})
		info, ierr := e.job.ResultInfo(ctx)
		if ierr != nil {
			return cmdRedisError(c, ierr)
		}
		st, serr := e.job.Status(ctx)
		if serr != nil {
			return cmdRedisError(c, serr)
		}
		outcome := "→ " + arqcompat.Repr(v)
		var fe *client.JobFailedError
		switch {
		case errors.Is(err, client.ErrJobAborted):
			outcome = fmt.Sprintf("✗ aborted (Job.abort() returned %v)", aborted)
		case errors.As(err, &fe) && fe.Exception != nil:
			outcome = "✗ " + fe.Exception.Error()
		case err != nil:
			return cmdRedisError(c, err)
		}
		rows = append(rows, row{e.label, info.Function, string(st), info.JobTry, outcome})
	}
	stopWorker()
	if err := <-done; err != nil {
		return err
	}
	done <- nil // for the deferred stop

	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tFUNCTION\tSTATUS\tTRIES\tOUTCOME")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", r.label, r.function, r.status, r.tries, r.outcome)
	}
	_ = tw.Flush()
	if !embedded {
		fmt.Fprintf(out, "\nThe worker is stopped now; start yours with the same queue and enqueue from Python:\n")
		fmt.Fprintf(out, "    from arq.connections import RedisSettings, create_pool\n")
		fmt.Fprintf(out, "    redis = await create_pool(RedisSettings.from_dsn(%s)); await redis.enqueue_job('add', 1, 2, _queue_name=%s)\n",
			pyStr(rs.String()), pyStr(queue))
	}
	return nil
}

func pyStr(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }
