package worker

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goarq/goarq/arqcompat"
	"github.com/goarq/goarq/internal/arqredis"
	"github.com/goarq/goarq/internal/testutil"
)

// countTold counts how often the writer told each job that its finish is
// written.
type countTold struct {
	mu   sync.Mutex
	told map[string]int
	n    atomic.Int64
}

func (c *countTold) job(id string) written { return toldJob{c, id} }

type toldJob struct {
	c  *countTold
	id string
}

func (t toldJob) written(bool) {
	t.c.mu.Lock()
	t.c.told[t.id]++
	t.c.mu.Unlock()
	t.c.n.Add(1)
}

// Finishes submitted from many goroutines at once, more than one batch's
// worth, are all written, each job is told exactly once, and stop returns
// only once every queued finish has been written and told: with one
// flusher and with two (MaxJobs up to maxJobsForTwoFlushers, or jobs that
// run long, in batches of slowWriteBatch).
func TestWriterWritesEveryFinishAndTellsEachJobOnce(t *testing.T) {
	cases := []struct{ maxJobs, runMS int }{{maxJobsForTwoFlushers, 0}, {maxJobsForTwoFlushers + 1, 0}, {maxJobsForTwoFlushers + 1, 10}}
	for _, tc := range cases {
		maxJobs := tc.maxJobs
		t.Run(fmt.Sprintf("max_jobs %d, jobs of %d ms", maxJobs, tc.runMS), func(t *testing.T) {
			mr, rdb := testutil.Redis(t)
			w, err := New(Settings{Functions: []Function{Func("f", func(context.Context) {})}, MaxJobs: maxJobs,
				RedisClient: rdb, Logger: testutil.QuietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			w.store = arqredis.New(rdb, testutil.QuietLogger())
			ctx := context.Background()
			const n = 3*maxWriteBatch + 7
			for i := range n {
				id := fmt.Sprint("job", i)
				if err := mr.Set(arqcompat.InProgressKey(id), "token-"+id); err != nil {
					t.Fatal(err)
				}
			}
			for range 50 {
				w.writer.noteRunTime(int64(tc.runMS))
			}
			if slow := tc.runMS*1000 >= slowJobMinUS; w.writer.slowJobs() != slow {
				t.Fatalf("slowJobs %v after jobs of %d ms", !slow, tc.runMS)
			}
			one, limit := w.writer.batchMode()
			if wantOne := maxJobs > maxJobsForTwoFlushers && tc.runMS == 0; one != wantOne {
				t.Fatalf("one flusher at a time: %v, want %v", one, wantOne)
			}
			if wantLimit := map[bool]int{false: maxWriteBatch, true: slowWriteBatch}[tc.runMS > 0]; limit != wantLimit {
				t.Fatalf("batch limit %d, want %d", limit, wantLimit)
			}
			c := &countTold{told: map[string]int{}}
			w.writer.start(ctx)
			var submitters sync.WaitGroup
			for g := range 8 {
				submitters.Add(1)
				go func() {
					defer submitters.Done()
					for i := g; i < n; i += 8 {
						id := fmt.Sprint("job", i)
						w.writer.submit(ctx, time.Now().Add(time.Minute), arqredis.Finish{JobID: id, Queue: w.s.QueueName,
							Token: "token-" + id, Done: true, Result: []byte("r"), Keep: time.Hour}, "outcome", c.job(id))
					}
				}()
			}
			submitters.Wait()
			stopped := make(chan struct{})
			go func() { w.writer.stop(); close(stopped) }()
			select {
			case <-stopped:
			case <-time.After(10 * time.Second):
				t.Fatalf("stop did not return; %d of %d jobs told", c.n.Load(), n)
			}
			if got := c.n.Load(); got != n {
				t.Fatalf("%d jobs told by the time stop returned, want %d", got, n)
			}
			for i := range n {
				id := fmt.Sprint("job", i)
				if c.told[id] != 1 {
					t.Fatalf("%s told %d times", id, c.told[id])
				}
				if !mr.Exists(arqcompat.ResultKey(id)) || mr.Exists(arqcompat.InProgressKey(id)) {
					t.Fatalf("%s: finish not written", id)
				}
			}
		})
	}
}
