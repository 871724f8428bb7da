// Package testutil holds the helpers goarq's Go tests share: an embedded
// Redis per test and a logger that discards
// (internal/workertest runs a burst worker).
package testutil

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Redis starts a miniredis for the test and a go-redis client on it; both
// are closed when the test ends.
func Redis(t testing.TB) (*miniredis.Miniredis, *redis.Client) {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), DialerRetries: 1}) // as client.NewRedisClient
	t.Cleanup(func() { _ = rdb.Close() })
	return mr, rdb
}

// QuietLogger discards every record.
func QuietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// CommandCalls is how many times redis-server has run cmd (lower case), as
// INFO commandstats counts it; 0 before the first.
func CommandCalls(t testing.TB, rdb redis.UniversalClient, cmd string) int64 {
	t.Helper()
	stats, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(stats, "\n") {
		var n int64
		if _, err := fmt.Sscanf(strings.TrimSpace(line), "cmdstat_"+cmd+":calls=%d,", &n); err == nil {
			return n
		}
	}
	return 0
}

// SyncBuffer is a log destination a test reads while the code under test
// writes to it from other goroutines.
type SyncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
