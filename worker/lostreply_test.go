package worker_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/worker"
)

// dropExecReplies runs every third MULTI/EXEC pipeline that finishes jobs
// without a claim riding on it, then reports it lost: what a connection
// dropped after Redis ran EXEC looks like. (A claim whose reply is lost
// leaves its jobs to run once their in-progress keys expire, which
// miniredis's clock would not reach: interop/test_lost_replies.py covers
// that.)
type dropExecReplies struct{ n, dropped atomic.Int64 }

var errLostReply = errors.New("connection lost after the request was sent")

func (h *dropExecReplies) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *dropExecReplies) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *dropExecReplies) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		scripts := 0
		for _, c := range cmds {
			if c.Name() == "evalsha" {
				scripts++
			}
		}
		err := next(ctx, cmds)
		if err != nil || cmds[len(cmds)-1].Name() != "exec" || scripts != 1 || h.n.Add(1)%3 != 0 {
			return err
		}
		h.dropped.Add(1)
		for _, c := range cmds {
			c.SetErr(errLostReply)
		}
		return errLostReply
	}
}

// A finish transaction whose reply is lost after it ran is sent again, and
// applies once: with jobs that retry at once and three workers on the
// queue, no job runs twice at once and each succeeds exactly once.
func TestLostFinishRepliesApplyOnce(t *testing.T) {
	c, rdb, _ := setup(t)
	ctx := context.Background()
	const jobs = 60
	var mu sync.Mutex
	running, ok := map[int]int{}, map[int]int{}
	var overlaps atomic.Int64
	tried := make([]atomic.Bool, jobs)
	f := worker.Func("f", func(ctx context.Context, i int) error {
		mu.Lock()
		if running[i]++; running[i] > 1 {
			overlaps.Add(1)
		}
		mu.Unlock()
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		running[i]--
		mu.Unlock()
		if !tried[i].Swap(true) {
			return worker.Retry(0)
		}
		mu.Lock()
		ok[i]++
		mu.Unlock()
		return nil
	})
	for i := range jobs {
		if _, err := c.Enqueue(ctx, "f", i); err != nil {
			t.Fatal(err)
		}
	}
	drop := &dropExecReplies{}
	rdb.AddHook(drop)
	runCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	raceBurstWorkers(t, runCtx, worker.Settings{Functions: []worker.Function{f}, RedisClient: rdb, MaxJobs: 4})
	if drop.dropped.Load() == 0 {
		t.Fatal("no reply was dropped")
	}
	if n := overlaps.Load(); n > 0 {
		t.Errorf("%d runs started while another run of the same job was going", n)
	}
	for i := range jobs {
		if ok[i] != 1 {
			t.Errorf("job %d succeeded %d times", i, ok[i])
		}
	}
}
