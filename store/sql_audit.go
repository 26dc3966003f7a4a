package store

import (
	"context"
	"fmt"
)

const auditCols = `id, at, login, action, detail`

func scanAudit(r row) (AuditEntry, error) {
	var e AuditEntry
	err := r.Scan(&e.ID, &e.At, &e.Login, &e.Action, &e.Detail)
	return e, err
}

// AppendAudit records e; a zero At is now.
func (s *sqlStore) AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error) {
	if e.Login == "" || e.Action == "" {
		return AuditEntry{}, fmt.Errorf("append audit: login and action are required: %w", ErrInvalid)
	}
	e.At = roundTime(e.At)
	if e.At.IsZero() {
		e.At = s.stamp()
	}
	var stored AuditEntry
	err := s.write(ctx, func(q querier) error {
		var err error
		stored, err = scanAudit(q.queryRow(ctx, `INSERT INTO audit (at, login, action, detail)
			VALUES ($1, $2, $3, $4) RETURNING `+auditCols, e.At, e.Login, e.Action, e.Detail))
		return err
	})
	if err != nil {
		return AuditEntry{}, s.fail(err, "append audit %s by %s", e.Action, e.Login)
	}
	return stored, nil
}

// ListAudit returns up to n entries (0 means 100, at most 1000),
// newest first.
func (s *sqlStore) ListAudit(ctx context.Context, n int) ([]AuditEntry, error) {
	es, err := collect(scanAudit)(s.read().query(ctx, `SELECT `+auditCols+` FROM audit ORDER BY id DESC LIMIT $1`,
		limit(n)))
	return es, s.fail(err, "list audit")
}
