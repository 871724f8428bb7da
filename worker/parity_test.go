package worker_test

import (
	"context"
	"errors"
	"io"
	"log"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/internal/testutil"
	"github.com/goarq/goarq/internal/workertest"
	"github.com/goarq/goarq/worker"
)

// A job that itself raises CancelledError (or returns a context.Canceled
// of its own) is "cancelled, will be run again" in arq, until max_tries.
func TestCancellationRaisedByTheJobIsRetriedUntilMaxTries(t *testing.T) {
	for name, jobErr := range map[string]error{
		"CancelledError":   worker.PythonError("asyncio.exceptions", "CancelledError"),
		"context.Canceled": context.Canceled,
	} {
		t.Run(name, func(t *testing.T) {
			c, rdb, _ := setup(t)
			ctx := context.Background()
			runs := 0
			f := worker.Func("cancels", func(ctx context.Context) error { runs++; return jobErr })
			job, _ := c.Enqueue(ctx, "cancels")
			w := workertest.RunBurst(t, rdb, worker.Settings{Functions: []worker.Function{f}, MaxTries: 3})
			_, err := result(t, c, job.ID)
			var exc *arqcompat.Exception
			if !errors.As(err, &exc) || exc.Class.Name != "JobExecutionFailed" || exc.Message() != "max 3 retries exceeded" {
				t.Fatalf("result error %v, want JobExecutionFailed('max 3 retries exceeded')", err)
			}
			if st := w.Stats(); runs != 3 || st.Retried != 3 || st.Failed != 1 {
				t.Errorf("runs %d, stats %+v; want 3 runs, 3 retried, 1 failed", runs, st)
			}
		})
	}
}

// With retry_jobs off the same job fails with the CancelledError.
func TestCancellationRaisedByTheJobFailsWithRetryJobsOff(t *testing.T) {
	c, rdb, _ := setup(t)
	f := worker.Func("cancels", func(ctx context.Context) error {
		return worker.PythonError("asyncio.exceptions", "CancelledError")
	})
	job, _ := c.Enqueue(context.Background(), "cancels")
	workertest.RunBurst(t, rdb, worker.Settings{Functions: []worker.Function{f}, NoRetryJobs: true})
	if _, err := result(t, c, job.ID); !errors.Is(err, client.ErrJobAborted) {
		t.Fatalf("result error %v, want the CancelledError", err)
	}
}

// worker.Zero is arq's literal 0 where Go's zero value is arq's default.
func TestZeroSettingsAreArqsLiteralZero(t *testing.T) {
	c, rdb, mr := setup(t)
	ctx := context.Background()
	noop := worker.Func("noop", func(ctx context.Context) {})
	job, _ := c.Enqueue(ctx, "noop")
	workertest.RunBurst(t, rdb, worker.Settings{Functions: []worker.Function{noop}, MaxTries: worker.Zero})
	_, err := result(t, c, job.ID)
	var exc *arqcompat.Exception
	if !errors.As(err, &exc) || exc.Message() != "max 0 retries exceeded" {
		t.Fatalf("MaxTries Zero: %v, want max 0 retries exceeded", err)
	}

	job, _ = c.Enqueue(ctx, "noop")
	workertest.RunBurst(t, rdb, worker.Settings{Functions: []worker.Function{noop}, JobTimeout: worker.Zero})
	if _, err := result(t, c, job.ID); !errors.As(err, &exc) || exc.Class.Name != "TimeoutError" {
		t.Fatalf("JobTimeout Zero: %v, want TimeoutError", err)
	}

	// the health check is written on every poll, with a TTL of 1 s; the
	// worker deletes it when it stops, so read it while it runs
	w, err := worker.New(worker.Settings{Functions: []worker.Function{noop}, RedisClient: rdb, Logger: testutil.QuietLogger(),
		PollDelay: 5 * time.Millisecond, HealthCheckInterval: worker.Zero})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	defer func() { stop(); <-done }()
	deadline := time.Now().Add(5 * time.Second)
	for mr.TTL("arq:queue:health-check") == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if ttl := mr.TTL("arq:queue:health-check"); ttl != time.Second {
		t.Fatalf("health check TTL %s, want 1s", ttl)
	}
	mr.SetTTL("arq:queue:health-check", time.Hour) // the next poll writes it again, with 1 s
	for mr.TTL("arq:queue:health-check") == time.Hour && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if ttl := mr.TTL("arq:queue:health-check"); ttl != time.Second {
		t.Fatalf("health check not rewritten on the next poll: TTL %s", ttl)
	}
}

// goarq leaves go-redis's process-wide logger to the program: go-redis's
// own lines (a failed dial) from a worker's connection go to the logger the
// program set with redis.SetLogger, not to the worker's, and a worker
// created after does not take it over.
func TestGoRedisLoggerStaysTheProgramsChoice(t *testing.T) {
	var program, workerLog testutil.SyncBuffer
	redis.SetLogger(stdLogging{log.New(&program, "", 0)})
	defer redis.SetLogger(stdLogging{log.New(os.Stderr, "redis: ", log.LstdFlags|log.Lshortfile)}) // go-redis's default
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialerRetries: 1, MaxRetries: -1})
	defer rdb.Close()
	w, err := worker.New(worker.Settings{Functions: []worker.Function{worker.Func("noop", func(context.Context) {})},
		RedisClient: rdb, Logger: slog.New(slog.NewTextHandler(&workerLog, nil)), PollDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(program.String(), "failed to dial") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if !strings.Contains(program.String(), "failed to dial") {
		t.Fatalf("go-redis's dial failure did not reach the program's go-redis logger; the worker's log:\n%s", workerLog.String())
	}
	if strings.Contains(workerLog.String(), "failed to dial") {
		t.Errorf("go-redis's own line reached the worker's logger:\n%s", workerLog.String())
	}
}

// stdLogging is a go-redis logger printing to a log.Logger.
type stdLogging struct{ l *log.Logger }

func (s stdLogging) Printf(_ context.Context, format string, v ...any) { s.l.Printf(format, v...) }

// A worker without a Logger prints arq's "HH:MM:SS: message" lines on
// stderr, each message once.
func TestWorkerWithoutLoggerLogsInArqsFormat(t *testing.T) {
	r, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = wr
	c, rdb, _ := setup(t)
	job, _ := c.Enqueue(context.Background(), "noop")
	w, err := worker.New(worker.Settings{Functions: []worker.Function{worker.Func("noop", func(context.Context) {})},
		RedisClient: rdb, Burst: true, PollDelay: 5 * time.Millisecond})
	os.Stderr = saved
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	wr.Close()
	out, _ := io.ReadAll(r)
	lineRE := regexp.MustCompile(`^\d\d:\d\d:\d\d: `)
	var starts int
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if !lineRE.MatchString(line) {
			t.Errorf("not in arq's format: %q", line)
		}
		if strings.Contains(line, "→ "+job.ID+":noop()") {
			starts++
		}
	}
	if starts != 1 {
		t.Errorf("the job's start line appears %d times, want once:\n%s", starts, out)
	}
}
