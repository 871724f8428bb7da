package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/goarq/goarq/history"
	"github.com/goarq/goarq/history/internal/sqlstore"
	"github.com/goarq/goarq/history/internal/storetest"
	"github.com/goarq/goarq/history/sqlite"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) history.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "h.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestReopenKeepsRecordsAndSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add(ctx, []history.Record{{JobID: "a", StartMS: 1, FinishMS: 2, Function: "f"}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := s.Count(ctx); err != nil || n != 1 {
		t.Fatalf("Count after reopen = %d, %v", n, err)
	}
}

// BenchmarkAdd is the store's part of the recorder's ingest: batches of
// 5,000 records, as the recorder writes them at a high rate.
func BenchmarkAdd(b *testing.B) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "h.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	batch := make([]history.Record, 5000)
	b.ResetTimer()
	for i := 0; i < b.N; i += len(batch) {
		for j := range batch {
			n := int64(i + j)
			batch[j] = history.Record{JobID: fmt.Sprintf("%032x", n*7919), StartMS: 1_700_000_000_000 + n, FinishMS: 1_700_000_000_005 + n,
				Queue: "arq:queue", Function: fmt.Sprintf("f%d", n%8), Try: 1, Success: n%10 != 0, Args: fmt.Sprintf("%d, 'user_%d'", n, n),
				ArgsJSON: `{"args":[],"kwargs":{}}`, Result: "None", Raw: make([]byte, 120), Serializer: "pickle", Source: "redis"}
		}
		if _, err := s.Add(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMigratesAnOlderSchema: see storetest.Migration; from version 1
// (before any text index), version 3 (the word index only) and version 4
// (the trigram index without its tail).
func TestMigratesAnOlderSchema(t *testing.T) {
	for _, from := range []int{1, 3, 4, 5} {
		t.Run(fmt.Sprintf("FromVersion%d", from), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "h.db")
			db, err := sql.Open("sqlite", "file:"+path)
			if err != nil {
				t.Fatal(err)
			}
			storetest.Migration(t, db, sqlstore.SQLite, from, func(t *testing.T) history.Store {
				s, err := sqlite.Open(context.Background(), path)
				if err != nil {
					t.Fatal(err)
				}
				return s
			})
		})
	}
}

// A failing text indexer is told by TextIndexErr, and searches stay right
// meanwhile (they read the rows the index lacks).
func TestTextIndexFailureIsReported(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.(interface{ DB() *sql.DB }).DB().Exec(`DROP TABLE records_fts`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add(ctx, []history.Record{{JobID: "a", StartMS: 1, FinishMS: 2, Function: "f", Args: "1, 'user_4242@example.com'"}}); err != nil {
		t.Fatalf("Add with a broken text index: %v", err)
	}
	ix := s.(interface{ TextIndexErr() error })
	for deadline := time.Now().Add(10 * time.Second); ix.TextIndexErr() == nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("TextIndexErr is still nil")
		}
	}
	if p, err := s.Query(ctx, history.Filter{Text: "'user_4242@"}); err != nil || len(p.Records) != 1 {
		t.Fatalf("search with a broken text index = %+v, %v", p.Records, err)
	}
}

// A text with no whole word is narrowed by the trigram index once it has
// taken the rows in: a search then reads only the rows the index names
// (and those not indexed yet), not every record. The test removes one
// row from the trigram index to see it: that row is no longer found, the
// others are, and a text the word index narrows still finds it. The same
// holds for a text of 1 or 2 characters, which the index's terms narrow.
func TestTextWithNoWholeWordUsesTheTrigramIndex(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var recs []history.Record
	for i := range 3 {
		recs = append(recs, history.Record{JobID: fmt.Sprintf("j%d", i), StartMS: int64(i), FinishMS: int64(i + 1), Function: "f",
			Args: fmt.Sprintf("%d, 'user_4242%d@example.com'", i, i)})
	}
	if _, err := s.Add(ctx, recs); err != nil {
		t.Fatal(err)
	}
	ix := s.(interface {
		IndexText(ctx context.Context, limit int) (int64, error)
		DB() *sql.DB
	})
	for {
		n, err := ix.IndexText(ctx, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	var id int64
	if err := ix.DB().QueryRow(`SELECT id FROM records WHERE job_id = 'j1'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.DB().Exec(`DELETE FROM records_tri WHERE rowid = ?`, id); err != nil {
		t.Fatal(err)
	}
	jobs := func(text string) string {
		t.Helper()
		p, err := s.Query(ctx, history.Filter{Text: text})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range p.Records {
			got = append(got, r.JobID)
		}
		return fmt.Sprint(got)
	}
	// the newest 2,000 records are read first: past them only the
	// index's candidates are, so the probe must not reach these rows
	filler := make([]history.Record, 2000)
	for i := range filler {
		filler[i] = history.Record{JobID: fmt.Sprintf("x%d", i), StartMS: int64(100 + i), FinishMS: int64(101 + i), Function: "f", Args: "0"}
	}
	if _, err := s.Add(ctx, filler); err != nil {
		t.Fatal(err)
	}
	if got := jobs("4242"); got != "[j2 j0]" {
		t.Errorf("Text 4242 = %s; want [j2 j0] (j1 is not in the trigram index)", got)
	}
	if got := jobs("_42421@"); got != "[j1]" {
		t.Errorf("Text _42421@ = %s; want [j1] (through the word index)", got)
	}
	// a text of 1 or 2 characters, through the trigram index's terms
	if got := jobs("1@"); got != "[]" {
		t.Errorf("Text 1@ = %s; want [] (j1 is not in the trigram index)", got)
	}
	if got := jobs("2@"); got != "[j2]" {
		t.Errorf("Text 2@ = %s; want [j2]", got)
	}
}

// BenchmarkStage is the store's part of staging a burst: batches of raw
// results appended undecoded (compare BenchmarkAdd).
func BenchmarkStage(b *testing.B) {
	// 5,000: a SCAN-sized batch; 1,099: what tracking reports in 100 ms
	// of a burst, not a multiple of the INSERTs' rows
	for _, size := range []int{5000, 1099} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			ctx := context.Background()
			hs, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "h.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer hs.Close()
			s := hs.(history.Stager)
			batch := make([]history.Staged, size)
			data := make([]byte, 300)
			b.ResetTimer()
			for i := 0; i < b.N; i += len(batch) {
				for j := range batch {
					n := int64(i + j)
					batch[j] = history.Staged{JobID: fmt.Sprintf("%032x", n*7919), Data: data, StagedMS: 1_700_000_000_000 + n}
				}
				if err := s.Stage(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
