package worker_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/internal/testutil"
	"github.com/goarq/goarq/internal/workertest"
	"github.com/goarq/goarq/worker"
)

// snapshot is what a job's keys hold: record, score, TTL, and whether any
// in-progress, retry or result key exists.
type snapshot struct {
	record      string
	score       float64
	ttl         time.Duration
	sideEffects int64
}

func snap(t *testing.T, rdb redis.UniversalClient, id string) snapshot {
	t.Helper()
	ctx := context.Background()
	var s snapshot
	s.record = rdb.Get(ctx, arqcompat.JobKey(id)).Val()
	s.score = rdb.ZScore(ctx, arqcompat.DefaultQueueName, id).Val()
	s.ttl = rdb.PTTL(ctx, arqcompat.JobKey(id)).Val().Round(time.Minute)
	s.sideEffects = rdb.Exists(ctx, arqcompat.InProgressKey(id), arqcompat.RetryKey(id), arqcompat.ResultKey(id)).Val()
	return s
}

// enqueueN puts n jobs in the queue as arq's enqueue leaves them (job key
// with its TTL, queue member scored with the enqueue time, the last one
// now and each before it a millisecond earlier), written directly:
// miniredis runs the enqueue script slowly.
func enqueueN(t *testing.T, c *client.Client, function, prefix string, n int) []string {
	t.Helper()
	ctx := context.Background()
	now := arqcompat.TimestampMS(time.Now())
	var ids []string
	p := c.Redis().Pipeline()
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("%s%d", prefix, i)
		ids = append(ids, id)
		score := now - int64(n-1-i)
		data, err := arqcompat.EncodeJob(c.Serializer(), arqcompat.JobRecord{Function: function, Args: []any{int64(i)}, EnqueueTimeMS: score})
		if err != nil {
			t.Fatal(err)
		}
		p.Set(ctx, arqcompat.JobKey(id), data, 24*time.Hour)
		p.ZAdd(ctx, arqcompat.DefaultQueueName, redis.Z{Score: float64(score), Member: id})
	}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	return ids
}

// With OnlyOwnFunctions, jobs of functions the worker lacks stay exactly as
// enqueued (a Python worker runs them), even when they fill the first
// queue_read_limit ready ids; its own jobs behind them all run, once.
func TestOnlyOwnFunctionsLeavesOtherJobsUntouched(t *testing.T) {
	c, rdb, mr := setup(t)
	foreign := enqueueN(t, c, "py_only", "p", 300)
	own := enqueueN(t, c, "mark", "g", 40)
	before := map[string]snapshot{}
	for _, id := range foreign {
		before[id] = snap(t, rdb, id)
	}
	runs := make([]atomic.Int64, len(own))
	mark := worker.Func("mark", func(ctx context.Context, i int) { runs[i].Add(1) })
	w := workertest.RunBurst(t, rdb, worker.Settings{Functions: []worker.Function{mark}, OnlyOwnFunctions: true, QueueReadLimit: 10, MaxJobs: 3})
	for i := range runs {
		if n := runs[i].Load(); n != 1 {
			t.Errorf("own job %d ran %d times", i, n)
		}
	}
	if st := w.Stats(); st.Complete != len(own) || st.Failed != 0 {
		t.Errorf("stats %+v", st)
	}
	for _, id := range foreign {
		if got := snap(t, rdb, id); got != before[id] {
			t.Fatalf("foreign job %s changed: %+v, was %+v", id, got, before[id])
		}
	}
	// only the foreign jobs, the queue and the own jobs' results are left:
	// no worker record, no health check, nothing else
	if keys := mr.Keys(); len(keys) != len(foreign)+1+len(own) {
		t.Errorf("%d keys, want %d", len(keys), len(foreign)+1+len(own))
	}
}

// Without OnlyOwnFunctions the worker is arq's: a job of a function it
// lacks fails with "function ... not found".
func TestWithoutOnlyOwnFunctionsForeignJobsFail(t *testing.T) {
	c, rdb, _ := setup(t)
	enqueueN(t, c, "py_only", "p", 1)
	workertest.RunBurst(t, rdb, worker.Settings{Functions: []worker.Function{worker.Func("mark", func(ctx context.Context) {})}})
	if _, err := result(t, c, "p0"); err == nil || !strings.Contains(err.Error(), "function 'py_only' not found") {
		t.Fatalf("got %v", err)
	}
}

