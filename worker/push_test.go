package worker_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/internal/redistest"
	"github.com/goarq/goarq/internal/testutil"
	"github.com/goarq/goarq/worker"
)

// runUntilCleanup runs w until the test ends, then stops it and checks
// that Run returned no error.
func runUntilCleanup(t *testing.T, w *worker.Worker) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

// startIdle runs a worker whose poll delay is an hour: a job it starts
// within the test's time can only have been woken by a push. started gets
// the start time of each job of function "at".
func startIdle(t *testing.T, rdb redis.UniversalClient, log *slog.Logger) <-chan time.Time {
	t.Helper()
	started := make(chan time.Time, 10)
	w, err := worker.New(worker.Settings{RedisClient: rdb, PollDelay: time.Hour, Logger: log,
		Functions: []worker.Function{worker.Func("at", func(ctx context.Context) { started <- time.Now() })}})
	if err != nil {
		t.Fatal(err)
	}
	runUntilCleanup(t, w)
	return started
}

func awaitStart(t *testing.T, started <-chan time.Time) time.Time {
	t.Helper()
	select {
	case at := <-started:
		return at
	case <-time.After(10 * time.Second):
		t.Fatal("the job did not start: no push wake-up")
		return time.Time{}
	}
}

func TestIdleWorkerStartsAJobWhenItIsEnqueued(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t, nil)
	c := client.New(rdb, client.Options{})
	started := startIdle(t, rdb, testutil.QuietLogger())
	// the worker is idle once its first peek ran; the job enqueued then
	// needs the push to start
	for i := 0; i < 3; i++ {
		t0 := time.Now()
		if _, err := c.Enqueue(context.Background(), "at"); err != nil {
			t.Fatal(err)
		}
		t.Logf("enqueue→start %s", awaitStart(t, started).Sub(t0))
	}
}

func TestIdleWorkerStartsADeferredJobWhenDue(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t, nil)
	c := client.New(rdb, client.Options{})
	started := startIdle(t, rdb, testutil.QuietLogger())
	due := time.Now().Add(300 * time.Millisecond)
	if _, err := c.EnqueueRequest(context.Background(), client.Request{Function: "at", Options: client.EnqueueOptions{DeferUntil: due}}); err != nil {
		t.Fatal(err)
	}
	at := awaitStart(t, started)
	// due, as arq sees it: once its timestamp_ms(), a rounded millisecond,
	// reaches the job's score
	if arqcompat.TimestampMS(at) < arqcompat.TimestampMS(due) {
		t.Fatalf("started %s before it was due", due.Sub(at))
	}
	// the enqueue woke the worker, which learnt when the job is due and
	// slept until then: no poll in between, an hour apart
	if late := at.Sub(due); late > time.Second {
		t.Fatalf("started %s late", late)
	}
	t.Logf("started %s after due", at.Sub(due))
}

