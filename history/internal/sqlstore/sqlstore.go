// Package sqlstore is the history.Store both SQL stores share: one schema,
// one set of statements written with ? placeholders, and a Dialect for what
// differs between SQLite and PostgreSQL (placeholders, a few types, the
// substring function). It imports database/sql only; the driver is the
// caller's.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/goarq/goarq/history"
)

// Dialect is what differs between the SQL databases.
type Dialect struct {
	Name string
	// Numbered placeholders ($1, $2, …) instead of ?.
	Numbered bool
	// PK is the type and constraint of the row id column.
	PK string
	// Blob is the type of a byte column.
	Blob string
	// Substr is a function(haystack, needle) > 0 when needle is in haystack.
	Substr string
	// LockRollup, when set, is run before the read-modify-write of the
	// daily histograms, so that two writers do not lose each other's
	// counts (SQLite's write transactions are serial already).
	LockRollup string
	// TextIndex is the migration (version 3) that indexes the arguments
	// for Filter.Text.
	TextIndex []string
	// TrigramIndex is the migration (version 4) that indexes the
	// arguments for a Filter.Text the word index cannot narrow (AsyncText
	// only; empty when the database's own index serves every text).
	TrigramIndex []string
	// ShortTextIndex is the migration (version 5) that serves a
	// Filter.Text of 1 or 2 characters the word index cannot narrow
	// (AsyncText), or a Filter.Text the database's trigram index cannot
	// narrow (BytesText).
	ShortTextIndex []string
	// BytesText: a Filter.Text with no trigram that pg_trgm keeps (see
	// pgTrgmBlind) is also looked up in an index of the arguments'
	// bytes, goarq_args_bytes (version 5), once DeferredIndex is built.
	BytesText bool
	// DeferredIndex, when set, is an index that a store builds after the
	// migrations, outside their transaction and without blocking the
	// inserts (see buildDeferred); until it is built, BytesText is off.
	DeferredIndex *DeferredIndex
	// CustomPlan, when set, is run first in the read-only transaction of
	// the queries whose plan depends on their parameters' values: a
	// Filter.Text query (not AsyncText), and Recorded. PostgreSQL's
	// generic plan of a prepared statement cannot see them, and after
	// five runs it may pick one that reads a whole index (a LIKE pattern
	// with no trigram) or every row (a common text), where a plan for the
	// pattern reads a few rows; or, for Recorded's job_id = ANY($1), a
	// sequential scan that compares each row with every id of the array
	// in turn (a plan made while the table was small, kept until the
	// next ANALYZE: 1.4–5 s a call with 5,000 ids over 25,000–100,000
	// rows, where a plan for the array reads the UNIQUE index).
	CustomPlan string
	// AsyncText: the text index is records_fts, filled off the insert
	// path by the store's indexer (see indexLoop); else the database
	// keeps its index itself and Filter.Text is args LIKE '%text%'.
	AsyncText bool
	// Checkpoint, when set, is run by the text indexer once it has caught
	// up: SQLite's WAL is then copied into the database file in a pause
	// of the inserts rather than during a burst (the SQLite store sets a
	// large wal_autocheckpoint, which still bounds the WAL).
	Checkpoint string
	// RowidAppend: a new row's id is above every id in the table while
	// the write transaction lasts (SQLite's rowid under its write lock),
	// so Add tells the new rows by their count, not by RETURNING.
	RowidAppend bool
	// InsertOrIgnore writes INSERT OR IGNORE instead of ON CONFLICT DO
	// NOTHING: SQLite then needs no statement journal for a multi-row
	// INSERT (no constraint can abort it half-way).
	InsertOrIgnore bool
}

// DeferredIndex is an index built by CREATE INDEX CONCURRENTLY once the
// migrations are done. Building it inside the migration's transaction
// would block every insert, and every other process opening the store,
// for as long as the build takes (15.6 s per million rows, measured by
// history/postgres's TestLargeStoreMigration). The index itself records
// that the step is done: the store builds it while pg_index has no valid
// index of that name, dropping first an invalid one that an interrupted
// build left; Lock, a session advisory lock, lets one process build it
// at a time.
type DeferredIndex struct {
	Name   string // the index
	Create string // CREATE INDEX CONCURRENTLY Name …
	Lock   int64  // the advisory lock's key
}

// SQLite and Postgres are the two dialects.
var (
	SQLite = Dialect{Name: "sqlite", PK: "INTEGER PRIMARY KEY", Blob: "BLOB", Substr: "instr", InsertOrIgnore: true, RowidAppend: true, AsyncText: true,
		Checkpoint: `PRAGMA wal_checkpoint(PASSIVE)`,
		// an FTS5 index of the words of the arguments (unicode61: far
		// cheaper than a trigram index), which narrows a text search to
		// candidates that the exact substring check then confirms
		// (ftsQuery). The store's indexer fills it in batches after the
		// inserts; text_index_state.indexed_to is its high-water mark (every
		// row up to that id is indexed), and a search reads the rows above
		// it directly.
		TextIndex: []string{
			`CREATE VIRTUAL TABLE records_fts USING fts5(args, content='', contentless_delete=1, tokenize='unicode61')`,
			`CREATE TABLE text_index_state (indexed_to BIGINT NOT NULL)`,
			`INSERT INTO text_index_state (indexed_to) VALUES (0)`,
			`CREATE TRIGGER records_fts_delete AFTER DELETE ON records WHEN old.id <= (SELECT indexed_to FROM text_index_state)
				BEGIN DELETE FROM records_fts WHERE rowid = old.id; END`,
		},
		// a trigram index of the arguments (FTS5's trigram tokenizer, case
		// sensitive as the search is), for a text with no whole word
		// (42424, a fragment inside a token) that the word index cannot
		// narrow. detail=none: no positions, so the index is a few times
		// smaller and quicker to fill; a search asks for rows holding
		// every trigram of the text (trigramQuery) and the exact
		// substring check confirms them. The same indexer fills both
		// indexes, off the insert path; the rows indexed so far are
		// indexed again (the mark goes back to 0) so that both indexes
		// share one high-water mark.
		TrigramIndex: []string{
			`CREATE VIRTUAL TABLE records_tri USING fts5(args, content='', contentless_delete=1, detail=none, tokenize='trigram case_sensitive 1')`,
			`INSERT INTO records_fts (records_fts) VALUES ('delete-all')`,
			`UPDATE text_index_state SET indexed_to = 0`,
			`DROP TRIGGER records_fts_delete`,
			`CREATE TRIGGER records_fts_delete AFTER DELETE ON records WHEN old.id <= (SELECT indexed_to FROM text_index_state)
				BEGIN DELETE FROM records_fts WHERE rowid = old.id; DELETE FROM records_tri WHERE rowid = old.id; END`,
		},
		// a text of 1 or 2 characters has no trigram, but every row
		// holding it has a trigram that starts with it once the trigram
		// index takes in each row's arguments followed by triTail (two
		// characters after the last one). The fts5vocab table lists the
		// index's (term, row) pairs in term order, so the rows holding a
		// trigram that starts with the text are one range of its terms
		// (shortTextQuery): no new index, and the trigram index grows by
		// the two trigrams of each row's end. The rows indexed so far
		// are indexed again, with the tail.
		ShortTextIndex: []string{
			`CREATE VIRTUAL TABLE records_tri_terms USING fts5vocab(records_tri, 'instance')`,
			`INSERT INTO records_fts (records_fts) VALUES ('delete-all')`,
			`INSERT INTO records_tri (records_tri) VALUES ('delete-all')`,
			`UPDATE text_index_state SET indexed_to = 0`,
		}}
	Postgres = Dialect{Name: "postgres", Numbered: true, PK: "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", Blob: "BYTEA", Substr: "strpos",
		LockRollup: `SELECT pg_advisory_xact_lock(7164011)`, BytesText: true,
		CustomPlan: `SET LOCAL plan_cache_mode = force_custom_plan`,
		// a trigram index (pg_trgm, part of Debian's postgresql) serves
		// args LIKE '%text%'
		TextIndex: []string{
			`CREATE EXTENSION IF NOT EXISTS pg_trgm`,
			`CREATE INDEX records_args_trgm ON records USING gin (args gin_trgm_ops)`,
		},
		// pg_trgm keeps only the trigrams of letters and digits, so a
		// text of 1 or 2 characters (q7, é) or of punctuation (#~) has
		// none and args LIKE '%text%' reads every record. The arguments'
		// UTF-8 bytes, each written as x and two hex digits (é is
		// xc3xa9), are all letters and digits, and every byte starts a
		// trigram of them: a pg_trgm index of that serves any text, as
		// goarq_args_bytes(args) LIKE '%xc3xa9%' beside the LIKE on args
		// (bytesPattern). IMMUTABLE: convert_to is only STABLE (it
		// converts between encodings), and to UTF-8 it gives the same
		// bytes for the same text.
		ShortTextIndex: []string{
			`CREATE FUNCTION goarq_args_bytes(t text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
				AS $$ SELECT regexp_replace(encode(convert_to(t, 'UTF8'), 'hex'), '(..)', 'x\1', 'g') $$`,
		},
		// the index of goarq_args_bytes(args), built after the
		// migration of version 5 (which creates the function); a
		// search does without it meanwhile (args LIKE alone)
		DeferredIndex: &DeferredIndex{Name: "records_args_bytes_trgm", Lock: 7164012,
			Create: `CREATE INDEX CONCURRENTLY records_args_bytes_trgm ON records USING gin (goarq_args_bytes(args) gin_trgm_ops)`},
	}
)

