package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/goarq/goarq/history"
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
