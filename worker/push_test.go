package worker_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/internal/redistest"
	"github.com/goarq/goarq/internal/testutil"
	"github.com/goarq/goarq/worker"
)

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
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
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
	if at.Before(due.Truncate(time.Millisecond)) {
		t.Fatalf("started %s before it was due", due.Sub(at))
	}
	// the enqueue woke the worker, which learnt when the job is due and
	// slept until then: no poll in between, an hour apart
	if late := at.Sub(due); late > time.Second {
		t.Fatalf("started %s late", late)
	}
	t.Logf("started %s after due", at.Sub(due))
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// On miniredis, which has no CLIENT TRACKING, the worker polls and says so
// once.
func TestWorkerFallsBackToPollingWithoutTracking(t *testing.T) {
	c, rdb, _ := setup(t)
	var logs syncBuffer
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