// On miniredis, which has no CLIENT TRACKING, the worker polls and says so
// once.
func TestWorkerFallsBackToPollingWithoutTracking(t *testing.T) {
	c, rdb, _ := setup(t)
	var logs testutil.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	if _, err := c.Enqueue(context.Background(), "noop"); err != nil {
		t.Fatal(err)
	}
	w, err := worker.New(worker.Settings{RedisClient: rdb, Burst: true, PollDelay: 5 * time.Millisecond, Logger: log,
		Functions: []worker.Function{worker.Func("noop", func(ctx context.Context) {})}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if w.Stats().Complete != 1 {
		t.Fatalf("stats %+v", w.Stats())
	}
	if n := strings.Count(logs.String(), "push wake-up unavailable"); n != 1 {
		t.Fatalf("%d fallback lines in\n%s", n, logs.String())
	}
}

// Eight workers on one queue with free slots, jobs trickling in: every
// enqueue and every finish wakes all of them, yet one reacts at once and
// the others, held back, mostly peek; they do not each run a claim script
// per job, whether they are idle or already run long jobs of their own.
// Each job runs once.
func TestWorkersOnOneQueueDoNotAllClaimEachJob(t *testing.T) {
	t.Run("idle", func(t *testing.T) { testHerd(t, 0) })
	t.Run("running long jobs", func(t *testing.T) { testHerd(t, 8) })
}

// testHerd runs eight workers of three slots, first gives them hold jobs
// that last until the test ends, then trickles 150 short jobs.
func testHerd(t *testing.T, hold int) {
	srv := redistest.Start(t)
	rdb := srv.Client(t, nil)
	c := client.New(rdb, client.Options{})
	const workers, jobs = 8, 150
	var mu sync.Mutex
	runs := map[string]int{}
	release := make(chan struct{})
	var holding sync.WaitGroup
	holding.Add(hold)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	ws := make([]*worker.Worker, workers)
	for i := range ws {
		w, err := worker.New(worker.Settings{RedisClient: rdb, PollDelay: time.Hour, MaxJobs: 3, Logger: testutil.QuietLogger(),
			Functions: []worker.Function{
				worker.Func("job", func(ctx context.Context) {
					j, _ := worker.JobFromContext(ctx)
					mu.Lock()
					runs[j.ID]++
					mu.Unlock()
				}),
				worker.Func("hold", func(ctx context.Context) {
					holding.Done()
					<-release
				}),
			}})
		if err != nil {
			t.Fatal(err)
		}
		ws[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	defer func() { close(release); cancel(); wg.Wait() }()
	// every worker has made its first peek, and is idle
	waitFor(t, 10*time.Second, func() bool { return testutil.CommandCalls(t, rdb, "zrange") >= workers })
	for i := 0; i < hold; i++ {
		if _, err := c.Enqueue(ctx, "hold"); err != nil {
			t.Fatal(err)
		}
	}
	holding.Wait()
	busy := 0
	for _, w := range ws {
		if w.Stats().Ongoing > 0 {
			busy++
		}
	}
	scripts0 := testutil.CommandCalls(t, rdb, "evalsha")
	start := time.Now()
	for i := 0; i < jobs; i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i) * 5 * time.Millisecond)))
		if _, err := c.Enqueue(ctx, "job"); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 20*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(runs) == jobs
	})
	// per job: the enqueue script, the finish script (jobs 5 ms apart
	// finish one at a time) and the claims of the worker that reacts at
	// once (on the enqueue, and on the finish); were every worker to claim
	// on every wake-up it would be 2 + 2×8
	perJob := float64(testutil.CommandCalls(t, rdb, "evalsha")-scripts0) / jobs
	t.Logf("%d of %d workers running long jobs; scripts per job %.2f", busy, workers, perJob)
	if perJob > 5 {
		t.Fatalf("%.2f scripts per job with %d workers", perJob, workers)
	}
	mu.Lock()
	defer mu.Unlock()
	for id, n := range runs {
		if n != 1 {
			t.Errorf("job %s ran %d times", id, n)
		}
	}
}

// A job that retries with no delay is ready again at once, and the worker
// that ran it starts it again at once. arq's finish writes nothing to the
// queue key for it (no ZINCRBY without an increment), so Redis sends no
// push: the worker must count its own retry as a wake-up. With a poll
// delay of an hour, a second run within the test's time can only come
// from that.
func TestIdleWorkerRunsAJobRetriedWithNoDelayAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name    string
		maxJobs int
		only    bool // targeted claims (OnlyOwnFunctions)
	}{
		{"one slot", 1, false},
		{"free slots", 10, false},
		{"targeted claims", 10, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			rdb := srv.Client(t, nil)
			c := client.New(rdb, client.Options{})
			started := make(chan time.Time, 10)
			w, err := worker.New(worker.Settings{RedisClient: rdb, PollDelay: time.Hour, Logger: testutil.QuietLogger(),
				MaxJobs: tc.maxJobs, OnlyOwnFunctions: tc.only,
				Functions: []worker.Function{worker.Func("again", func(ctx context.Context) (string, error) {
					started <- time.Now()
					if j, _ := worker.JobFromContext(ctx); j.Try == 1 {
						// the claim's poll ends with the health check: once
						// it is written, nothing but a wake-up makes the
						// worker look at the queue again
						for rdb.Exists(ctx, arqcompat.HealthCheckKey(arqcompat.DefaultQueueName)).Val() == 0 {
							time.Sleep(time.Millisecond)
						}
						return "", worker.Retry(0)
					}
					return "done", nil
				})}})
			if err != nil {
				t.Fatal(err)
			}
			// enqueued before the worker starts: its first claim takes the
			// job and leaves nothing (a claim below its maximum), so no
			// claim rides on the finish and no push is pending
			j, err := c.Enqueue(context.Background(), "again")
			if err != nil {
				t.Fatal(err)
			}
			runUntilCleanup(t, w)
			first := awaitStart(t, started)
			select {
			case second := <-started:
				t.Logf("retry→second run %s", second.Sub(first))
			case <-time.After(5 * time.Second):
				t.Fatal("the job retried with no delay did not run again within 5 s (poll delay 1 h): nothing woke the worker")
			}
			rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer rcancel()
			if v, err := j.Result(rctx, client.ResultOptions{PollDelay: 10 * time.Millisecond}); err != nil || v != "done" {
				t.Fatalf("result %v, %v; want done", v, err)
			}
		})
	}
}
