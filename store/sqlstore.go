package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// querier runs statements, on a read pool or inside a write transaction.
// SQL is written once with PostgreSQL's $N placeholders; the SQLite
// backend rewrites them. Arguments and scan targets of type time.Time and
// json.RawMessage are converted by the backend: a zero time is NULL, an
// empty RawMessage is NULL.
type querier interface {
	exec(ctx context.Context, query string, args ...any) (rowsAffected int64, err error)
	query(ctx context.Context, query string, args ...any) (rows, error)
	queryRow(ctx context.Context, query string, args ...any) row
	// insert runs an INSERT of one row, written without RETURNING, and
	// returns the new row's id; inserted is false when ON CONFLICT DO
	// NOTHING skipped the row. SQLite takes the id from the statement's
	// result, sparing the result rows of a RETURNING clause, which cost
	// as much as the insert itself.
	insert(ctx context.Context, query string, args ...any) (id int64, inserted bool, err error)
}

// row is one result row; Scan returns a no-rows error when there is none.
type row interface {
	Scan(dest ...any) error
}

// rows is a result set; Close must be called.
type rows interface {
	row
	Next() bool
	Err() error
	Close()
}

// backend is what differs between SQLite and PostgreSQL.
type backend interface {
	// reader is the read pool.
	reader() querier
	// write runs fn in a transaction and commits it durably. fn's error
	// rolls back only fn's work.
	write(ctx context.Context, fn func(q querier) error) error
	ping(ctx context.Context) error
	// classify maps a driver error to ErrConflict (unique violation) or
	// ErrNotFound (a referenced row is missing), or returns nil.
	classify(err error) error
	close() error
}

// sqlStore implements Store over a backend. All SQL lives in the sql_*.go
// files of this package and runs unchanged on both backends.
type sqlStore struct {
	b   backend
	now func() time.Time
	log *slog.Logger

	claimants claimants // who claimed outbox rows through this store (sql_outbox.go)

	closeOnce sync.Once
	closeErr  error // set once by closeOnce
}

func newSQLStore(b backend, cfg Config) *sqlStore {
	return &sqlStore{b: b, now: cfg.Now, log: cfg.Logger}
}

// Ping checks that a read goes through.
func (s *sqlStore) Ping(ctx context.Context) error {
	if err := s.b.ping(ctx); err != nil {
		return fmt.Errorf("ping store: %w", err)
	}
	return nil
}

// Close waits for writes in flight and releases the database.
func (s *sqlStore) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.b.close() })
	return s.closeErr
}

func (s *sqlStore) ready(ctx context.Context) error {
	if err := s.Ping(ctx); err != nil {
		return err
	}
	var current int64
	err := s.b.reader().queryRow(ctx,
		`SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&current)
	if err != nil {
		return fmt.Errorf("read schema version: %w", ErrNotMigrated)
	}
	if want := schemaVersion(); current < want {
		return fmt.Errorf("schema version %d, want %d: %w", current, want, ErrNotMigrated)
	}
	return nil
}

func (s *sqlStore) read() querier { return s.b.reader() }

func (s *sqlStore) write(ctx context.Context, fn func(q querier) error) error {
	return s.b.write(ctx, fn)
}

// stamp is the store's clock in the precision both backends keep.
func (s *sqlStore) stamp() time.Time { return roundTime(s.now()) }

// fail wraps err with what was being done, turning no-rows and constraint
// errors into ErrNotFound and ErrConflict.
func (s *sqlStore) fail(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrConflict),
		errors.Is(err, ErrInvalid), errors.Is(err, ErrClosed):
	case isNoRows(err):
		err = ErrNotFound
	default:
		if k := s.b.classify(err); k != nil {
			err = k
		}
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) || isPgNoRows(err) }

// roundTime is t in UTC truncated to microseconds; the zero time stays zero.
func roundTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// nullID is an id column's argument: 0 is NULL.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// jsonArg encodes v for a JSON column; a nil slice or map is NULL.
func jsonArg(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode json: %w", err)
	}
	if string(b) == "null" {
		return nil, nil
	}
	return string(b), nil
}

// rawArg checks raw and returns it for a JSON column; empty is NULL.
func rawArg(field string, raw json.RawMessage) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	if !json.Valid(raw) {
		return nil, fmt.Errorf("%s is not valid JSON: %w", field, ErrInvalid)
	}
	return string(raw), nil
}

// decodeJSON fills v from a JSON column; NULL leaves v as it is.
func decodeJSON(b []byte, v any) error {
	if len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode stored json: %w", err)
	}
	return nil
}

// encodeArgs turns query arguments into what a backend stores: a time by
// the backend's own encoding, a zero time and empty JSON as NULL, JSON as
// text; other values as they are.
func encodeArgs(args []any, encodeTime func(time.Time) any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case time.Time:
			if !v.IsZero() {
				out[i] = encodeTime(v)
			}
		case json.RawMessage:
			if len(v) > 0 {
				out[i] = string(v)
			}
		default:
			out[i] = a
		}
	}
	return out
}

// limit applies the listing default of 100 and cap of 1000.
func limit(n int) int {
	switch {
	case n <= 0:
		return 100
	case n > 1000:
		return 1000
	}
	return n
}

// collect returns a function that scans every row of a query with scan:
// collect(scanUser)(q.query(ctx, ...)).
func collect[T any](scan func(r row) (T, error)) func(rs rows, err error) ([]T, error) {
	return func(rs rows, err error) ([]T, error) {
		if err != nil {
			return nil, err
		}
		defer rs.Close()
		var out []T
		for rs.Next() {
			v, err := scan(rs)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, rs.Err()
	}
}
