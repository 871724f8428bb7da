package worker_test

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/internal/testutil"
	"github.com/goarq/goarq/worker"
)

// cancelMidPoll cancels the worker's context from inside its next Redis
// command, which then fails with the context's error, as a poll in flight
// does when the worker is stopped.
type cancelMidPoll struct {
	armed  atomic.Bool
	cancel context.CancelFunc
}

func (h *cancelMidPoll) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (h *cancelMidPoll) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.armed.CompareAndSwap(true, false) {
			h.cancel()
		}
		if err := ctx.Err(); err != nil {
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}

func (h *cancelMidPoll) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.armed.CompareAndSwap(true, false) {
			h.cancel()
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		return next(ctx, cmds)
	}
}

// A poll cut short by the shutdown is not a Redis error: stopping a worker
// with its context never logs "redis error while polling ... context
// canceled" (goarq demo printed it on a normal exit).
func TestStopMidPollLogsNoRedisError(t *testing.T) {
	for i := range 5 {
		_, rdb := testutil.Redis(t)
		ctx, cancel := context.WithCancel(context.Background())
		hook := &cancelMidPoll{cancel: cancel}
		rdb.AddHook(hook)
		logs := &testutil.SyncBuffer{}
		w, err := worker.New(worker.Settings{Functions: []worker.Function{worker.Func("f", func(context.Context) error { return nil })},
			RedisClient: rdb, PollDelay: time.Millisecond, Logger: slog.New(slog.NewTextHandler(logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		awaitLog(t, logs, "Starting worker")
		hook.armed.Store(true)
		if err := <-done; err != nil {
			t.Fatalf("run %d: Run: %v", i, err)
		}
		if strings.Contains(logs.String(), "redis error") {
			t.Fatalf("run %d: a stop mid-poll logged a Redis error:\n%s", i, logs.String())
		}
		cancel()
	}
}
