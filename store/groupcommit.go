package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
)

// maxBatch bounds how many writes share one commit.
const maxBatch = 1024

// groupWriter owns SQLite's single writer connection. Its goroutine takes
// write requests one batch at a time: every request waiting when it starts
// a batch runs in its own SAVEPOINT inside one transaction, the transaction
// commits once (one fsync for the whole batch), and then every request gets
// its answer. A request that fails rolls back its savepoint only.
type groupWriter struct {
	conn  *sql.Conn
	stmts stmtCache // used by the run goroutine only
	log   *slog.Logger

	reqs     chan *writeReq // unbuffered: a sent request is always answered
	quit     chan struct{}  // closed by close
	done     chan struct{}  // closed when run returns
	quitOnce sync.Once

	commits atomic.Int64 // transactions committed, for tests and metrics
}

// writeReq is one write waiting for the writer.
type writeReq struct {
	ctx context.Context
	fn  func(q querier) error
	res chan error // buffered 1
}

func startGroupWriter(conn *sql.Conn, log *slog.Logger) *groupWriter {
	w := &groupWriter{
		conn: conn,
		log:  log,
		reqs: make(chan *writeReq),
		quit: make(chan struct{}),
		done: make(chan struct{}),
	}
	w.stmts.prep = func(ctx context.Context, q string) (*sql.Stmt, error) {
		return conn.PrepareContext(ctx, q)
	}
	go w.run()
	return w
}

// submit hands fn to the writer and waits for its commit. Once the writer
// has taken the request it runs to the end, so a nil error always means
// committed and a cancelled ctx only stops a request not yet taken.
func (w *groupWriter) submit(ctx context.Context, fn func(q querier) error) error {
	r := &writeReq{ctx: ctx, fn: fn, res: make(chan error, 1)}
	select {
	case w.reqs <- r:
	case <-w.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-r.res
}

func (w *groupWriter) isClosed() bool {
	select {
	case <-w.quit:
		return true
	default:
		return false
	}
}

// close stops taking requests, waits for the batch in flight and releases
// the connection. It is idempotent.
func (w *groupWriter) close() error {
	w.quitOnce.Do(func() { close(w.quit) })
	<-w.done
	w.stmts.close()
	return w.conn.Close()
}

func (w *groupWriter) run() {
	defer close(w.done)
	batch := make([]*writeReq, 0, maxBatch)
	for {
		select {
		case r := <-w.reqs:
			batch = w.gather(append(batch[:0], r))
			w.commit(batch)
			clear(batch)
		case <-w.quit:
			return
		}
	}
}

// gather adds every request already waiting to batch.
func (w *groupWriter) gather(batch []*writeReq) []*writeReq {
	for len(batch) < maxBatch {
		select {
		case r := <-w.reqs:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// commit runs batch in one transaction and answers every request.
func (w *groupWriter) commit(batch []*writeReq) {
	ctx := context.Background()
	q := sqliteQuerier{stmts: &w.stmts}
	if _, err := q.exec(ctx, "BEGIN IMMEDIATE"); err != nil {
		w.answerAll(batch, fmt.Errorf("begin: %w", err))
		return
	}
	results := make([]error, len(batch))
	for i, r := range batch {
		var fatal error
		results[i], fatal = w.runOne(q, r)
		if fatal != nil {
			w.abort(q, batch, fatal)
			return
		}
	}
	if _, err := q.exec(ctx, "COMMIT"); err != nil {
		w.abort(q, batch, fmt.Errorf("commit: %w", err))
		return
	}
	w.commits.Add(1)
	for i, r := range batch {
		r.res <- results[i]
	}
}

// runOne runs r inside a savepoint. err is r's own failure (its work is
// rolled back); fatal means the transaction itself is broken.
func (w *groupWriter) runOne(q sqliteQuerier, r *writeReq) (err, fatal error) {
	if err := r.ctx.Err(); err != nil {
		return err, nil
	}
	ctx := context.Background()
	if _, err := q.exec(ctx, "SAVEPOINT w"); err != nil {
		return nil, fmt.Errorf("savepoint: %w", err)
	}
	err = w.call(r, q)
	if err != nil {
		if _, rerr := q.exec(ctx, "ROLLBACK TO w"); rerr != nil {
			return nil, fmt.Errorf("rollback to savepoint after %v: %w", err, rerr)
		}
	}
	if _, rerr := q.exec(ctx, "RELEASE w"); rerr != nil {
		return nil, fmt.Errorf("release savepoint: %w", rerr)
	}
	return err, nil
}

// call runs r.fn, turning a panic into an error so that one bad request
// cannot take the writer down. Statements ignore r.ctx's cancellation: the
// request was taken, so it finishes.
func (w *groupWriter) call(r *writeReq, q sqliteQuerier) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("write panicked: %v", p)
			w.log.Error("store write panicked", "panic", p)
		}
	}()
	return r.fn(writeQuerier{q})
}

// abort rolls the transaction back and fails every request of the batch.
func (w *groupWriter) abort(q sqliteQuerier, batch []*writeReq, err error) {
	w.log.Error("store group commit failed", "writes", len(batch), "err", err)
	if _, rerr := q.exec(context.Background(), "ROLLBACK"); rerr != nil {
		err = errors.Join(err, fmt.Errorf("rollback: %w", rerr))
	}
	w.answerAll(batch, err)
}

func (w *groupWriter) answerAll(batch []*writeReq, err error) {
	for _, r := range batch {
		r.res <- err
	}
}

// writeQuerier runs a request's statements on the writer connection,
// detached from the request's cancellation.
type writeQuerier struct{ q sqliteQuerier }

func (w writeQuerier) exec(ctx context.Context, query string, args ...any) (int64, error) {
	return w.q.exec(context.WithoutCancel(ctx), query, args...)
}

func (w writeQuerier) insert(ctx context.Context, query string, args ...any) (int64, bool, error) {
	return w.q.insert(context.WithoutCancel(ctx), query, args...)
}

func (w writeQuerier) query(ctx context.Context, query string, args ...any) (rows, error) {
	return w.q.query(context.WithoutCancel(ctx), query, args...)
}

func (w writeQuerier) queryRow(ctx context.Context, query string, args ...any) row {
	return w.q.queryRow(context.WithoutCancel(ctx), query, args...)
}
