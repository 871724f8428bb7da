package arqredis

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/goarq/goarq/arqcompat"
)

// The reads of goarq's history recorder (package history): it learns of
// every result key a worker writes (Python arq or goarq) from client
// tracking on the result prefix, the same Watcher the push wake-up uses,
// and walks the result keys with SCAN as a backstop for what tracking
// could not tell (a re-arm, a FLUSHALL, a recorder that was down). It then
// reads the results it learned of with RDB.Results (MGET, readBatch at a
// time). None of this has an arq counterpart: arq keeps no history.

// ResultWatchOptions configure WatchResults.
type ResultWatchOptions struct {
	// OnIDs is called, from the Watcher's goroutine, with the job ids whose
	// result key changed (written, deleted or expired); nil means any may
	// have changed, and the caller should SCAN. It must not block.
	OnIDs        func(ids []string)
	Logger       *slog.Logger
	PingInterval time.Duration
	// IDPrefixes, when set, narrow the capture to the job ids starting
	// with one of them (e.g. "0"–"3" of a uuid4 hex, a quarter of arq's
	// and goarq's own ids): Redis tells nothing of the other results, and
	// costs nothing for them. Nil: every result.
	IDPrefixes []string
	// Coalesce: see WatchOptions.Coalesce.
	Coalesce time.Duration
}

// WatchResults starts a Watcher on the result keys (CLIENT TRACKING ON
// REDIRECT <own id> BCAST PREFIX arq:result:, or one PREFIX per
// IDPrefixes, then SUBSCRIBE __redis__:invalidate on that connection). Errors as RDB.Watch:
// ErrTrackingUnsupported when the server refuses tracking.
func (r *RDB) WatchResults(ctx context.Context, o ResultWatchOptions) (*Watcher, error) {
	on := o.OnIDs
	return r.Watch(ctx, WatchOptions{
		Prefix: arqcompat.ResultKeyPrefix,
		Name:   "history capture of " + arqcompat.ResultKeyPrefix + "*",
		Logger: o.Logger, PingInterval: o.PingInterval, Subprefixes: o.IDPrefixes, Coalesce: o.Coalesce,
		OnInvalidate: func(keys []string) {
			if keys == nil {
				on(nil)
				return
			}
			ids := make([]string, 0, len(keys))
			for _, k := range keys {
				if id, ok := strings.CutPrefix(k, arqcompat.ResultKeyPrefix); ok {
					ids = append(ids, id)
				}
			}
			if len(ids) > 0 {
				on(ids)
			}
		},
	})
}

// ScanResultPages walks the result keys with SCAN 0 MATCH arq:result:*
// COUNT readBatch and calls fn with the ids of each page, so that a walk
// over many results holds one page at a time. A key may be reported twice
// (SCAN's guarantee is at least once for keys present throughout).
func (r *RDB) ScanResultPages(ctx context.Context, fn func(ids []string) error) error {
	var cursor uint64
	for {
		keys, next, err := r.c.Scan(ctx, cursor, arqcompat.ResultKeyPrefix+"*", readBatch).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			ids := make([]string, len(keys))
			for i, k := range keys {
				ids[i] = strings.TrimPrefix(k, arqcompat.ResultKeyPrefix)
			}
			if err := fn(ids); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}
