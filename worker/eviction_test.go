package worker_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/goarq/goarq/internal/redistest"
	"github.com/goarq/goarq/internal/testutil"
	"github.com/goarq/goarq/worker"
)

// startLog is the log of a burst worker's run on a Redis started with args.
func startLog(t *testing.T, args ...string) string {
	t.Helper()
	srv := redistest.Start(t, args...)
	var buf testutil.SyncBuffer
	w, err := worker.New(worker.Settings{RedisClient: srv.Client(t, nil), Burst: true,
		Logger:    slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Functions: []worker.Function{worker.Func("noop", func(ctx context.Context) {})}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// A worker on a Redis that may evict keys says so once at start; on one
// with noeviction it says nothing.
func TestWorkerWarnsOnceAboutAnEvictionPolicy(t *testing.T) {
	out := startLog(t, "--maxmemory-policy", "allkeys-lru")
	if n := strings.Count(out, "maxmemory-policy is allkeys-lru"); n != 1 || !strings.Contains(out, "level=WARN") || !strings.Contains(out, "noeviction") {
		t.Errorf("%d warnings in:\n%s", n, out)
	}
	if out := startLog(t, "--maxmemory-policy", "noeviction"); strings.Contains(out, "maxmemory") {
		t.Errorf("noeviction warned:\n%s", out)
	}
}