// migrations are the schema's versions, in order; version i+1 is
// migrations[i]. A store opens by applying those it has not got yet.
func migrations(d Dialect) [][]string {
	return [][]string{{
		`CREATE TABLE records (
			id ` + d.PK + `,
			job_id TEXT NOT NULL,
			start_ms BIGINT NOT NULL,
			queue TEXT NOT NULL,
			function TEXT NOT NULL,
			try INTEGER NOT NULL,
			enqueue_ms BIGINT NOT NULL,
			finish_ms BIGINT NOT NULL,
			success INTEGER NOT NULL,
			args TEXT NOT NULL,
			args_json TEXT NOT NULL,
			result TEXT NOT NULL,
			exc_class TEXT NOT NULL,
			exc_message TEXT NOT NULL,
			raw ` + d.Blob + `,
			serializer TEXT NOT NULL,
			undecodable TEXT NOT NULL,
			source TEXT NOT NULL,
			origin_job_id TEXT NOT NULL DEFAULT '',
			retried_as TEXT NOT NULL DEFAULT '',
			recorded_ms BIGINT NOT NULL,
			UNIQUE (job_id, start_ms))`,
		`CREATE INDEX records_finish ON records (finish_ms, id)`,
		`CREATE INDEX records_function ON records (function, finish_ms, id)`,
		`CREATE INDEX records_exc ON records (exc_class, finish_ms, id)`,
		`CREATE INDEX records_success ON records (success, finish_ms, id)`,
		`CREATE TABLE retries (
			new_job_id TEXT PRIMARY KEY,
			origin_id BIGINT NOT NULL,
			origin_job_id TEXT NOT NULL,
			created_ms BIGINT NOT NULL)`,
		// one row per UTC day and function: counts, and the run-time
		// histogram as "bucket:count,..." (see bucket)
		`CREATE TABLE daily (
			day BIGINT NOT NULL,
			function TEXT NOT NULL,
			n BIGINT NOT NULL,
			failed BIGINT NOT NULL,
			hist TEXT NOT NULL,
			PRIMARY KEY (day, function))`,
	}, {
		// version 2: the failures' indexes hold only failures (a tenth
		// of the rows, typically), so that a success updates two
		// secondary indexes instead of four; Query names success = 0
		// whenever it filters on failures.
		`DROP INDEX records_success`,
		`DROP INDEX records_exc`,
		`CREATE INDEX records_failed ON records (finish_ms, id) WHERE success = 0`,
		`CREATE INDEX records_failed_exc ON records (exc_class, finish_ms, id) WHERE success = 0`,
	}, d.TextIndex, d.TrigramIndex, d.ShortTextIndex, {
		// version 6: results staged raw during a burst (history.Stager):
		// no index but the row id, so an append costs one B-tree's
		// right-most page
		`CREATE TABLE staged (
			id ` + d.PK + `,
			job_id TEXT NOT NULL,
			data ` + d.Blob + ` NOT NULL,
			staged_ms BIGINT NOT NULL)`,
	}}
}

// triTail follows each row's arguments in the trigram index (see
// Dialect.ShortTextIndex): with it, the last two characters of the
// arguments start a trigram too.
const triTail = "\x01\x01"

// SchemaVersion is the version a store migrates to.
func SchemaVersion() int { return len(migrations(SQLite)) }

// ErrNewerSchema is returned when the database was migrated by a newer
// goarq than this one.
var ErrNewerSchema = errors.New("history: the database's schema is newer than this goarq")

// Store is a history.Store on a database/sql handle.
type Store struct {
	db *sql.DB
	d  Dialect

	// inserts holds the prepared multi-row INSERTs, one per chunk size
	// (insertChunks), prepared on first use: a 100-row INSERT takes longer
	// to parse than to run.
	insertMu sync.Mutex
	inserts  map[int]*sql.Stmt
	stages   map[int]*sql.Stmt // the same for Stage

	// the text indexer (AsyncText): started by the first Add, woken by
	// every Add, ended by Close
	idxOnce   sync.Once
	idxKick   chan struct{}
	idxStop   context.CancelFunc
	idxDone   chan struct{}
	lastAddNS atomic.Int64
	idxErr    atomic.Pointer[error] // the indexer's last failure; nil after a success

	// the DeferredIndex: built (or found built) by the builder that
	// Open starts, ended by Close
	defReady atomic.Bool
	defStop  context.CancelFunc
	defDone  chan struct{}
	defErr   atomic.Pointer[error] // the builder's last failure; nil after a success
}

// Open migrates db to the current schema and returns the store; closing
// the store closes db.
func Open(ctx context.Context, db *sql.DB, d Dialect) (*Store, error) {
	s := &Store{db: db, d: d, idxKick: make(chan struct{}, 1)}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	if s.d.DeferredIndex != nil {
		if ok, err := s.deferredValid(ctx, s.db); err == nil && ok {
			s.defReady.Store(true)
		} else {
			bctx, stop := context.WithCancel(context.WithoutCancel(ctx))
			s.defStop, s.defDone = stop, make(chan struct{})
			go s.deferredLoop(bctx)
		}
	}
	return s, nil
}

