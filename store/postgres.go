package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

// pgMaxConns is the pool size unless the URL sets pool_max_conns.
const pgMaxConns = 16

// pgBackend is the PostgreSQL store on a pgx pool. PostgreSQL batches
// concurrent commits into one WAL flush by itself, so each write is simply
// its own transaction.
type pgBackend struct {
	pool   *pgxpool.Pool
	closed atomic.Bool
}

func openPostgres(ctx context.Context, cfg Config) (*sqlStore, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.DB)
	if err != nil {
		return nil, fmt.Errorf("parse --db URL: %w", errors.Join(ErrInvalid, err))
	}
	pcfg.ConnConfig.ConnectTimeout = cfg.OpenTimeout
	if !strings.Contains(cfg.DB, "pool_max_conns") {
		pcfg.MaxConns = pgMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect: %w", oneLine{err})
	}
	if !cfg.SkipMigrations {
		db := stdlib.OpenDBFromPool(pool)
		err := migrate(ctx, db, goose.DialectPostgres, cfg.Logger)
		db.Close()
		if err != nil {
			pool.Close()
			return nil, err
		}
	}
	return newSQLStore(&pgBackend{pool: pool}, cfg), nil
}

func (b *pgBackend) reader() querier { return pgQuerier{b.pool} }

func (b *pgBackend) write(ctx context.Context, fn func(q querier) error) error {
	if b.closed.Load() {
		return ErrClosed
	}
	return pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		return fn(pgQuerier{tx})
	})
}

// ping checks the server. On failure it drops every pooled connection, so
// none that died with the server is handed out once it is back.
func (b *pgBackend) ping(ctx context.Context) error {
	if b.closed.Load() {
		return ErrClosed
	}
	err := b.pool.Ping(ctx)
	if err != nil {
		b.pool.Reset()
	}
	return err
}

func (b *pgBackend) classify(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return nil
	}
	switch pe.Code {
	case "23505": // unique_violation
		return ErrConflict
	case "23503": // foreign_key_violation
		return fmt.Errorf("a referenced row is missing: %w", ErrNotFound)
	}
	return nil
}

func (b *pgBackend) close() error {
	b.closed.Store(true)
	b.pool.Close()
	return nil
}

// oneLine shows a multi-line pgconn error (one line per address tried) on
// one line, for logs.
type oneLine struct{ err error }

func (e oneLine) Error() string {
	msg := strings.ReplaceAll(e.err.Error(), ":\n", ": ")
	return strings.Join(strings.Fields(strings.ReplaceAll(msg, "\n", "; ")), " ")
}

func (e oneLine) Unwrap() error { return e.err }

func isPgNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// pgConn is what pgxpool.Pool and pgx.Tx have in common.
type pgConn interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// pgQuerier runs statements with arguments converted for PostgreSQL.
type pgQuerier struct{ c pgConn }

func (q pgQuerier) exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := q.c.Exec(ctx, query, pgArgs(args)...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (q pgQuerier) insert(ctx context.Context, query string, args ...any) (int64, bool, error) {
	var id int64
	err := q.queryRow(ctx, query+" RETURNING id", args...).Scan(&id)
	if isNoRows(err) {
		return 0, false, nil
	}
	return id, err == nil, err
}

func (q pgQuerier) query(ctx context.Context, query string, args ...any) (rows, error) {
	rs, err := q.c.Query(ctx, query, pgArgs(args)...)
	if err != nil {
		return nil, err
	}
	return pgRows{rs}, nil
}

func (q pgQuerier) queryRow(ctx context.Context, query string, args ...any) row {
	rs, err := q.query(ctx, query, args...)
	return &firstRow{rs: rs, err: err}
}

// pgArgs stores times as timestamptz in UTC, zero ones and empty JSON as
// NULL, and JSON as text.
func pgArgs(args []any) []any {
	return encodeArgs(args, func(t time.Time) any { return t.UTC() })
}

type pgRows struct{ rs pgx.Rows }

func (r pgRows) Next() bool { return r.rs.Next() }
func (r pgRows) Err() error { return r.rs.Err() }
func (r pgRows) Close()     { r.rs.Close() }

// Scan reads NULL times as the zero time, in UTC.
func (r pgRows) Scan(dest ...any) error {
	conv := make([]any, len(dest))
	ts := make([]pgtype.Timestamptz, len(dest))
	for i, d := range dest {
		switch d := d.(type) {
		case *time.Time:
			conv[i] = &ts[i]
		case *json.RawMessage:
			conv[i] = (*[]byte)(d)
		default:
			conv[i] = d
		}
	}
	if err := r.rs.Scan(conv...); err != nil {
		return err
	}
	for i, d := range dest {
		if t, ok := d.(*time.Time); ok {
			*t = time.Time{}
			if ts[i].Valid {
				*t = ts[i].Time.UTC()
			}
		}
	}
	return nil
}
