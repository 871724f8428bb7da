package worker_test

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/internal/testutil"
	"github.com/goarq/goarq/worker"
)

// BenchmarkWaitingJobs measures the memory 1,000 jobs hold while they wait
// in their handlers (the bench's rss row, on miniredis): stack-B/job is
// the goroutine stacks in use once every handler waits, over those before
// the worker ran, per job; heap-B/job the live heap after a GC, likewise
// (it includes miniredis's in-progress keys, the same in every variant).
// It judged the //go:noinline directives the executor, the writer and the
// binder had: without them the figures are the same (and so are the stack
// frames of handle, callHandler, call, finish and write), so none is left.
//
// stack-B/job counts stacks, not who holds them: the stacks of exited
// goroutines kept for reuse count in the baseline, and the runtime sizes
// new stacks from the average it last scanned (adaptivestackstart), so
// designs that start and end different numbers of goroutines per job are
// compared by the process's peak RSS (scripts/bench.sh, rss row) as well.
func BenchmarkWaitingJobs(b *testing.B) {
	const n = 1000
	var stack, heap float64
	for range b.N {
		s, h := waitingJobsMemory(b, n)
		stack += s
		heap += h
	}
	b.ReportMetric(stack/float64(b.N), "stack-B/job")
	b.ReportMetric(heap/float64(b.N), "heap-B/job")
}

func waitingJobsMemory(b *testing.B, n int) (stackPerJob, heapPerJob float64) {
	b.Helper()
	b.StopTimer()
	ctx := context.Background()
	_, rdb := testutil.Redis(b)
	c := client.New(rdb, client.Options{})
	reqs := make([]client.Request, n)
	for i := range reqs {
		reqs[i] = client.Request{Function: "wait"}
	}
	if _, err := c.EnqueueMany(ctx, reqs); err != nil {
		b.Fatal(err)
	}
	var started atomic.Int64
	all, release := make(chan struct{}), make(chan struct{})
	w, err := worker.New(worker.Settings{RedisClient: rdb, MaxJobs: n, Burst: true, PollDelay: 10 * time.Millisecond,
		Logger: testutil.QuietLogger(), NoPushWakeup: true,
		Functions: []worker.Function{worker.Func("wait", func(ctx context.Context) error {
			if started.Add(1) == int64(n) {
				close(all)
			}
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		})}})
	if err != nil {
		b.Fatal(err)
	}
	var before, after runtime.MemStats
	idle := runtime.NumGoroutine()
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.StartTimer()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	<-all
	b.StopTimer()
	runtime.ReadMemStats(&after) // the stacks as they are, not as a GC shrinks them
	stackPerJob = float64(int64(after.StackInuse)-int64(before.StackInuse)) / float64(n)
	runtime.GC()
	runtime.ReadMemStats(&after)
	heapPerJob = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
	close(release)
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if got := w.Stats().Complete; got != n {
		b.Fatalf("%d jobs complete, want %d", got, n)
	}
	// the next round's baseline must not hold this round's last goroutines
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > idle; {
		if time.Now().After(deadline) {
			b.Fatalf("%d goroutines left after Run returned, %d before", runtime.NumGoroutine(), idle)
		}
		time.Sleep(time.Millisecond)
	}
	return stackPerJob, heapPerJob
}
