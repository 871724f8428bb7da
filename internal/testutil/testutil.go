// Package testutil holds the helpers goarq's Go tests share: an embedded
// Redis per test and a logger that discards
// (internal/workertest runs a burst worker).
package testutil

import (
	"log/slog"
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
