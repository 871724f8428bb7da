// Package sqlite is the default history.Store: an embedded SQLite file,
// through the pure-Go driver modernc.org/sqlite (no cgo, so CGO_ENABLED=0
// builds keep working), in WAL mode so that readers (goarq history, the
// dashboard) never wait for the recorder's batched write transactions.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/goarq/goarq/history"
	"github.com/goarq/goarq/history/internal/sqlstore"
)

// Open opens (creating it if needed) the SQLite history at path and
// migrates it to the current schema.
func Open(ctx context.Context, path string) (history.Store, error) {
	q := url.Values{}
	// cache_size: 4 MiB of pages per connection. modernc's allocator
	// rounds each cached page (4 KiB and its header) up to an 8 KiB slot,
	// so the cache costs twice that, outside the Go heap, on each of the
	// recorder's two connections (inserts, text indexer): 16 MiB for both
	// where 16 MiB caches cost 64 MiB, most of goarq recorder's peak RSS.
	for _, p := range []string{"journal_mode(WAL)", "synchronous(NORMAL)", "busy_timeout(10000)", "foreign_keys(ON)", "cache_size(-4096)", "temp_store(MEMORY)",
		// a checkpoint every 40 MB of WAL at most; the text indexer runs one
		// whenever the inserts pause (sqlstore.Dialect.Checkpoint)
		"wal_autocheckpoint(10000)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate") // a writer takes the lock up front: no busy upgrade
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("history: sqlite %s: %w", path, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("history: sqlite %s: %w", path, err)
	}
	s, err := sqlstore.Open(ctx, db, sqlstore.SQLite)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("history: sqlite %s: %w", path, err)
	}
	return s, nil
}
