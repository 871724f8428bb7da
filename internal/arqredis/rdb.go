package arqredis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// Constants of arq 0.28's worker and connections that only goarq's own
// worker and client use; the key names themselves are public, in arqcompat.
const (
	// AbortJobMaxAge: entries of the abort set older than this are
	// dropped by the abort sweep (arq's abort_job_max_age, 60 s, which arq
	// adds to a millisecond timestamp as it is).
	AbortJobMaxAge = 60
	// KeepCronjobProgressMS is how long the in-progress key of a cron job is
	// kept after the job ends (arq's keep_cronjob_progress, 60 s).
	KeepCronjobProgressMS = 60_000
	// ExpiresExtraMS is added to a job's deferral to give the job key's TTL
	// when no explicit expiry is given (arq's expires_extra_ms: one day).
	ExpiresExtraMS = 86_400_000
	// RetryKeyTTLSeconds is the EXPIRE arq's worker sets on the retry counter.
	RetryKeyTTLSeconds = 88_400
)

// RDB runs arq's command sequences on a go-redis client. It is safe for
// concurrent use. Its one state is the source of claim tokens: a random
// id and a count of claims.
type RDB struct {
	c      redis.UniversalClient
	log    *slog.Logger
	id     string
	claims atomic.Uint64
}

// tokenPrefix is the prefix of the tokens of one claim: the RDB's random
// id and the claim's number. The claim scripts append each job's rank.
func (r *RDB) tokenPrefix() string {
	return r.id + ":" + strconv.FormatUint(r.claims.Add(1), 36) + ":"
}

// New wraps a go-redis client. log gets the RDB's own log lines (a
// Watcher's, unless its options name another logger), slog.Default()
// when nil. go-redis's own lines (a failed dial, a pool message) go to the
// logger the program set with redis.SetLogger, as for any go-redis client:
// go-redis has one logger per process, which a library must not take over.
func New(c redis.UniversalClient, log *slog.Logger) *RDB {
	if log == nil {
		log = slog.Default()
	}
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return &RDB{c: c, log: log, id: hex.EncodeToString(b[:])}
}

// Client is the wrapped go-redis client.
func (r *RDB) Client() redis.UniversalClient { return r.c }

// Close closes the wrapped client.
func (r *RDB) Close() error { return r.c.Close() }

// Ping checks the connection.
func (r *RDB) Ping(ctx context.Context) error { return r.c.Ping(ctx).Err() }

// runScript is the one NOSCRIPT strategy for a script run on its own:
// EVALSHA; on NOSCRIPT (a fresh or restarted Redis) EVAL with the script's
// text, which also caches it. go-redis's Script.Run does exactly this.
func (r *RDB) runScript(ctx context.Context, s *redis.Script, keys []string, args ...any) *redis.Cmd {
	return s.Run(ctx, r.c, keys, args...)
}

// IsNoScript reports a NOSCRIPT error: the server does not know a script
// that was sent by its SHA inside a pipeline or MULTI.
func IsNoScript(err error) bool { return err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") }

// LoadScripts loads every script of this package, for a caller whose
// pipelined EVALSHA got NOSCRIPT.
func (r *RDB) LoadScripts(ctx context.Context) error {
	for _, s := range []*redis.Script{enqueueScript, claimScript, claimOwnScript, finishScript} {
		if err := s.Load(ctx, r.c).Err(); err != nil {
			return err
		}
	}
	return nil
}

// IsNil reports redis.Nil, Redis's "no such key" reply.
func IsNil(err error) bool { return errors.Is(err, redis.Nil) }

// Transient reports whether a Redis error may go away by itself: a lost or
// refused connection, or a server that is loading, read-only or without a
// master. Errors Redis replies to a well-formed command with are not.
func Transient(err error) bool {
	if err == nil || errors.Is(err, redis.ErrClosed) || errors.Is(err, context.Canceled) {
		return false
	}
	var re redis.Error
	if !errors.As(err, &re) {
		return true
	}
	msg := re.Error()
	for _, p := range []string{"LOADING", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS", "ERR max number of clients"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