// 5,000 ready jobs of a function the worker lacks, then 100 of its own: it
// starts all 100 promptly (the interop suite times this against a real
// Redis), and finds a job enqueued later while it idles.
func TestOnlyOwnFunctionsDoesNotStarve(t *testing.T) {
	c, rdb, _ := setup(t)
	foreign := enqueueN(t, c, "py_only", "p", 5000)
	enqueueN(t, c, "mark", "g", 100)
	var started atomic.Int64
	all := make(chan struct{})
	mark := worker.Func("mark", func(ctx context.Context, i int) {
		if started.Add(1) == 101 {
			close(all)
		}
	})
	w, err := worker.New(worker.Settings{Functions: []worker.Function{mark}, OnlyOwnFunctions: true, RedisClient: rdb, MaxJobs: 10,
		PollDelay: 10 * time.Millisecond, Logger: testutil.QuietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	begin := time.Now()
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	waitFor(t, 10*time.Second, func() bool { return started.Load() >= 100 })
	t.Logf("100 own jobs behind 5,000 others started in %s (miniredis, -race)", time.Since(begin))
	// one more, enqueued while the worker idles: the window read finds it
	enqueueN(t, c, "mark", "late", 1)
	select {
	case <-all:
	case <-time.After(5 * time.Second):
		t.Fatal("a job enqueued while idle was not run")
	}
	// the queue ends with the foreign jobs only
	waitFor(t, 5*time.Second, func() bool {
		return rdb.ZCard(context.Background(), arqcompat.DefaultQueueName).Val() == int64(len(foreign))
	})
	if n := rdb.Exists(context.Background(), arqcompat.InProgressKey("p0"), arqcompat.RetryKey("p4999")).Val(); n != 0 {
		t.Errorf("foreign jobs touched")
	}
}

// Workers that claim only their own functions race for the same jobs:
// each runs once, and other jobs stay untouched.
func TestOnlyOwnWorkersRacingRunEachJobOnce(t *testing.T) {
	c, rdb, _ := setup(t)
	ctx := context.Background()
	const n = 600
	runs := make([]atomic.Int64, n)
	foreign := enqueueN(t, c, "py_only", "p", 200)
	enqueueN(t, c, "mark", "g", n)
	mark := worker.Func("mark", func(ctx context.Context, i int) { runs[i].Add(1) })
	total := raceBurstWorkers(t, ctx, worker.Settings{Functions: []worker.Function{mark}, RedisClient: rdb, OnlyOwnFunctions: true, MaxJobs: 7})
	if total != n {
		t.Errorf("%d jobs completed, want %d", total, n)
	}
	for i := range runs {
		if r := runs[i].Load(); r != 1 {
			t.Errorf("job %d ran %d times", i, r)
		}
	}
	for _, id := range foreign {
		if s := snap(t, rdb, id); s.sideEffects != 0 || s.record == "" {
			t.Fatalf("foreign job %s touched: %+v", id, s)
		}
	}
}

// WithMaxConcurrency(2): never more than 2 of the slow function's jobs
// run or hold an in-progress key in this worker at once, and the fast
// function's jobs flow past them.
func TestMaxConcurrencyPerFunction(t *testing.T) {
	c, rdb, _ := setup(t)
	slowIDs := enqueueN(t, c, "slow", "s", 8)
	enqueueN(t, c, "fast", "f", 60)
	var running, peak, claimedPeak, fastDone atomic.Int64
	var fastDoneAtFirstSlowEnd atomic.Int64
	fastDoneAtFirstSlowEnd.Store(-1)
	slow := worker.Func("slow", func(ctx context.Context, i int) {
		n := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		// in-progress keys of slow jobs: what this worker has claimed
		keys := make([]string, len(slowIDs))
		for k, id := range slowIDs {
			keys[k] = arqcompat.InProgressKey(id)
		}
		held := rdb.Exists(ctx, keys...).Val()
		for p := claimedPeak.Load(); held > p && !claimedPeak.CompareAndSwap(p, held); p = claimedPeak.Load() {
		}
		time.Sleep(60 * time.Millisecond)
		fastDoneAtFirstSlowEnd.CompareAndSwap(-1, fastDone.Load())
	}, worker.WithMaxConcurrency(2))
	fast := worker.Func("fast", func(ctx context.Context, i int) { fastDone.Add(1) })
	w := workertest.RunBurst(t, rdb, worker.Settings{Functions: []worker.Function{slow, fast}, MaxJobs: 10})
	if st := w.Stats(); st.Complete != 68 {
		t.Errorf("stats %+v", st)
	}
	if p := peak.Load(); p != 2 {
		t.Errorf("peak concurrency of the limited function %d, want 2", p)
	}
	if p := claimedPeak.Load(); p > 2 {
		t.Errorf("%d slow jobs claimed at once, want at most 2", p)
	}
	if n := fastDoneAtFirstSlowEnd.Load(); n < 50 {
		t.Errorf("only %d fast jobs done when the first slow job ended: the limited function held them up", n)
	}
}

func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(end) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// A running worker keeps its heartbeat record; client.Workers lists it; a
// clean stop deletes it.
func TestHeartbeatRecordListsTheWorker(t *testing.T) {
	c, rdb, mr := setup(t)
	w, err := worker.New(worker.Settings{Functions: []worker.Function{worker.Func("mark", func(ctx context.Context) {}, worker.WithMaxConcurrency(3))},
		OnlyOwnFunctions: true, RedisClient: rdb, MaxJobs: 4, PollDelay: 5 * time.Millisecond, Logger: testutil.QuietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	enqueueN(t, c, "mark", "g", 3)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var ws []client.WorkerInfo
	waitFor(t, 5*time.Second, func() bool {
		ws, err = c.Workers(context.Background(), "")
		return err == nil && len(ws) == 1
	})
	wi := ws[0]
	if wi.ID != w.ID() || wi.Queue != arqcompat.DefaultQueueName || wi.MaxJobs != 4 || !wi.OnlyOwnFunctions || wi.PID == 0 || wi.Version == "" ||
		len(wi.Functions) != 1 || wi.Functions[0] != "mark" || wi.MaxConcurrency["mark"] != 3 || wi.Started.IsZero() || wi.LastPoll.Before(wi.Started) {
		t.Errorf("record %+v", wi)
	}
	key := "goarq:worker:arq:queue:" + w.ID()
	if ttl := mr.TTL(key); ttl <= 0 || ttl > time.Minute {
		t.Errorf("ttl %s", ttl)
	}
	// a queue whose name extends this one's does not list it
	if other, err := c.Workers(context.Background(), "arq"); err != nil || len(other) != 0 {
		t.Errorf("queue arq lists %v %v", other, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if mr.Exists(key) {
		t.Error("record left after a clean stop")
	}
}
