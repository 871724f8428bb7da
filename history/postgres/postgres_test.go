package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"testing"

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
		if _, err := db.Exec(`DROP SCHEMA public CASCADE; CREATE SCHEMA public`); err != nil {
			t.Fatal(err)
		}
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
			if _, err := db.Exec(`DROP SCHEMA public CASCADE; CREATE SCHEMA public`); err != nil {
				t.Fatal(err)
			}
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