func (s *Store) q(query string) string {
	if !s.d.Numbered {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// MigrateTo migrates db to version (not past it): the tests of the stores
// make a database of an older schema with it.
func MigrateTo(ctx context.Context, db *sql.DB, d Dialect, version int) error {
	s := &Store{db: db, d: d}
	return s.migrateTo(ctx, version)
}

func (s *Store) migrate(ctx context.Context) error { return s.migrateTo(ctx, len(migrations(s.d))) }

func (s *Store) migrateTo(ctx context.Context, version int) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("history: schema_version: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("history: migrate: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if s.d.Name == "postgres" {
		// one migrator at a time across processes
		if _, err := tx.ExecContext(ctx, `LOCK TABLE schema_version IN EXCLUSIVE MODE`); err != nil {
			return fmt.Errorf("history: migrate: %w", err)
		}
	}
	var v sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_version`).Scan(&v); err != nil {
		return fmt.Errorf("history: schema version: %w", err)
	}
	ms := migrations(s.d)
	if int(v.Int64) > len(ms) {
		return fmt.Errorf("%w (database %d, this goarq %d)", ErrNewerSchema, v.Int64, len(ms))
	}
	for i := int(v.Int64); i < min(version, len(ms)); i++ {
		for _, stmt := range ms[i] {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("history: migration %d: %w", i+1, err)
			}
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_version (version) VALUES (?)`), i+1); err != nil {
			return fmt.Errorf("history: migration %d: %w", i+1, err)
		}
	}
	return tx.Commit()
}

// Close closes the database handle.
func (s *Store) Close() error {
	s.idxOnce.Do(func() {}) // no indexer starts from now on
	if s.idxStop != nil {
		s.idxStop()
		<-s.idxDone
	}
	if s.defStop != nil {
		s.defStop()
		<-s.defDone
	}
	s.insertMu.Lock()
	for _, st := range s.inserts {
		st.Close()
	}
	for _, st := range s.stages {
		st.Close()
	}
	s.inserts, s.stages = nil, nil
	s.insertMu.Unlock()
	return s.db.Close()
}

// insertStmt is the prepared INSERT of n records.
func (s *Store) insertStmt(ctx context.Context, n int) (*sql.Stmt, error) {
	s.insertMu.Lock()
	defer s.insertMu.Unlock()
	if st := s.inserts[n]; st != nil {
		return st, nil
	}
	st, err := s.db.PrepareContext(ctx, s.q(s.insertSQL(n)))
	if err != nil {
		return nil, err
	}
	if s.inserts == nil {
		s.inserts = map[int]*sql.Stmt{}
	}
	s.inserts[n] = st
	return st, nil
}

// DB is the database handle.
func (s *Store) DB() *sql.DB { return s.db }

const dayMS = 86_400_000

// bucket is the run-time histogram bucket of ms: buckets grow by 2^(1/4)
// (19%), so a quantile read from them is within 19% above the true one.
func bucket(ms int64) int {
	if ms <= 0 {
		return 0
	}
	return int(math.Ceil(4 * math.Log2(1+float64(ms))))
}

// bucketMS is the upper bound of bucket b in milliseconds.
func bucketMS(b int) int64 { return int64(math.Round(math.Exp2(float64(b)/4) - 1)) }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

const recordCols = `job_id, start_ms, queue, function, try, enqueue_ms, finish_ms, success, args, args_json, result,
	exc_class, exc_message, raw, serializer, undecodable, source, recorded_ms`

