// Package postgres is the history.Store on PostgreSQL, through pgx, for a
// team that keeps one central history for several Redis instances.
package postgres

import (
	"context"
	"database/sql"
	"fmt"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/goarq/goarq/history"
	"github.com/goarq/goarq/history/internal/sqlstore"
)

// Open connects to the PostgreSQL database of dsn (postgres://…) and
// migrates it to the current schema.
func Open(ctx context.Context, dsn string) (history.Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("history: postgres: %w", err)
	}
	db.SetMaxOpenConns(8)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("history: postgres: %w", err)
	}
	s, err := sqlstore.Open(ctx, db, sqlstore.Postgres)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("history: postgres: %w", err)
	}
	return s, nil
}
