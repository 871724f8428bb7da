package postgres_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/goarq/goarq/history"
	"github.com/goarq/goarq/history/internal/sqlstore"
	"github.com/goarq/goarq/history/postgres"
)

// TestLargeStoreMigration is a measurement, not part of the suite (it
// skips unless $GOARQ_PGMIG_ROWS is set; scripts/pgmig_bench.sh runs it):
// a store of GOARQ_PGMIG_ROWS rows at schema version 4 is opened with
// this goarq, while an older goarq's recorder keeps inserting, a reader
// keeps searching, and a second goarq process opens the store. It prints
// how long Open took, when the index of the arguments' bytes was there,
// and the longest wait of each of the others, as JSON. A store already
// filled by an earlier run (same server) is set back to version 4 and
// reused, so that the figures of two builds compare on the same rows.
func TestLargeStoreMigration(t *testing.T) {
	dsn := os.Getenv("GOARQ_TEST_POSTGRES")
	rows, _ := strconv.Atoi(os.Getenv("GOARQ_PGMIG_ROWS"))
	if dsn == "" || rows <= 0 {
		t.Skip("a measurement: set GOARQ_TEST_POSTGRES and GOARQ_PGMIG_ROWS (scripts/pgmig_bench.sh)")
	}
	ctx := context.Background()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res := map[string]any{"rows": rows}
	var have int64
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM records WHERE job_id NOT LIKE 'probe%'`).Scan(&have); err != nil || have != int64(rows) {
		start := time.Now()
		fillV4(t, db, rows)
		res["fill_seconds"] = time.Since(start).Seconds()
	} else {
		// back to version 4 (what MigrateTo(4) made), the probes' rows gone
		for _, q := range []string{`DROP TABLE IF EXISTS staged`, `DROP INDEX IF EXISTS records_args_bytes_trgm`, `DROP FUNCTION IF EXISTS goarq_args_bytes(text)`,
			`DELETE FROM schema_version WHERE version > 4`, `DELETE FROM records WHERE job_id LIKE 'probe%'`, `VACUUM ANALYZE records`} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		res["reused_fill"] = true
	}

	// the probes, each on its own connection, until stop
	pctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var mu sync.Mutex
	t0 := time.Now()
	probe := func(name string, every time.Duration, op func(ctx context.Context, i int) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var n int
			var worst time.Duration
			var errs int
			for i := 0; pctx.Err() == nil; i++ {
				start := time.Now()
				if err := op(pctx, i); err != nil && pctx.Err() == nil {
					errs++
					if errs == 1 {
						t.Logf("%s: %v", name, err)
					}
				}
				n++
				worst = max(worst, time.Since(start))
				select {
				case <-pctx.Done():
				case <-time.After(every):
				}
			}
			mu.Lock()
			res[name] = map[string]any{"ops": n, "max_ms": worst.Seconds() * 1000, "errors": errs}
			mu.Unlock()
		}()
	}
	// an older goarq's recorder: one INSERT of 50 rows
	probe("insert_50_rows", 50*time.Millisecond, func(ctx context.Context, i int) error {
		_, err := db.ExecContext(ctx, `INSERT INTO records (job_id, start_ms, queue, function, try, enqueue_ms, finish_ms, success, args, args_json, result,
			exc_class, exc_message, raw, serializer, undecodable, source, recorded_ms)
			SELECT 'probe' || $1::int || '_' || g, g, 'arq:queue', 'notify', 1, 0, (extract(epoch from now()) * 1000)::bigint, 1,
			g || ', ''user_42@example.com''', '{}', 'None', '', '', NULL, 'pickle', '', 'redis', 0 FROM generate_series(1, 50) g`, i)
		return err
	})
	// an older goarq's `goarq history --text` (plain LIKE, through pg_trgm)
	probe("search_text", 50*time.Millisecond, func(ctx context.Context, i int) error {
		r, err := db.QueryContext(ctx, `SELECT id FROM records WHERE args LIKE '%user_4242@%' ORDER BY finish_ms DESC, id DESC LIMIT 51`)
		if err != nil {
			return err
		}
		for r.Next() {
		}
		r.Close()
		return r.Err()
	})

	// this goarq opens the store; a second one starts a second later
	var second time.Duration
	var secondErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(time.Second)
		start := time.Now()
		s, err := postgres.Open(ctx, dsn)
		second, secondErr = time.Since(start), err
		if err == nil {
			s.Close()
		}
	}()
	start := time.Now()
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res["open_seconds"] = time.Since(start).Seconds()
	// searches this goarq serves meanwhile: a short text (the index of
	// the arguments' bytes) and a text pg_trgm narrows
	var worstShort, worstLong time.Duration
	var shortN int
	var searchErr error
	for {
		var valid bool
		err := db.QueryRowContext(ctx, `SELECT COALESCE((SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('records_args_bytes_trgm')), false)`).Scan(&valid)
		if err != nil {
			t.Fatal(err)
		}
		if valid {
			break
		}
		if time.Since(start) > 10*time.Minute {
			t.Fatal("no valid records_args_bytes_trgm after 10 minutes")
		}
		for _, c := range []struct {
			text  string
			worst *time.Duration
		}{{"é", &worstShort}, {"'user_4242@", &worstLong}} {
			q := time.Now()
			p, err := s.Query(ctx, history.Filter{Text: c.text, Limit: 50})
			*c.worst = max(*c.worst, time.Since(q))
			// every fill has é (row 7); a user id may be missing from a small one
			if err != nil || len(p.Records) == 0 && c.text == "é" {
				searchErr = fmt.Errorf("Query(%q) = %d records, %v", c.text, len(p.Records), err)
			}
		}
		shortN++
		time.Sleep(500 * time.Millisecond) // a user's pace, not a load
	}
	res["bytes_index_valid_after_seconds"] = time.Since(start).Seconds()
	if shortN > 0 {
		res["this_goarq_search_before_index"] = map[string]any{"runs": shortN, "max_ms_e_acute": worstShort.Seconds() * 1000,
			"max_ms_user_4242": worstLong.Seconds() * 1000, "error": fmt.Sprint(searchErr)}
	}
	q := time.Now()
	if _, err := s.Query(ctx, history.Filter{Text: "é", Limit: 50}); err != nil {
		t.Fatal(err)
	}
	res["search_e_acute_after_index_ms"] = time.Since(q).Seconds() * 1000
	stop()
	wg.Wait()
	res["second_open_seconds"] = second.Seconds()
	res["second_open_error"] = fmt.Sprint(secondErr)
	res["probes_seconds"] = time.Since(t0).Seconds()
	b, _ := json.MarshalIndent(res, "", "  ")
	fmt.Println(string(b))
}

// fillV4 makes a store of n rows at schema version 4, of the shape of
// scripts/historybench's fill: 8 functions, 10% failures, arguments
// with a user id, one row in 20,000 with a note of rare characters. The
// rows are made by the server (generate_series), which costs a fraction
// of n inserts from here.
func fillV4(t *testing.T, db *sql.DB, n int) {
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `DROP SCHEMA public CASCADE; CREATE SCHEMA public`); err != nil {
		t.Fatal(err)
	}
	if err := sqlstore.MigrateTo(ctx, db, sqlstore.Postgres, 4); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`SELECT setseed(0.5)`, `INSERT INTO records (job_id, start_ms, queue, function, try, enqueue_ms, finish_ms, success, args, args_json, result,
			exc_class, exc_message, raw, serializer, undecodable, source, recorded_ms)
		SELECT md5(g::text), f - 100, 'arq:queue', (ARRAY['send_email','resize_image','charge_card','sync_account','render_pdf','notify','cleanup','import_csv'])[1 + g % 8],
			1, f - 105, f, CASE WHEN g % 10 = 3 THEN 0 ELSE 1 END,
			g || ', ''user_' || floor(random() * 100000)::int || '@example.com''' || CASE WHEN g % 20000 = 7 THEN ', note=''café Ω #~''' ELSE '' END,
			'{"args":[],"kwargs":{}}', 'None', CASE WHEN g % 10 = 3 THEN 'ValueError' ELSE '' END, '', '\x8004'::bytea, 'pickle', '', 'redis', f
		FROM (SELECT g, (extract(epoch from now()) * 1000)::bigint - 2592000000 + 2592000000 * g / $1::bigint AS f FROM generate_series(0, $1::bigint - 1) g) s`,
		`VACUUM ANALYZE records`} {
		args := []any{}
		if len(q) > 40 {
			args = append(args, n)
		}
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
}