// Add implements history.Store.
func (s *Store) Add(ctx context.Context, recs []history.Record) (int, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("history: add: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	type dayKey struct {
		day int64
		fn  string
	}
	type dayAcc struct {
		n, failed int64
		hist      map[int]int64
	}
	days := map[dayKey]*dayAcc{}
	added := 0
	count := func(r *history.Record) {
		added++
		dk := dayKey{r.FinishMS / dayMS * dayMS, r.Function}
		a := days[dk]
		if a == nil {
			a = &dayAcc{hist: map[int]int64{}}
			days[dk] = a
		}
		a.n++
		if !r.Success {
			a.failed++
		}
		if r.Undecodable == "" {
			a.hist[bucket(r.FinishMS-r.StartMS)]++
		}
	}
	// multi-row INSERTs (insertChunks); a conflict on job id and start
	// time skips a row. The rows that were new are told by RETURNING, or
	// (RowidAppend) by the rows' count, and read back only when some
	// were skipped.
	byKey := make(map[recKey]int, len(recs))
	uniq := make([]int, 0, len(recs))
	for i, r := range recs {
		k := recKey{r.JobID, r.StartMS}
		if _, dup := byKey[k]; !dup {
			byKey[k] = i
			uniq = append(uniq, i)
		}
	}
	// a record of a job that goarq retry made gets its origin after the
	// INSERTs (one UPDATE over the new rows), and only when there are
	// retries at all: a lookup per row in the INSERT cost more than the
	// row's own insert
	var retries bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM retries)`).Scan(&retries); err != nil {
		return 0, fmt.Errorf("history: add: %w", err)
	}
	if s.d.AsyncText {
		// rows above the largest id were deleted, so SQLite hands their
		// ids out again: the text index's mark comes down to the largest
		// id, so that the new rows are indexed too
		if _, err := tx.ExecContext(ctx, `UPDATE text_index_state SET indexed_to = (SELECT COALESCE(MAX(id), 0) FROM records)
			WHERE indexed_to > (SELECT COALESCE(MAX(id), 0) FROM records)`); err != nil {
			return 0, fmt.Errorf("history: add: %w", err)
		}
	}
	// the new rows' ids are above the largest before (SQLite: the write
	// lock is held; PostgreSQL: the identity only grows)
	var maxID int64
	if retries || s.d.RowidAppend {
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM records`).Scan(&maxID); err != nil {
			return 0, fmt.Errorf("history: add: %w", err)
		}
	}
	var inserted int64
	args := make([]any, 0, insertChunks[0]*18)
	for start := 0; start < len(uniq); {
		size := insertChunks[len(insertChunks)-1]
		for _, c := range insertChunks {
			if len(uniq)-start >= c {
				size = c
				break
			}
		}
		chunk := uniq[start : start+size]
		start += size
		prepared, err := s.insertStmt(ctx, size)
		if err != nil {
			return 0, fmt.Errorf("history: add: %w", err)
		}
		st := tx.StmtContext(ctx, prepared)
		args = args[:0]
		for _, i := range chunk {
			r := &recs[i]
			args = append(args, r.JobID, r.StartMS, r.Queue, r.Function, int64(r.Try), r.EnqueueMS, r.FinishMS, int64(b2i(r.Success)),
				r.Args, r.ArgsJSON, r.Result, r.ExcClass, r.ExcMessage, r.Raw, r.Serializer, r.Undecodable, r.Source, r.RecordedMS)
		}
		if s.d.RowidAppend {
			res, err := st.ExecContext(ctx, args...)
			st.Close()
			if err != nil {
				return 0, fmt.Errorf("history: add: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return 0, fmt.Errorf("history: add: %w", err)
			}
			inserted += n
			continue
		}
		if err := scanKeys(ctx, st, args, func(k recKey) { count(&recs[byKey[k]]) }); err != nil {
			return 0, err
		}
		st.Close()
	}
	if s.d.RowidAppend {
		if inserted == int64(len(uniq)) {
			for _, i := range uniq {
				count(&recs[i])
			}
		} else if inserted > 0 {
			st, err := tx.PrepareContext(ctx, `SELECT job_id, start_ms FROM records WHERE id > ?`)
			if err != nil {
				return 0, fmt.Errorf("history: add: %w", err)
			}
			err = scanKeys(ctx, st, []any{maxID}, func(k recKey) { count(&recs[byKey[k]]) })
			st.Close()
			if err != nil {
				return 0, err
			}
		}
	}
	if retries && added > 0 {
		// the new rows' ids are above the largest before (SQLite: the
		// write lock is held; PostgreSQL: the identity only grows)
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE records SET origin_job_id = (SELECT r.origin_job_id FROM retries r WHERE r.new_job_id = records.job_id)
			WHERE id > ? AND job_id IN (SELECT new_job_id FROM retries)`), maxID); err != nil {
			return 0, fmt.Errorf("history: add: %w", err)
		}
	}
	if len(days) > 0 {
		if s.d.LockRollup != "" {
			if _, err := tx.ExecContext(ctx, s.d.LockRollup); err != nil {
				return 0, fmt.Errorf("history: add: %w", err)
			}
		}
		get, err := tx.PrepareContext(ctx, s.q(`SELECT hist FROM daily WHERE day = ? AND function = ?`))
		if err != nil {
			return 0, fmt.Errorf("history: add: %w", err)
		}
		defer get.Close()
		up, err := tx.PrepareContext(ctx, s.q(`INSERT INTO daily (day, function, n, failed, hist) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (day, function) DO UPDATE SET n = daily.n + excluded.n, failed = daily.failed + excluded.failed, hist = excluded.hist`))
		if err != nil {
			return 0, fmt.Errorf("history: add: %w", err)
		}
		defer up.Close()
		for k, a := range days {
			var old string
			if err := get.QueryRowContext(ctx, k.day, k.fn).Scan(&old); err != nil && !errors.Is(err, sql.ErrNoRows) {
				return 0, fmt.Errorf("history: add: %w", err)
			}
			for b, n := range parseHist(old) {
				a.hist[b] += n
			}
			if _, err := up.ExecContext(ctx, k.day, k.fn, a.n, a.failed, formatHist(a.hist)); err != nil {
				return 0, fmt.Errorf("history: add: %w", err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("history: add: %w", err)
	}
	if s.d.AsyncText && added > 0 {
		s.lastAddNS.Store(time.Now().UnixNano())
		s.idxOnce.Do(func() {
			ctx, cancel := context.WithCancel(context.Background())
			s.idxStop, s.idxDone = cancel, make(chan struct{})
			go s.indexLoop(ctx)
		})
		select {
		case s.idxKick <- struct{}{}:
		default:
		}
	}
	return added, nil
}

// The text indexer runs when the inserts pause for indexQuiet, or when
// the rows not indexed yet pass indexMaxTail; it indexes indexBatch rows
// per transaction, and yields to the inserts between transactions while
// the tail is short. A search reads the tail directly (ftsQuery), so a
// short tail costs a search little and the inserts nothing.
const (
	indexQuiet   = time.Second
	indexMaxTail = 50_000
	indexBatch   = 10_000
)

// indexLoop is the text indexer's goroutine; it ends with ctx.
func (s *Store) indexLoop(ctx context.Context) {
	defer close(s.idxDone)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.idxKick:
		}
		for {
			// wait for a pause in the inserts, unless the tail is long
			quiet := time.Since(time.Unix(0, s.lastAddNS.Load()))
			if quiet < indexQuiet {
				if lag, err := s.TextIndexLag(ctx); err != nil || lag < indexMaxTail {
					t := time.NewTimer(indexQuiet - quiet)
					select {
					case <-ctx.Done():
						t.Stop()
						return
					case <-t.C:
					}
					continue
				}
			}
			n, err := s.IndexText(ctx, indexBatch)
			if err != nil {
				// tried again on the next Add's kick (Add itself does
				// not depend on the index); TextIndexErr tells it
				if ctx.Err() == nil {
					s.idxErr.Store(&err)
				}
				break
			}
			s.idxErr.Store(nil)
			if n == 0 {
				if s.d.Checkpoint != "" {
					_, _ = s.db.ExecContext(ctx, s.d.Checkpoint) // else the next autocheckpoint does it
				}
				break
			}
		}
	}
}

// TextIndexErr is the text indexer's last failure, nil when its last
// batch succeeded. Searches stay right meanwhile: they read the rows not
// indexed yet directly, which costs more as they pile up.
func (s *Store) TextIndexErr() error {
	if p := s.idxErr.Load(); p != nil {
		return *p
	}
	if p := s.defErr.Load(); p != nil {
		return *p
	}
	return nil
}

// TextIndexLag is how many rows the text index has not taken in yet (0
// when the dialect's database keeps its index itself, once its
// DeferredIndex is built; every row before).
func (s *Store) TextIndexLag(ctx context.Context) (int64, error) {
	if !s.d.AsyncText {
		if s.d.DeferredIndex == nil || s.defReady.Load() {
			return 0, nil
		}
		// the DeferredIndex is not built yet: it lacks every row
		var n int64
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM records`).Scan(&n); err != nil {
			return 0, fmt.Errorf("history: text index: %w", err)
		}
		return n, nil
	}
	var lag int64
	err := s.db.QueryRowContext(ctx, `SELECT (SELECT COALESCE(MAX(id), 0) FROM records) - (SELECT indexed_to FROM text_index_state)`).Scan(&lag)
	if err != nil {
		return 0, fmt.Errorf("history: text index: %w", err)
	}
	return max(lag, 0), nil
}

