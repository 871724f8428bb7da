// Package inspect reads arq queues and kept results for people and tools:
// a queue's counts and health-check line, pages of queued jobs and kept
// results, everything stored under one job id, and the few actions a
// dashboard offers (abort, re-enqueue a failed job, delete a result).
// `goarq`'s stats, jobs, results and health commands, the dashboard and
// the Prometheus queue collector all read through an Inspector, so each
// count and listing has one implementation.
//
// Every read is bounded by what it returns: a page of a queue is a ZRANGE
// by rank of that page; counts are ZCOUNT and ZCARD; kept results are
// found with SCAN and summarized once into an index (see Snapshot), so
// that counting or listing them again decodes only the results that are
// new since the last refresh. Records are decoded with arqcompat, which
// never executes anything; a record that cannot be decoded is listed with
// an error (a *RecordError), never dropped.
package inspect

import (
	"context"
	"sync"
	"time"

	"github.com/goarq/goarq/client"
	"github.com/goarq/goarq/internal/arqredis"
)

// Options configures an Inspector.
type Options struct {
	// CacheTTL is how old the results index may get before a read refreshes
	// it: 0 means 5 s, a negative value refreshes on every read.
	CacheTTL time.Duration
	// HealthLocation is the time zone of the health-check lines' clock
	// (arq writes local time without a zone); nil means time.Local.
	HealthLocation *time.Location
	// MaxResults bounds how many kept results the index holds (about 150
	// bytes each): 0 means 1,000,000, a negative value no bound. The
	// results past it, in SCAN order, are counted (Snapshot.LeftOut) and
	// left out of every count and listing of results.
	MaxResults int
}

// defaultMaxResults is Options.MaxResults when it is 0.
const defaultMaxResults = 1_000_000

// Inspector reads queues and kept results, with bounded work per call:
// pages of a queue by rank, per-page pipelines, and an index of the kept
// results built by SCAN.
//
// The index holds a small summary of every kept result (id, function,
// queue, success, exception class, times; about 150 bytes each), so that
// aggregates over 100,000 results need no read of the records themselves.
// It is refreshed at most every CacheTTL: a refresh walks the keyspace once
// with SCAN and reads (MGET) and decodes only the results it has not seen
// yet. Readers get the last complete index while a refresh runs, so
// aggregates lag the truth by up to CacheTTL plus one refresh; a result
// rewritten under an id the index already holds keeps its old summary
// until the id disappears from Redis once.
//
// An Inspector is safe for concurrent use; keep one for as long as its
// client lives, so that its index is reused.
type Inspector struct {
	c   *client.Client
	r   *arqredis.RDB
	ttl time.Duration
	loc *time.Location
	now func() time.Time

	maxResults int // <= 0: no bound

	mu         sync.Mutex
	snap       *Snapshot
	lastErr    error
	stale      bool
	refreshing chan struct{} // closed when the running refresh ends
	byID       map[string]ResultSummary
}

// New returns an Inspector reading through c, with c's serializer.
func New(c *client.Client, opts Options) *Inspector {
	in := &Inspector{c: c, r: arqredis.New(c.Redis(), nil), ttl: opts.CacheTTL, loc: opts.HealthLocation, now: time.Now}
	if in.ttl == 0 {
		in.ttl = 5 * time.Second
	}
	if in.loc == nil {
		in.loc = time.Local
	}
	switch in.maxResults = opts.MaxResults; {
	case in.maxResults == 0:
		in.maxResults = defaultMaxResults
	case in.maxResults < 0:
		in.maxResults = 0
	}
	return in
}

// Client is the client the Inspector reads through.
func (in *Inspector) Client() *client.Client { return in.c }

// queue is q, or the client's queue when q is "".
func (in *Inspector) queue(q string) string {
	if q == "" {
		return in.c.QueueName()
	}
	return q
}

// Ping checks the connection to Redis.
func (in *Inspector) Ping(ctx context.Context) error { return in.r.Ping(ctx) }
