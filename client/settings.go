package client

import (
	"context"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/goarq/goarq/redisconn"
)

// RedisSettings mirrors arq.connections.RedisSettings; it is
// redisconn.Settings, which the worker shares.
type RedisSettings = redisconn.Settings

// ConnectionError is returned when Redis cannot be reached after the
// configured retries (redisconn.ConnectionError).
type ConnectionError = redisconn.ConnectionError

// ErrInvalidDSN is matched by errors.Is for every DSN that cannot be parsed.
var ErrInvalidDSN = redisconn.ErrInvalidDSN

// DefaultRedisSettings are arq's RedisSettings() defaults.
func DefaultRedisSettings() RedisSettings { return redisconn.DefaultSettings() }

// ParseDSN reads a Redis URL with arq's RedisSettings.from_dsn rules
// (redisconn.ParseDSN).
func ParseDSN(dsn string) (RedisSettings, error) { return redisconn.ParseDSN(dsn) }

// NewRedisClient builds a go-redis client for the settings without
// connecting (redisconn.NewClient).
func NewRedisClient(s RedisSettings) (redis.UniversalClient, error) { return redisconn.NewClient(s) }

// Connect builds a client and PINGs it, retrying like arq's create_pool
// (redisconn.Connect).
func Connect(ctx context.Context, s RedisSettings, log *slog.Logger) (redis.UniversalClient, error) {
	return redisconn.Connect(ctx, s, log)
}