// IndexText adds up to limit rows above the high-water mark to the text
// index, in one transaction, and returns how many it added (0: caught
// up). The store's indexer calls it; a caller that wants the index
// complete now (a benchmark, a test) may too.
//
// A database that keeps its text index itself (PostgreSQL) has nothing to
// add, but for its DeferredIndex: IndexText builds it now if it is not
// built yet (or waits for the process that builds it), and returns how
// many rows it took in.
func (s *Store) IndexText(ctx context.Context, limit int) (int64, error) {
	if !s.d.AsyncText {
		if s.d.DeferredIndex == nil || s.defReady.Load() {
			return 0, nil
		}
		n, err := s.TextIndexLag(ctx)
		if err != nil {
			return 0, err
		}
		if built, err := s.buildDeferred(ctx); err != nil || !built {
			return 0, err
		}
		return max(n, 1), nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("history: text index: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var from int64
	var to sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT indexed_to FROM text_index_state`).Scan(&from); err != nil {
		return 0, fmt.Errorf("history: text index: %w", err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT MAX(id) FROM (SELECT id FROM records WHERE id > ? ORDER BY id LIMIT ?)`, from, limit).Scan(&to); err != nil {
		return 0, fmt.Errorf("history: text index: %w", err)
	}
	if !to.Valid {
		return 0, nil
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO records_fts (rowid, args) SELECT id, args FROM records WHERE id > ? AND id <= ?`, from, to.Int64)
	if err != nil {
		return 0, fmt.Errorf("history: text index: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO records_tri (rowid, args) SELECT id, args || ? FROM records WHERE id > ? AND id <= ?`, triTail, from, to.Int64); err != nil {
		return 0, fmt.Errorf("history: text index: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE text_index_state SET indexed_to = ?`, to.Int64); err != nil {
		return 0, fmt.Errorf("history: text index: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("history: text index: %w", err)
	}
	n, _ := res.RowsAffected()
	return max(n, 1), nil
}

// deferredPoll is how often a store whose DeferredIndex another process
// is building checks whether it is done; deferredRetry is how long the
// builder waits after a failed build before it tries again.
const (
	deferredPoll  = 2 * time.Second
	deferredRetry = 30 * time.Second
)

// deferredLoop is the DeferredIndex builder's goroutine: it builds the
// index, or waits for the process that builds it, and ends then or with
// ctx. A failure is told by TextIndexErr and tried again.
func (s *Store) deferredLoop(ctx context.Context) {
	defer close(s.defDone)
	for {
		_, err := s.buildDeferred(ctx)
		if err == nil || ctx.Err() != nil {
			return
		}
		s.defErr.Store(&err)
		t := time.NewTimer(deferredRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// buildDeferred builds the DeferredIndex unless it is there; built
// reports that this call built it. It returns once the index is valid
// (built here or by another process) or ctx ends.
//
// The advisory lock is tried, not waited for: a session waiting in
// pg_advisory_lock holds a snapshot, which the builder's CREATE INDEX
// CONCURRENTLY would wait for in turn.
func (s *Store) buildDeferred(ctx context.Context) (built bool, err error) {
	di := s.d.DeferredIndex
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("history: build %s: %w", di.Name, err)
	}
	defer conn.Close()
	for {
		ok, err := s.deferredValid(ctx, conn)
		if err != nil {
			return false, err
		}
		if ok {
			s.defReady.Store(true)
			s.defErr.Store(nil)
			return false, nil
		}
		var locked bool
		if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, di.Lock).Scan(&locked); err != nil {
			return false, fmt.Errorf("history: build %s: %w", di.Name, err)
		}
		if locked {
			break
		}
		t := time.NewTimer(deferredPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		case <-t.C:
		}
	}
	defer func() {
		// a session lock: released here, or with the session when the
		// connection breaks (a cancelled statement may break it)
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, _ = conn.ExecContext(uctx, `SELECT pg_advisory_unlock($1)`, di.Lock)
	}()
	// the previous holder of the lock may have built it just now
	if ok, err := s.deferredValid(ctx, conn); err != nil || ok {
		if ok {
			s.defReady.Store(true)
			s.defErr.Store(nil)
		}
		return false, err
	}
	// an invalid index of that name is what an interrupted build left
	for _, q := range []string{`DROP INDEX CONCURRENTLY IF EXISTS ` + di.Name, di.Create} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return false, fmt.Errorf("history: build %s: %w", di.Name, err)
		}
	}
	s.defReady.Store(true)
	s.defErr.Store(nil)
	return true, nil
}

// deferredValid reports whether the DeferredIndex is built: a valid index
// of its name on records in pg_index (found through the table, which
// the store names as every query does; to_regclass takes a cstring
// before PostgreSQL 14).
func (s *Store) deferredValid(ctx context.Context, db interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}) (bool, error) {
	var ok bool
	err := db.QueryRowContext(ctx, `SELECT COALESCE((SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE i.indrelid = 'records'::regclass AND c.relname = $1), false)`,
		s.d.DeferredIndex.Name).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("history: build %s: %w", s.d.DeferredIndex.Name, err)
	}
	return ok, nil
}

// recKey is a record's identity: job id and start time.
type recKey struct {
	job   string
	start int64
}

// scanKeys runs st, which names rows by job id and start time, and calls
// fn with each.
func scanKeys(ctx context.Context, st *sql.Stmt, args []any, fn func(recKey)) error {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return fmt.Errorf("history: add: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k recKey
		if err := rows.Scan(&k.job, &k.start); err != nil {
			return fmt.Errorf("history: add: %w", err)
		}
		fn(k)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("history: add: %w", err)
	}
	return nil
}

// insertChunks are the sizes of the multi-row INSERTs, largest first: a
// batch is written 100 rows at a time, its remainder 10 and then 1 at a
// time, so that three prepared statements serve every batch size.
var insertChunks = [...]int{100, 10, 1}

// insertSQL is the INSERT of n records.
func (s *Store) insertSQL(n int) string {
	var b strings.Builder
	if s.d.InsertOrIgnore {
		b.WriteString(`INSERT OR IGNORE`)
	} else {
		b.WriteString(`INSERT`)
	}
	b.WriteString(` INTO records (` + recordCols + `) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	}
	if !s.d.InsertOrIgnore {
		b.WriteString(` ON CONFLICT (job_id, start_ms) DO NOTHING`)
	}
	if !s.d.RowidAppend {
		b.WriteString(` RETURNING job_id, start_ms`)
	}
	return b.String()
}

const selectCols = `id, ` + recordCols + `, origin_job_id, retried_as`

func scanRecord(row interface{ Scan(...any) error }) (history.Record, error) {
	var r history.Record
	var success int
	err := row.Scan(&r.ID, &r.JobID, &r.StartMS, &r.Queue, &r.Function, &r.Try, &r.EnqueueMS, &r.FinishMS, &success,
		&r.Args, &r.ArgsJSON, &r.Result, &r.ExcClass, &r.ExcMessage, &r.Raw, &r.Serializer, &r.Undecodable, &r.Source,
		&r.RecordedMS, &r.OriginJobID, &r.RetriedAs)
	r.Success = success != 0
	return r, err
}

// MaxLimit caps a page.
const MaxLimit = 1000

// Query implements history.Store.
func (s *Store) Query(ctx context.Context, f history.Filter) (history.Page, error) {
	var where []string
	var args []any
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	if f.Function != "" {
		add("function = ?", f.Function)
	}
	if f.Queue != "" {
		add("queue = ?", f.Queue)
	}
	// success as a literal, so that the failures' partial indexes
	// apply; an exception class is only ever set on a failure
	if f.Success != nil {
		add("success = " + strconv.Itoa(b2i(*f.Success)))
	}
	if f.ExcClass != "" {
		if f.Success == nil || *f.Success {
			add("success = 0")
		}
		add("exc_class = ?", f.ExcClass)
	}
	if !f.Since.IsZero() {
		add("finish_ms >= ?", f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		add("finish_ms < ?", f.Until.UnixMilli())
	}
	if f.JobID != "" {
		add("job_id = ?", f.JobID)
	}
	if f.NotRetried {
		add("retried_as = ''")
	}
	if !f.Before.IsZero() {
		add("(finish_ms < ? OR (finish_ms = ? AND id < ?))", f.Before.FinishMS, f.Before.FinishMS, f.Before.ID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, MaxLimit)
	switch {
	case f.Text == "":
		p, _, err := s.page(ctx, "records", where, args, limit)
		return p, err
	case !s.d.AsyncText:
		where, args = append(where, `args LIKE ?`), append(args, "%"+likeEscaper.Replace(f.Text)+"%")
		if s.d.BytesText && s.defReady.Load() && pgTrgmBlind(f.Text) {
			where, args = append(where, `goarq_args_bytes(args) LIKE ?`), append(args, bytesPattern(f.Text))
		}
		return s.textPage(ctx, where, args, limit)
	}
	// SQLite: first the newest textProbe records the other filters
	// select; a common text fills the page from them
	text := s.d.Substr + "(args, ?) > 0"
	probe := `(SELECT ` + selectCols + ` FROM records` + whereClause(where) + ` ORDER BY finish_ms DESC, id DESC LIMIT ` + strconv.Itoa(textProbe) + `)`
	if p, full, err := s.page(ctx, probe, []string{text}, append(slices.Clip(args), f.Text), limit); err != nil || full {
		return p, err
	}
	// then the candidates of the text index (the index's matches and
	// the rows it has not taken in yet), or a walk of all the records
	from, fromArgs := "records", []any(nil)
	if cands, candArgs, ok := s.textCandidates(ctx, f.Text); ok {
		from = `(` + cands + `
			UNION ALL SELECT id FROM records WHERE id > (SELECT indexed_to FROM text_index_state)) AS c
			CROSS JOIN records ON records.id = c.rid`
		fromArgs = candArgs
	}
	p, _, err := s.page(ctx, from, append(where, text), append(append(fromArgs, args...), f.Text), limit)
	return p, err
}

// textCandidates is the query of the indexed rows (column rid, each
// once) that may contain text, and its arguments, from the first index
// that narrows text to at most ftsMaxCandidates rows: the word index, the
// trigram index for a text of 3 characters or more, its terms for a
// shorter one; ok is false when none does, and the search walks the
// records.
func (s *Store) textCandidates(ctx context.Context, text string) (query string, args []any, ok bool) {
	if match, ok := s.ftsQuery(ctx, text); ok {
		return `SELECT rowid AS rid FROM records_fts WHERE records_fts MATCH ?`, []any{match}, true
	}
	if utf8.RuneCountInString(text) >= 3 {
		if match, ok := s.trigramQuery(ctx, text); ok {
			return `SELECT rowid AS rid FROM records_tri WHERE records_tri MATCH ?`, []any{match}, true
		}
		return "", nil, false
	}
	return s.shortTextQuery(ctx, text)
}

// shortTextQuery is textCandidates for a text of 1 or 2 characters: the
// rows of the trigram index's terms that start with text (every row that
// holds text has one, see Dialect.ShortTextIndex), if they are at most
// ftsMaxCandidates (counted with repeats: a row holding several such
// terms counts once for each). The terms are compared as bytes, so the
// range of those that start with text ends at text with its last byte
// raised by one (a valid UTF-8 string ends in a byte below 0xC0). Only
// rows up to the index's high-water mark are read: a row above it is
// read with the rows not indexed yet.
func (s *Store) shortTextQuery(ctx context.Context, text string) (string, []any, bool) {
	if text == "" || !utf8.ValidString(text) || strings.ContainsRune(text, 0) {
		return "", nil, false
	}
	hi := []byte(text)
	hi[len(hi)-1]++
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT doc FROM records_tri_terms WHERE term >= ? AND term < ? LIMIT ?)`,
		text, string(hi), ftsMaxCandidates+1).Scan(&n)
	if err != nil || n > ftsMaxCandidates {
		return "", nil, false
	}
	return `SELECT DISTINCT doc AS rid FROM records_tri_terms WHERE term >= ? AND term < ?
			AND doc <= (SELECT indexed_to FROM text_index_state)`, []any{text, string(hi)}, true
}

