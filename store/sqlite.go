package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteReaders is the size of the read-only connection pool.
const sqliteReaders = 4

// sqlitePragmas make every connection wait for locks instead of failing,
// keep a write-ahead log and sync it at each commit (a returned write
// survives a power cut), and enforce foreign keys. Temporary files stay in
// memory: the group writer's savepoints otherwise spill their sub-journal
// (the pages each savepoint changed, kept only to roll it back) to a file
// and write every page there, a pwrite each; a crash needs none of it.
const sqlitePragmas = "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
	"&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_pragma=temp_store(MEMORY)"

func (c Config) sqlitePath() string { return filepath.Join(c.DataDir, DBFile) }

// sqliteBackend is the embedded store: one writer connection driven by the
// group-commit goroutine, and a pool of read-only connections.
type sqliteBackend struct {
	wdb   *sql.DB
	rdb   *sql.DB
	w     *groupWriter
	reads stmtCache
}

func openSQLite(ctx context.Context, cfg Config) (*sqlStore, error) {
	if err := checkDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	path := cfg.sqlitePath()
	wdb, err := openSQLiteDB(ctx, path+sqlitePragmas, 1)
	if err != nil {
		return nil, err
	}
	b := &sqliteBackend{wdb: wdb}
	if err := b.start(ctx, cfg, path); err != nil {
		b.close()
		return nil, err
	}
	return newSQLStore(b, cfg), nil
}

// start migrates, opens the read pool and starts the writer.
func (b *sqliteBackend) start(ctx context.Context, cfg Config, path string) error {
	if !cfg.SkipMigrations {
		if err := migrate(ctx, b.wdb, goose.DialectSQLite3, cfg.Logger); err != nil {
			return err
		}
	}
	rdb, err := openSQLiteDB(ctx, path+sqlitePragmas+"&_pragma=query_only(1)", sqliteReaders)
	if err != nil {
		return err
	}
	b.rdb = rdb
	b.reads.prep = func(ctx context.Context, q string) (*sql.Stmt, error) {
		return rdb.PrepareContext(ctx, q)
	}
	conn, err := b.wdb.Conn(ctx)
	if err != nil {
		return fmt.Errorf("writer connection: %w", err)
	}
	b.w = startGroupWriter(conn, cfg.Logger)
	return nil
}

// checkDataDir makes sure dir exists and a file can be created in it.
func checkDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("data folder %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("data folder %s is not writable: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// openSQLiteDB opens a pool of n connections and checks that the file is a
// database in WAL mode.
func openSQLiteDB(ctx context.Context, dsn string, n int) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(0)
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		db.Close()
		return nil, fmt.Errorf("read database: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		db.Close()
		return nil, fmt.Errorf("journal mode is %q, want wal", mode)
	}
	return db, nil
}

func (b *sqliteBackend) reader() querier { return sqliteQuerier{stmts: &b.reads} }

func (b *sqliteBackend) write(ctx context.Context, fn func(q querier) error) error {
	return b.w.submit(ctx, fn)
}

func (b *sqliteBackend) ping(ctx context.Context) error {
	if b.w.isClosed() {
		return ErrClosed
	}
	var one int
	return b.reader().queryRow(ctx, "SELECT 1").Scan(&one)
}

func (b *sqliteBackend) classify(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return nil
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return ErrConflict
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return fmt.Errorf("a referenced row is missing: %w", ErrNotFound)
	}
	return nil
}

func (b *sqliteBackend) close() error {
	var errs []error
	if b.w != nil {
		errs = append(errs, b.w.close())
	}
	b.reads.close()
	if b.rdb != nil {
		errs = append(errs, b.rdb.Close())
	}
	errs = append(errs, b.wdb.Close())
	return errors.Join(errs...)
}

// stmtCache keeps prepared statements by their SQL text. A statement
// prepared on a sql.DB works on any of its connections; one prepared on a
// sql.Conn only on that one.
type stmtCache struct {
	prep func(ctx context.Context, query string) (*sql.Stmt, error)

	mu    sync.Mutex
	stmts map[string]*sql.Stmt // guarded by mu
}

// stmtCacheMax bounds the cache; statements beyond it are not kept.
const stmtCacheMax = 512

