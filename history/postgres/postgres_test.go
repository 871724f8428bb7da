package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/goarq/goarq/history"
	"github.com/goarq/goarq/history/internal/sqlstore"
	"github.com/goarq/goarq/history/internal/storetest"
	"github.com/goarq/goarq/history/postgres"
)

// The tests run on the server of $GOARQ_TEST_POSTGRES (scripts/test.sh
// starts one with scripts/postgres.sh); each test gets an empty schema.
func TestStore(t *testing.T) {
	dsn := os.Getenv("GOARQ_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("GOARQ_TEST_POSTGRES not set (scripts/test.sh starts a PostgreSQL server and sets it)")
	}
	storetest.Run(t, func(t *testing.T) history.Store {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		emptySchema(t, db)
		s, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestMigratesAnOlderSchema: see storetest.Migration; from version 1
// (before any text index) and version 4 (pg_trgm, before the index of the
// arguments' bytes).
func TestMigratesAnOlderSchema(t *testing.T) {
	dsn := os.Getenv("GOARQ_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("GOARQ_TEST_POSTGRES not set (scripts/test.sh starts a PostgreSQL server and sets it)")
	}
	for _, from := range []int{1, 4, 5} {
		t.Run(fmt.Sprintf("FromVersion%d", from), func(t *testing.T) {
			db, err := sql.Open("pgx", dsn)
			if err != nil {
				t.Fatal(err)
			}
			emptySchema(t, db)
			storetest.Migration(t, db, sqlstore.Postgres, from, func(t *testing.T) history.Store {
				s, err := postgres.Open(context.Background(), dsn)
				if err != nil {
					t.Fatal(err)
				}
				return s
			})
		})
	}
}

// indexer is the store's view of its text indexes (see sqlstore.Store).
type indexer interface {
	TextIndexLag(ctx context.Context) (int64, error)
	TextIndexErr() error
}

// bytesIndexValid reports whether records_args_bytes_trgm is built.
func bytesIndexValid(t *testing.T, db *sql.DB) bool {
	t.Helper()
	var ok bool
	if err := db.QueryRow(`SELECT COALESCE((SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('records_args_bytes_trgm')), false)`).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

// awaitBytesIndex waits until the store says its text index lacks no row.
func awaitBytesIndex(t *testing.T, s history.Store) {
	t.Helper()
	ctx := context.Background()
	ix := s.(indexer)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		lag, err := ix.TextIndexLag(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if lag == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the index of the arguments' bytes still lacks %d rows (TextIndexErr %v)", lag, ix.TextIndexErr())
		}
	}
}

// The index of the arguments' bytes (schema version 5) is built after the
// migration, concurrently with the inserts: a store opens at once, a
// text pg_trgm cannot narrow is found meanwhile (args LIKE alone), and
// the index is there afterwards. An invalid index that an interrupted
// build left is dropped and built again.
func TestBytesIndexBuiltAfterOpen(t *testing.T) {
	dsn := os.Getenv("GOARQ_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("GOARQ_TEST_POSTGRES not set (scripts/test.sh starts a PostgreSQL server and sets it)")
	}
	ctx := context.Background()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	emptySchema(t, db)
	if err := sqlstore.MigrateTo(ctx, db, sqlstore.Postgres, 4); err != nil {
		t.Fatal(err)
	}
	// another process builds the index (holds its lock) until released
	other, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, sqlstore.Postgres.DeferredIndex.Lock); err != nil {
		t.Fatal(err)
	}
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var recs []history.Record
	for i, args := range []string{"1, note='café'", "2, note='cafe'", "3, note='#~'"} {
		recs = append(recs, history.Record{JobID: fmt.Sprintf("job%d", i), StartMS: 1, FinishMS: int64(1000 + i), Function: "f", Args: args})
	}
	if _, err := s.Add(ctx, recs); err != nil {
		t.Fatal(err)
	}
	search := func(when string) {
		t.Helper()
		for text, want := range map[string]string{"é": "[job0]", "#~": "[job2]", "e'": "[job1]", "caf": "[job1 job0]"} {
			p, err := s.Query(ctx, history.Filter{Text: text})
			var got []string
			for _, r := range p.Records {
				got = append(got, r.JobID)
			}
			if err != nil || fmt.Sprint(got) != want {
				t.Errorf("%s: Query(Text %q) = %v, %v; want %s", when, text, got, err, want)
			}
		}
	}
	search("before the index")
	if bytesIndexValid(t, db) {
		t.Fatal("the index was built while another process held its lock")
	}
	if lag, err := s.(indexer).TextIndexLag(ctx); err != nil || lag != 3 {
		t.Fatalf("TextIndexLag = %d, %v before the index; want 3", lag, err)
	}
	// a store that waits for the other process's build still closes
	s2, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := other.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, sqlstore.Postgres.DeferredIndex.Lock); err != nil {
		t.Fatal(err)
	}
	awaitBytesIndex(t, s)
	if !bytesIndexValid(t, db) {
		t.Fatal("no valid records_args_bytes_trgm once the store says it is built")
	}
	search("with the index")
	s.Close()

	// an interrupted build's leftover: an invalid index
	if _, err := db.Exec(`UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'records_args_bytes_trgm'::regclass`); err != nil {
		t.Fatal(err)
	}
	s, err = postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	search("with an invalid index")
	awaitBytesIndex(t, s)
	if !bytesIndexValid(t, db) {
		t.Fatal("the invalid index was not built again")
	}
	search("with the index built again")
}

// emptySchema drops and re-creates the public schema, once no other
// session of the database runs a statement: a store closed just before
// may leave its index build (CREATE INDEX CONCURRENTLY, cancelled) running
// on the server for a moment, and a DROP beside it fails with "tuple
// concurrently updated".
func emptySchema(t *testing.T, db *sql.DB) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var busy int
		if err := db.QueryRow(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'`).Scan(&busy); err != nil {
			t.Fatal(err)
		}
		if busy == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d other sessions still run a statement after 10 s", busy)
		}
	}
	if _, err := db.Exec(`DROP SCHEMA public CASCADE; CREATE SCHEMA public`); err != nil {
		t.Fatal(err)
	}
}