// textProbe is how many of the newest records a text search reads before
// it turns to the text index.
const textProbe = 2000

func whereClause(where []string) string {
	if len(where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(where, " AND ")
}

// textPage is page of records for a Filter.Text query the database's own
// index serves (not AsyncText), after the dialect's CustomPlan.
func (s *Store) textPage(ctx context.Context, where []string, args []any, limit int) (history.Page, error) {
	if s.d.CustomPlan == "" {
		p, _, err := s.page(ctx, "records", where, args, limit)
		return p, err
	}
	tx, err := s.customPlanTx(ctx)
	if err != nil {
		return history.Page{}, fmt.Errorf("history: query: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	p, _, err := s.pageOn(ctx, tx, "records", where, args, limit)
	if err != nil {
		return history.Page{}, err
	}
	if err := tx.Commit(); err != nil {
		return history.Page{}, fmt.Errorf("history: query: %w", err)
	}
	return p, nil
}

// customPlanTx begins a read-only transaction that plans each statement
// for its parameters' values (Dialect.CustomPlan, which must be set).
func (s *Store) customPlanTx(ctx context.Context) (*sql.Tx, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, s.d.CustomPlan); err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	return tx, nil
}

// page reads up to limit records from from, newest first; full reports
// that there were more.
func (s *Store) page(ctx context.Context, from string, where []string, args []any, limit int) (p history.Page, full bool, err error) {
	return s.pageOn(ctx, s.db, from, where, args, limit)
}

// pageOn is page on db, the store's handle or a transaction of it.
func (s *Store) pageOn(ctx context.Context, db interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}, from string, where []string, args []any, limit int) (p history.Page, full bool, err error) {
	query := `SELECT ` + selectCols + ` FROM ` + from + whereClause(where) + " ORDER BY finish_ms DESC, id DESC LIMIT " + strconv.Itoa(limit+1)
	rows, err := db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return history.Page{}, false, fmt.Errorf("history: query: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return history.Page{}, false, fmt.Errorf("history: query: %w", err)
		}
		p.Records = append(p.Records, r)
	}
	if err := rows.Err(); err != nil {
		return history.Page{}, false, fmt.Errorf("history: query: %w", err)
	}
	if len(p.Records) > limit {
		p.Records = p.Records[:limit]
		last := p.Records[limit-1]
		p.Next = history.Cursor{FinishMS: last.FinishMS, ID: last.ID}
		return p, true, nil
	}
	return p, false, nil
}

// ftsMaxCandidates bounds the rows a text search reads through the text
// index; past it the search walks the records newest first instead, which
// finds a page quickly when the text's words are common. Either way it
// reads the rows not indexed yet (at most indexMaxTail while records
// keep coming, none once they pause).
const ftsMaxCandidates = 5_000

// ftsQuery is the FTS5 query that narrows a search for text, and whether
// to use it: text has a word the index can use, and the index matches at
// most ftsMaxCandidates rows.
//
// The query is a phrase that every string containing text matches, so
// that the search still means "args contains text" (exact and case
// sensitive, checked on each candidate). The unicode61 tokenizer splits
// at every ASCII character other than a letter or digit, so: the text up
// to its first such separator may be the end of a longer word and is
// left out; the phrase is the rest, whose words are whole words of the
// arguments, except the last, which may be the start of a longer one
// (a prefix query) unless text ends with a separator. A text with no
// ASCII letter or digit after its first separator is not narrowed.
func (s *Store) ftsQuery(ctx context.Context, text string) (string, bool) {
	i := strings.IndexFunc(text, func(r rune) bool { return r < utf8.RuneSelf && !isASCIIAlnum(byte(r)) })
	if i < 0 {
		return "", false
	}
	rest := text[i:]
	if strings.IndexFunc(rest, func(r rune) bool { return r < utf8.RuneSelf && isASCIIAlnum(byte(r)) }) < 0 {
		return "", false
	}
	q := `"` + strings.ReplaceAll(rest, `"`, `""`) + `"`
	if last := rest[len(rest)-1]; last >= utf8.RuneSelf || isASCIIAlnum(last) {
		// a prefix query merges the rows of every word with that prefix
		// before it counts them (33-41 ms for com* over a million rows):
		// the phrase without the prefix matches fewer rows and is counted
		// first, so that a common word is refused cheaply
		if !s.fewCandidates(ctx, "records_fts", q) {
			return "", false
		}
		q += " *"
	}
	return q, s.fewCandidates(ctx, "records_fts", q)
}

