package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

const callCols = `id, call_id, COALESCE(item_id, 0), direction, from_addr, to_addr, queue,
	COALESCE(helper_id, 0), outcome, reason, arrived_at, answered_at, enqueued_at, connected_at, ended_at`

func scanCall(r row) (Call, error) {
	var c Call
	err := r.Scan(&c.ID, &c.CallID, &c.ItemID, &c.Direction, &c.From, &c.To, &c.Queue, &c.HelperID,
		&c.Outcome, &c.Reason, &c.ArrivedAt, &c.AnsweredAt, &c.EnqueuedAt, &c.ConnectedAt, &c.EndedAt)
	return c, err
}

// PutCall creates the record of c.CallID or replaces every field of it but
// ID.
func (s *sqlStore) PutCall(ctx context.Context, c Call) (Call, error) {
	c, err := prepareCall(c)
	if err != nil {
		return Call{}, fmt.Errorf("put call: %w", err)
	}
	err = s.write(ctx, func(q querier) error {
		var err error
		c.ID, err = putCall(ctx, q, c)
		return err
	})
	if err != nil {
		return Call{}, s.fail(err, "put call %q", c.CallID)
	}
	return c, nil
}

// prepareCall checks c and rounds its times for PutCall and FileItem.
func prepareCall(c Call) (Call, error) {
	if c.CallID == "" {
		return Call{}, fmt.Errorf("empty call id: %w", ErrInvalid)
	}
	for _, t := range []*time.Time{&c.ArrivedAt, &c.AnsweredAt, &c.EnqueuedAt, &c.ConnectedAt, &c.EndedAt} {
		*t = roundTime(*t)
	}
	return c, nil
}

// putCall upserts c inside a write and returns its ID.
func putCall(ctx context.Context, q querier, c Call) (id int64, err error) {
	err = q.queryRow(ctx, `INSERT INTO calls (call_id, item_id, direction, from_addr, to_addr, queue,
		helper_id, outcome, reason, arrived_at, answered_at, enqueued_at, connected_at, ended_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		ON CONFLICT (call_id) DO UPDATE SET item_id = excluded.item_id, direction = excluded.direction,
		from_addr = excluded.from_addr, to_addr = excluded.to_addr, queue = excluded.queue,
		helper_id = excluded.helper_id, outcome = excluded.outcome, reason = excluded.reason,
		arrived_at = excluded.arrived_at, answered_at = excluded.answered_at,
		enqueued_at = excluded.enqueued_at, connected_at = excluded.connected_at,
		ended_at = excluded.ended_at
		RETURNING id`,
		c.CallID, nullID(c.ItemID), c.Direction, c.From, c.To, c.Queue, nullID(c.HelperID), c.Outcome,
		c.Reason, c.ArrivedAt, c.AnsweredAt, c.EnqueuedAt, c.ConnectedAt, c.EndedAt).Scan(&id)
	return id, err
}

// Call returns the record of callID.
func (s *sqlStore) Call(ctx context.Context, callID string) (Call, error) {
	c, err := scanCall(s.read().queryRow(ctx, `SELECT `+callCols+` FROM calls WHERE call_id = $1`, callID))
	return c, s.fail(err, "call %q", callID)
}

// ListCalls returns the calls f selects, newest record first.
func (s *sqlStore) ListCalls(ctx context.Context, f CallFilter) ([]Call, error) {
	var w where
	w.conds = append(w.conds, "true")
	if !f.Since.IsZero() {
		w.add("arrived_at >= ", roundTime(f.Since))
	}
	if f.Missed {
		w.conds = append(w.conds, "connected_at IS NULL")
	}
	w.args = append(w.args, limit(f.Limit))
	query := `SELECT ` + callCols + ` FROM calls WHERE ` + strings.Join(w.conds, " AND ") +
		` ORDER BY id DESC LIMIT $` + strconv.Itoa(len(w.args))
	cs, err := collect(scanCall)(s.read().query(ctx, query, w.args...))
	return cs, s.fail(err, "list calls")
}

const voicemailCols = `id, COALESCE(item_id, 0), call_id, from_addr, path, duration_ns, created_at`

func scanVoicemail(r row) (Voicemail, error) {
	var (
		v  Voicemail
		ns int64
	)
	err := r.Scan(&v.ID, &v.ItemID, &v.CallID, &v.From, &v.Path, &ns, &v.CreatedAt)
	v.Duration = time.Duration(ns)
	return v, err
}

// CreateVoicemail stores v with a new ID; a zero CreatedAt is now.
func (s *sqlStore) CreateVoicemail(ctx context.Context, v Voicemail) (Voicemail, error) {
	if v.Path == "" {
		return Voicemail{}, fmt.Errorf("create voicemail of call %q: empty path: %w", v.CallID, ErrInvalid)
	}
	v.CreatedAt = roundTime(v.CreatedAt)
	if v.CreatedAt.IsZero() {
		v.CreatedAt = s.stamp()
	}
	err := s.write(ctx, func(q querier) error {
		return q.queryRow(ctx, `INSERT INTO voicemails (item_id, call_id, from_addr, path, duration_ns, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
			nullID(v.ItemID), v.CallID, v.From, v.Path, int64(v.Duration), v.CreatedAt).Scan(&v.ID)
	})
	if err != nil {
		return Voicemail{}, s.fail(err, "create voicemail of call %q", v.CallID)
	}
	return v, nil
}

// Voicemail returns the voicemail with id.
func (s *sqlStore) Voicemail(ctx context.Context, id int64) (Voicemail, error) {
	v, err := scanVoicemail(s.read().queryRow(ctx, `SELECT `+voicemailCols+` FROM voicemails WHERE id = $1`, id))
	return v, s.fail(err, "voicemail %d", id)
}

// VoicemailOfItem returns the first voicemail stored for itemID.
func (s *sqlStore) VoicemailOfItem(ctx context.Context, itemID int64) (Voicemail, error) {
	v, err := scanVoicemail(s.read().queryRow(ctx, `SELECT `+voicemailCols+` FROM voicemails
		WHERE item_id = $1 ORDER BY id LIMIT 1`, itemID))
	return v, s.fail(err, "voicemail of item %d", itemID)
}

// ListVoicemails returns up to n voicemails (0 means 100), newest first.
func (s *sqlStore) ListVoicemails(ctx context.Context, n int) ([]Voicemail, error) {
	vs, err := collect(scanVoicemail)(s.read().query(ctx, `SELECT `+voicemailCols+` FROM voicemails
		ORDER BY id DESC LIMIT $1`, limit(n)))
	return vs, s.fail(err, "list voicemails")
}
