package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

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

// TestMigratesAnOlderSchema: see storetest.Migration.
func TestMigratesAnOlderSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Migration(t, db, sqlstore.SQLite, func(t *testing.T) history.Store {
		s, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
