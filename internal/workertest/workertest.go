// Package workertest runs goarq workers for Go tests. It is apart from
// internal/testutil, which packages below worker (internal/arqredis) use.
package workertest

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/internal/testutil"
	"github.com/goarq/goarq/worker"
)

// RunBurst runs a burst worker with s on rdb (quiet, polling every 5 ms
// unless s says otherwise) until the queue is empty, failing the test on an
// error or after 20 s.
func RunBurst(t testing.TB, rdb redis.UniversalClient, s worker.Settings) *worker.Worker {
	t.Helper()
	s.RedisClient, s.Burst, s.Logger = rdb, true, testutil.QuietLogger()
	if s.PollDelay == 0 {
		s.PollDelay = 5 * time.Millisecond
	}
	w, err := worker.New(s)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
	return w
}
