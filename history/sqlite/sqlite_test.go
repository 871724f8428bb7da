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
// (before any text index) and version 3 (the word index only).
func TestMigratesAnOlderSchema(t *testing.T) {
	for _, from := range []int{1, 3} {
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