func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, bool, error) {
	c.mu.Lock()
	st, ok := c.stmts[query]
	c.mu.Unlock()
	if ok {
		return st, true, nil
	}
	st, err := c.prep(ctx, sqliteSQL(query))
	if err != nil {
		return nil, false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stmts == nil {
		c.stmts = make(map[string]*sql.Stmt)
	}
	if old, ok := c.stmts[query]; ok {
		st.Close()
		return old, true, nil
	}
	if len(c.stmts) >= stmtCacheMax {
		return st, false, nil
	}
	c.stmts[query] = st
	return st, true, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.stmts {
		st.Close()
	}
	c.stmts = nil
}

// sqliteQuerier runs cached statements with arguments converted for SQLite.
type sqliteQuerier struct {
	stmts *stmtCache
}

func (q sqliteQuerier) exec(ctx context.Context, query string, args ...any) (int64, error) {
	st, cached, err := q.stmts.get(ctx, query)
	if err != nil {
		return 0, err
	}
	if !cached {
		defer st.Close()
	}
	res, err := st.ExecContext(ctx, sqliteArgs(args)...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q sqliteQuerier) insert(ctx context.Context, query string, args ...any) (int64, bool, error) {
	st, cached, err := q.stmts.get(ctx, query)
	if err != nil {
		return 0, false, err
	}
	if !cached {
		defer st.Close()
	}
	res, err := st.ExecContext(ctx, sqliteArgs(args)...)
	if err != nil {
		return 0, false, err
	}
	// The last insert rowid is an older statement's when this one
	// inserted nothing.
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return 0, false, err
	}
	id, err := res.LastInsertId()
	return id, err == nil, err
}

func (q sqliteQuerier) query(ctx context.Context, query string, args ...any) (rows, error) {
	st, cached, err := q.stmts.get(ctx, query)
	if err != nil {
		return nil, err
	}
	rs, err := st.QueryContext(ctx, sqliteArgs(args)...)
	if err != nil {
		if !cached {
			st.Close()
		}
		return nil, err
	}
	r := sqliteRows{rs: rs}
	if !cached {
		r.st = st
	}
	return r, nil
}

func (q sqliteQuerier) queryRow(ctx context.Context, query string, args ...any) row {
	rs, err := q.query(ctx, query, args...)
	return &firstRow{rs: rs, err: err}
}

// sqliteSQL rewrites PostgreSQL placeholders $N as SQLite's ?N. A $ not
// followed by a digit is left alone.
func sqliteSQL(query string) string {
	b := []byte(query)
	for i := 0; i+1 < len(b); i++ {
		if b[i] == '$' && b[i+1] >= '0' && b[i+1] <= '9' {
			b[i] = '?'
		}
	}
	return string(b)
}

// sqliteArgs stores times as microseconds since the epoch, zero ones and
// empty JSON as NULL, and JSON as text.
func sqliteArgs(args []any) []any {
	return encodeArgs(args, func(t time.Time) any { return t.UnixMicro() })
}

// sqliteScan scans with scan into dest, converting times and JSON back.
func sqliteScan(scan func(dest ...any) error, dest []any) error {
	conv := make([]any, len(dest))
	micros := make([]sql.NullInt64, len(dest))
	for i, d := range dest {
		switch d := d.(type) {
		case *time.Time:
			conv[i] = &micros[i]
		case *json.RawMessage:
			conv[i] = (*[]byte)(d)
		default:
			conv[i] = d
		}
	}
	if err := scan(conv...); err != nil {
		return err
	}
	for i, d := range dest {
		if t, ok := d.(*time.Time); ok {
			*t = time.Time{}
			if micros[i].Valid {
				*t = time.UnixMicro(micros[i].Int64).UTC()
			}
		}
	}
	return nil
}

// sqliteRows is a result set; st, when set, is an uncached statement to
// close with it.
type sqliteRows struct {
	rs *sql.Rows
	st *sql.Stmt
}

func (r sqliteRows) Next() bool { return r.rs.Next() }
func (r sqliteRows) Err() error { return r.rs.Err() }

func (r sqliteRows) Close() {
	r.rs.Close()
	if r.st != nil {
		r.st.Close()
	}
}

func (r sqliteRows) Scan(dest ...any) error { return sqliteScan(r.rs.Scan, dest) }

// firstRow is the first row of a query, like sql.Row.
type firstRow struct {
	rs  rows
	err error
}

func (r *firstRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rs.Close()
	if !r.rs.Next() {
		if err := r.rs.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := r.rs.Scan(dest...); err != nil {
		return err
	}
	return r.rs.Err()
}