// fewCandidates reports whether the FTS5 query q matches at most
// ftsMaxCandidates rows of table; else (or on an error) a search walks
// the records.
func (s *Store) fewCandidates(ctx context.Context, table, q string) bool {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT rowid FROM `+table+` WHERE `+table+` MATCH ? LIMIT ?)`,
		q, ftsMaxCandidates+1).Scan(&n)
	return err == nil && n <= ftsMaxCandidates
}

// trigramMax bounds the trigrams of a trigram query: any of a text's
// trigrams narrow the search to rows that may contain it, more only
// narrow it further.
const trigramMax = 16

// trigramQuery is the FTS5 query of the trigram index that narrows a
// search for text, and whether to use it: text has at least 3 characters
// (and is valid UTF-8, as the tokenizer's characters are), and the index
// matches at most ftsMaxCandidates rows. The query asks for rows holding
// each of the text's distinct trigrams (up to trigramMax), anywhere: the
// index keeps no positions (detail=none), so the exact substring check
// on each candidate decides.
func (s *Store) trigramQuery(ctx context.Context, text string) (string, bool) {
	if !utf8.ValidString(text) || strings.ContainsRune(text, 0) {
		return "", false
	}
	rs := []rune(text)
	var terms []string
	for i := 0; i+3 <= len(rs) && len(terms) < trigramMax; i++ {
		t := `"` + strings.ReplaceAll(string(rs[i:i+3]), `"`, `""`) + `"`
		if !slices.Contains(terms, t) {
			terms = append(terms, t)
		}
	}
	if len(terms) == 0 {
		return "", false
	}
	q := strings.Join(terms, " AND ")
	return q, s.fewCandidates(ctx, "records_tri", q)
}

func isASCIIAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// pgTrgmBlind reports whether pg_trgm finds no trigram in text for a
// LIKE '%text%': it has no 3 letters or digits in a row (pg_trgm takes
// non-ASCII letters too, depending on the database's locale; such a text
// is looked up in both indexes then, with the same result).
func pgTrgmBlind(text string) bool {
	run := 0
	for i := 0; i < len(text); i++ {
		if !isASCIIAlnum(text[i]) {
			run = 0
			continue
		}
		if run++; run == 3 {
			return false
		}
	}
	return true
}

// bytesPattern is the LIKE pattern of goarq_args_bytes(args) that every
// args holding text matches: text's UTF-8 bytes, each as x and two
// lower-case hex digits.
func bytesPattern(text string) string {
	b := make([]byte, 0, 3*len(text)+2)
	b = append(b, '%')
	for i := 0; i < len(text); i++ {
		b = append(b, 'x')
		b = strconv.AppendUint(b, uint64(text[i])>>4, 16)
		b = strconv.AppendUint(b, uint64(text[i])&15, 16)
	}
	return string(append(b, '%'))
}

// likeEscaper escapes a LIKE pattern's wildcards (PostgreSQL's default
// escape character is the backslash).
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// Get implements history.Store.
func (s *Store) Get(ctx context.Context, id int64) (history.Record, error) {
	r, err := scanRecord(s.db.QueryRowContext(ctx, s.q(`SELECT `+selectCols+` FROM records WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("%w: %d", history.ErrNotFound, id)
	}
	if err != nil {
		return r, fmt.Errorf("history: get %d: %w", id, err)
	}
	return r, nil
}

// Daily implements history.Store.
func (s *Store) Daily(ctx context.Context, since time.Time) ([]history.DayStats, error) {
	from := since.UnixMilli() / dayMS * dayMS
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT day, function, n, failed, hist FROM daily WHERE day >= ? ORDER BY day, function`), from)
	if err != nil {
		return nil, fmt.Errorf("history: daily: %w", err)
	}
	defer rows.Close()
	var out []history.DayStats
	for rows.Next() {
		var d history.DayStats
		var day int64
		var hist string
		if err := rows.Scan(&day, &d.Function, &d.Count, &d.Failed, &hist); err != nil {
			return nil, fmt.Errorf("history: daily: %w", err)
		}
		d.Day = time.UnixMilli(day).UTC()
		h := make([][2]int64, 0, 32)
		for b, n := range parseHist(hist) {
			h = append(h, [2]int64{int64(b), n})
		}
		d.RunP50, d.RunP95 = histQuantile(h, 0.5), histQuantile(h, 0.95)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history: daily: %w", err)
	}
	return out, nil
}

// parseHist reads "bucket:count,..."; what does not parse is skipped.
func parseHist(s string) map[int]int64 {
	m := map[int]int64{}
	for _, p := range strings.Split(s, ",") {
		b, n, ok := strings.Cut(p, ":")
		if !ok {
			continue
		}
		bi, err1 := strconv.Atoi(b)
		ni, err2 := strconv.ParseInt(n, 10, 64)
		if err1 == nil && err2 == nil {
			m[bi] += ni
		}
	}
	return m
}

func formatHist(m map[int]int64) string {
	keys := make([]int, 0, len(m))
	for b := range m {
		keys = append(keys, b)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, b := range keys {
		parts[i] = strconv.Itoa(b) + ":" + strconv.FormatInt(m[b], 10)
	}
	return strings.Join(parts, ",")
}

// histQuantile reads the q quantile from sorted (bucket, count) pairs, as
// the bucket's upper bound.
func histQuantile(h [][2]int64, q float64) time.Duration {
	slices.SortFunc(h, func(a, b [2]int64) int { return int(a[0] - b[0]) })
	var total int64
	for _, e := range h {
		total += e[1]
	}
	if total == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(total)))
	var seen int64
	for _, e := range h {
		seen += e[1]
		if seen >= rank {
			return time.Duration(bucketMS(int(e[0]))) * time.Millisecond
		}
	}
	return time.Duration(bucketMS(int(h[len(h)-1][0]))) * time.Millisecond
}

// LinkRetry implements history.Store.
func (s *Store) LinkRetry(ctx context.Context, origin int64, newJobID string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("history: link retry: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var originJob string
	if err := tx.QueryRowContext(ctx, s.q(`SELECT job_id FROM records WHERE id = ?`), origin).Scan(&originJob); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %d", history.ErrNotFound, origin)
		}
		return fmt.Errorf("history: link retry: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO retries (new_job_id, origin_id, origin_job_id, created_ms) VALUES (?, ?, ?, ?)`),
		newJobID, origin, originJob, time.Now().UnixMilli()); err != nil {
		return fmt.Errorf("history: link retry: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE records SET retried_as = ? WHERE id = ?`), newJobID, origin); err != nil {
		return fmt.Errorf("history: link retry: %w", err)
	}
	// a record of the new job that is already in (a fast worker and recorder)
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE records SET origin_job_id = ? WHERE job_id = ?`), originJob, newJobID); err != nil {
		return fmt.Errorf("history: link retry: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("history: link retry: %w", err)
	}
	return nil
}

// UnlinkRetry implements history.Store.
func (s *Store) UnlinkRetry(ctx context.Context, origin int64, newJobID string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("history: unlink retry: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM retries WHERE new_job_id = ?`), newJobID); err != nil {
		return fmt.Errorf("history: unlink retry: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE records SET retried_as = '' WHERE id = ? AND retried_as = ?`), origin, newJobID); err != nil {
		return fmt.Errorf("history: unlink retry: %w", err)
	}
	return tx.Commit()
}

// pruneBatch bounds one DELETE, so that a large prune does not hold the
// write lock for long.
const pruneBatch = 5000

