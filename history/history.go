// Package history keeps a durable record of every arq job result, beyond
// arq's keep_result, and finds failed jobs to enqueue again.
//
// A Recorder watches the result keys of a Redis (arq:result:*) through
// client tracking, with a SCAN pass as backstop, decodes each result a
// worker writes (Python arq or goarq) and adds it to a Store once, keyed
// by job id and start time. The stores live in their own packages
// (history/sqlite, history/postgres) so that importing this package, the
// worker or the client pulls in no SQL driver.
package history

import (
	"context"
	"errors"
	"time"
)

// Record is one finished job, as its result record told it.
type Record struct {
	// ID is the store's row id (0 before it is stored).
	ID       int64  `json:"id"`
	JobID    string `json:"job_id"`
	Queue    string `json:"queue"`
	Function string `json:"function"`
	Try      int    `json:"try"`
	// EnqueueMS, StartMS and FinishMS are Unix milliseconds, as arq
	// stores them.
	EnqueueMS int64 `json:"enqueue_ms"`
	StartMS   int64 `json:"start_ms"`
	FinishMS  int64 `json:"finish_ms"`
	Success   bool  `json:"success"`
	// Args is the call as Python would write it: (1, 'a', x=2).
	Args string `json:"args"`
	// ArgsJSON is the arguments decoded, as {"args": [...], "kwargs": {...}}
	// in the typed JSON of the dashboard and CLI.
	ArgsJSON string `json:"args_json"`
	// Result is the repr of the return value (success) or of the exception.
	Result string `json:"result"`
	// ExcClass and ExcMessage are set for a failure that raised an exception:
	// "ValueError" for builtins, "module.Name" else.
	ExcClass   string `json:"exception_class,omitempty"`
	ExcMessage string `json:"exception_message,omitempty"`
	// Raw is the result record exactly as stored in Redis, and Serializer
	// the serializer it was decoded with: a retry decodes the call again
	// from it.
	Raw        []byte `json:"-"`
	Serializer string `json:"serializer"`
	// Undecodable says why Raw could not be decoded; such a record is kept
	// (job id and time) but never enqueued again.
	Undecodable string `json:"undecodable,omitempty"`
	// Source is "redis" (a result key) or "observer" (a goarq worker's
	// Observer, for results that are not kept).
	Source string `json:"source"`
	// OriginJobID is the job this one retried (goarq retry); RetriedAs the
	// job that retried this one. History links them both ways.
	OriginJobID string `json:"origin_job_id,omitempty"`
	RetriedAs   string `json:"retried_as,omitempty"`
	RecordedMS  int64  `json:"recorded_ms"`
}

// Run is how long the function ran.
func (r Record) Run() time.Duration { return time.Duration(r.FinishMS-r.StartMS) * time.Millisecond }

// Finish is the finish time in UTC.
func (r Record) Finish() time.Time { return time.UnixMilli(r.FinishMS).UTC() }

// Filter selects records; the zero Filter selects all. Results come newest
// first (by finish time, then row id).
type Filter struct {
	Function string
	Queue    string
	// Success: nil for both, else only successes (true) or failures.
	Success *bool
	// ExcClass matches the exception class exactly ("ValueError"); only
	// failures have one.
	ExcClass string
	// Since and Until bound the finish time (Since inclusive, Until exclusive).
	Since, Until time.Time
	JobID        string
	// Text selects records whose arguments' repr (Args) contains it,
	// exactly and case included. The stores index it (SQLite: an FTS5
	// word index narrows the candidates; PostgreSQL: pg_trgm).
	Text string
	// Limit caps the page (default 50, at most 1000).
	Limit int
	// Before continues a listing: records older than this cursor (from
	// Page.Next).
	Before Cursor
	// NotRetried keeps only records no retry was made of yet.
	NotRetried bool
}

// Cursor is a position in the newest-first order.
type Cursor struct {
	FinishMS int64
	ID       int64
}

// IsZero reports the start of the listing.
func (c Cursor) IsZero() bool { return c == Cursor{} }

// Page is one page of records and the cursor of the next (zero at the end).
type Page struct {
	Records []Record
	Next    Cursor
}

// DayStats are one function's counts and run times over one UTC day.
type DayStats struct {
	Day      time.Time     `json:"day"`
	Function string        `json:"function"`
	Count    int64         `json:"count"`
	Failed   int64         `json:"failed"`
	RunP50   time.Duration `json:"run_p50"`
	RunP95   time.Duration `json:"run_p95"`
}

// Retention bounds the history: records finished longer than MaxAge ago
// are deleted, and the oldest beyond MaxRows. Zero fields do not bound.
type Retention struct {
	MaxAge  time.Duration
	MaxRows int64
}

// ErrNotFound is returned for a record id that is not in the store.
var ErrNotFound = errors.New("history: no such record")

// Store keeps records. Implementations: history/sqlite, history/postgres.
// It is safe for concurrent use.
type Store interface {
	// Add stores recs in one transaction; a record whose (job id, start
	// time) is already stored is skipped. It returns how many were added.
	// A record whose job id was linked by LinkRetry gets its OriginJobID.
	Add(ctx context.Context, recs []Record) (added int, err error)
	// Recorded tells which of jobIDs the store holds: the start times of
	// each one's records (an id runs again once its result expired). The
	// Recorder's SCAN backstop asks it before decoding a page in full, so
	// that results recorded earlier are not inserted again.
	Recorded(ctx context.Context, jobIDs []string) (map[string][]int64, error)
	// Query lists records newest first.
	Query(ctx context.Context, f Filter) (Page, error)
	// Get reads one record by row id (ErrNotFound when absent).
	Get(ctx context.Context, id int64) (Record, error)
	// Daily aggregates the records finished from since on, per UTC day and
	// function.
	Daily(ctx context.Context, since time.Time) ([]DayStats, error)
	// LinkRetry records that the job newJobID retries the record of row
	// id origin, before the new job is enqueued; UnlinkRetry undoes it
	// when the enqueue failed.
	LinkRetry(ctx context.Context, origin int64, newJobID string) error
	UnlinkRetry(ctx context.Context, origin int64, newJobID string) error
	// Prune deletes what Retention no longer keeps, and returns how many.
	Prune(ctx context.Context, r Retention, now time.Time) (int64, error)
	// Count is the number of records.
	Count(ctx context.Context) (int64, error)
	Close() error
}

// Staged is one result's raw bytes as read from Redis, staged undecoded
// during a burst (see Stager).
type Staged struct {
	// ID is the staging row id (0 before it is staged).
	ID       int64
	JobID    string
	Data     []byte
	StagedMS int64
}

// Stager is a Store that can stage raw results: the Recorder appends the
// results it reads during a burst to an unindexed table (no decode, one
// append-only B-tree: a few µs a result) and promotes them into records
// once the burst is over. Staged rows are durable but not visible to
// Query until promoted. The SQL stores implement it.
type Stager interface {
	// Stage appends rows in one transaction.
	Stage(ctx context.Context, rows []Staged) error
	// StagedBatch reads up to limit staged rows, oldest first.
	StagedBatch(ctx context.Context, limit int) ([]Staged, error)
	// Unstage deletes the staged rows of ids (once they were added as
	// records).
	Unstage(ctx context.Context, ids []int64) error
	// StagedCount is the number of staged rows.
	StagedCount(ctx context.Context) (int64, error)
}