// Prune implements history.Store.
func (s *Store) Prune(ctx context.Context, r history.Retention, now time.Time) (int64, error) {
	var total int64
	del := func(cond string, args ...any) error {
		for {
			res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM records WHERE id IN (SELECT id FROM records WHERE `+cond+
				` LIMIT `+strconv.Itoa(pruneBatch)+`)`), args...)
			if err != nil {
				return fmt.Errorf("history: prune: %w", err)
			}
			n, _ := res.RowsAffected()
			total += n
			if n < pruneBatch {
				return nil
			}
		}
	}
	if r.MaxAge > 0 {
		cut := now.Add(-r.MaxAge).UnixMilli()
		if err := del("finish_ms < ?", cut); err != nil {
			return total, err
		}
		for _, q := range []string{`DELETE FROM daily WHERE day < ?`, `DELETE FROM retries WHERE created_ms < ?`} {
			arg := cut / dayMS * dayMS
			if strings.Contains(q, "retries") {
				arg = cut
			}
			if _, err := s.db.ExecContext(ctx, s.q(q), arg); err != nil {
				return total, fmt.Errorf("history: prune: %w", err)
			}
		}
	}
	if r.MaxRows > 0 {
		var fms, id int64
		err := s.db.QueryRowContext(ctx, s.q(`SELECT finish_ms, id FROM records ORDER BY finish_ms DESC, id DESC LIMIT 1 OFFSET ?`),
			r.MaxRows-1).Scan(&fms, &id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return total, fmt.Errorf("history: prune: %w", err)
		default:
			if err := del("(finish_ms < ? OR (finish_ms = ? AND id < ?))", fms, fms, id); err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

// recordedChunk is the most job ids one Recorded query looks up.
const recordedChunk = 1000

// Recorded implements history.Store: one query per recordedChunk ids,
// each id found through the UNIQUE (job_id, start_ms) index. The ids go
// in as one parameter (a JSON array for SQLite, a text[] for PostgreSQL),
// so one short statement serves every page size. SQLite walks the array
// in order (CROSS JOIN) and seeks each id in the index: sorted ids seek
// near the previous one, on pages just read (2.5 µs an id over 300,000
// records, where IN (SELECT …) over ids in SCAN's order took 5.6-6 µs).
func (s *Store) Recorded(ctx context.Context, jobIDs []string) (map[string][]int64, error) {
	out := make(map[string][]int64, len(jobIDs))
	query := `SELECT r.job_id, r.start_ms FROM json_each(?) j CROSS JOIN records r ON r.job_id = j.value`
	if s.d.Name == "postgres" {
		query = `SELECT job_id, start_ms FROM records WHERE job_id = ANY($1::text[])`
	}
	// each id once (SCAN may report a key twice), so that each start is
	// told once
	seen := make(map[string]struct{}, len(jobIDs))
	ids := make([]string, 0, len(jobIDs))
	for _, id := range jobIDs {
		if _, dup := seen[id]; !dup {
			seen[id] = struct{}{}
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var q interface {
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	} = s.db
	if s.d.CustomPlan != "" {
		tx, err := s.customPlanTx(ctx)
		if err != nil {
			return nil, fmt.Errorf("history: recorded: %w", err)
		}
		defer func() { _ = tx.Rollback() }()
		q = tx
	}
	for start := 0; start < len(ids); start += recordedChunk {
		chunk := ids[start:min(start+recordedChunk, len(ids))]
		var arg any = chunk
		if s.d.Name != "postgres" {
			b, err := json.Marshal(chunk)
			if err != nil {
				return nil, fmt.Errorf("history: recorded: %w", err)
			}
			arg = string(b)
		}
		rows, err := q.QueryContext(ctx, query, arg)
		if err != nil {
			return nil, fmt.Errorf("history: recorded: %w", err)
		}
		for rows.Next() {
			var k recKey
			if err := rows.Scan(&k.job, &k.start); err != nil {
				rows.Close()
				return nil, fmt.Errorf("history: recorded: %w", err)
			}
			out[k.job] = append(out[k.job], k.start)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("history: recorded: %w", err)
		}
	}
	return out, nil
}

// Count implements history.Store.
func (s *Store) Count(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM records`).Scan(&n); err != nil {
		return 0, fmt.Errorf("history: count: %w", err)
	}
	return n, nil
}

var (
	_ history.Store  = (*Store)(nil)
	_ history.Stager = (*Store)(nil)
)

// stageChunk is the rows of one prepared multi-row INSERT of Stage.
const stageChunk = 200

// stageStmt is the prepared INSERT of n staged rows.
func (s *Store) stageStmt(ctx context.Context, n int) (*sql.Stmt, error) {
	s.insertMu.Lock()
	defer s.insertMu.Unlock()
	if st := s.stages[n]; st != nil {
		return st, nil
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO staged (job_id, data, staged_ms) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`(?, ?, ?)`)
	}
	st, err := s.db.PrepareContext(ctx, s.q(b.String()))
	if err != nil {
		return nil, err
	}
	if s.stages == nil {
		s.stages = map[int]*sql.Stmt{}
	}
	s.stages[n] = st
	return st, nil
}

// Stage implements history.Stager.
func (s *Store) Stage(ctx context.Context, rows []history.Staged) error {
	if len(rows) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("history: stage: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	args := make([]any, 0, 3*stageChunk)
	for start := 0; start < len(rows); {
		n := stageChunk
		if len(rows)-start < n {
			n = 1
		}
		prepared, err := s.stageStmt(ctx, n)
		if err != nil {
			return fmt.Errorf("history: stage: %w", err)
		}
		args = args[:0]
		for _, r := range rows[start : start+n] {
			args = append(args, r.JobID, r.Data, r.StagedMS)
		}
		start += n
		if _, err := tx.StmtContext(ctx, prepared).ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("history: stage: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("history: stage: %w", err)
	}
	return nil
}

// StagedBatch implements history.Stager.
func (s *Store) StagedBatch(ctx context.Context, limit int) ([]history.Staged, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, job_id, data, staged_ms FROM staged ORDER BY id LIMIT ?`), limit)
	if err != nil {
		return nil, fmt.Errorf("history: staged: %w", err)
	}
	defer rows.Close()
	var out []history.Staged
	for rows.Next() {
		var r history.Staged
		if err := rows.Scan(&r.ID, &r.JobID, &r.Data, &r.StagedMS); err != nil {
			return nil, fmt.Errorf("history: staged: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history: staged: %w", err)
	}
	return out, nil
}

// Unstage implements history.Stager. The ids go in as one parameter (a
// JSON array for SQLite, a bigint[] for PostgreSQL).
func (s *Store) Unstage(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	var err error
	if s.d.Name == "postgres" {
		_, err = s.db.ExecContext(ctx, `DELETE FROM staged WHERE id = ANY($1::bigint[])`, ids)
	} else {
		var b []byte
		if b, err = json.Marshal(ids); err == nil {
			_, err = s.db.ExecContext(ctx, `DELETE FROM staged WHERE id IN (SELECT value FROM json_each(?))`, string(b))
		}
	}
	if err != nil {
		return fmt.Errorf("history: unstage: %w", err)
	}
	return nil
}

// StagedCount implements history.Stager.
func (s *Store) StagedCount(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM staged`).Scan(&n); err != nil {
		return 0, fmt.Errorf("history: staged count: %w", err)
	}
	return n, nil
}
