package store

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/morozhq/moroz/acd"
)

const outCols = `id, channel, COALESCE(item_id, 0), message_id, from_addr, to_addrs, raw, attempts, next_at,
	state, last_error, claimed_by, claimed_until, created_at, updated_at`

func scanOut(r row) (OutLetter, error) {
	var (
		l  OutLetter
		to string
	)
	err := r.Scan(&l.ID, &l.Channel, &l.ItemID, &l.MessageID, &l.From, &to, &l.Raw, &l.Attempts, &l.NextAt,
		&l.State, &l.LastError, &l.ClaimedBy, &l.ClaimedUntil, &l.CreatedAt, &l.UpdatedAt)
	if to != "" {
		l.To = strings.Split(to, "\n")
	}
	return l, err
}

// outChannel is the channel a row is stored under: acd.Email when empty.
func outChannel(ch acd.Channel) acd.Channel {
	if ch == "" {
		return acd.Email
	}
	return ch
}

func checkOut(l OutLetter) error {
	switch {
	case !outChannel(l.Channel).Valid():
		return fmt.Errorf("channel %q: %w", l.Channel, ErrInvalid)
	case l.MessageID == "":
		return fmt.Errorf("no message id: %w", ErrInvalid)
	case len(l.To) == 0 || len(l.Raw) == 0:
		return fmt.Errorf("no recipient or no letter: %w", ErrInvalid)
	}
	for _, to := range l.To {
		if to == "" || strings.ContainsAny(to, "\r\n") {
			return fmt.Errorf("recipient %q: %w", to, ErrInvalid)
		}
	}
	return nil
}

// EnqueueOut stores l as pending, or returns the letter already queued
// under its Message-ID.
func (s *sqlStore) EnqueueOut(ctx context.Context, l OutLetter) (OutLetter, bool, error) {
	if err := checkOut(l); err != nil {
		return OutLetter{}, false, fmt.Errorf("enqueue letter %s: %w", l.MessageID, err)
	}
	now := s.stamp()
	l.ID, l.Channel, l.State, l.Attempts, l.LastError = 0, outChannel(l.Channel), OutPending, 0, ""
	l.CreatedAt, l.UpdatedAt, l.NextAt = now, now, roundTime(l.NextAt)
	if l.NextAt.IsZero() {
		l.NextAt = now
	}
	var (
		stored  OutLetter
		created bool
	)
	err := s.write(ctx, func(q querier) error {
		var err error
		stored, created, err = s.insertOut(ctx, q, l)
		return err
	})
	if err != nil {
		return OutLetter{}, false, s.fail(err, "enqueue letter %s", l.MessageID)
	}
	return stored, created, nil
}

func (s *sqlStore) insertOut(ctx context.Context, q querier, l OutLetter) (OutLetter, bool, error) {
	l.ClaimedUntil = roundTime(l.ClaimedUntil)
	if l.ClaimedBy == "" || l.ClaimedUntil.IsZero() {
		l.ClaimedBy, l.ClaimedUntil = "", time.Time{}
	}
	s.claimants.add(l.ClaimedBy)
	var inserted bool
	var err error
	l.ID, inserted, err = q.insert(ctx, `INSERT INTO outbox (channel, item_id, message_id, from_addr, to_addrs, raw,
		attempts, next_at, state, last_error, claimed_by, claimed_until, created_at, updated_at)
		VALUES ($10, $1, $2, $3, $4, $5, 0, $6, $7, '', $11, $12, $8, $9)
		ON CONFLICT (message_id) DO NOTHING`,
		nullID(l.ItemID), l.MessageID, l.From, strings.Join(l.To, "\n"), l.Raw,
		l.NextAt, l.State, l.CreatedAt, l.UpdatedAt, string(l.Channel), l.ClaimedBy, l.ClaimedUntil)
	if err == nil && !inserted {
		stored, err := scanOut(q.queryRow(ctx, `SELECT `+outCols+` FROM outbox WHERE message_id = $1`,
			l.MessageID))
		return stored, false, err
	}
	return l, err == nil, err
}

// FileLetter stores msgs and queues out in one commit.
func (s *sqlStore) FileLetter(ctx context.Context, msgs []Message, out []OutLetter) (FiledLetter, error) {
	now := s.stamp()
	heads, err := prepareMessages(msgs, now)
	if err != nil {
		return FiledLetter{}, fmt.Errorf("file letter: %w", err)
	}
	if err := prepareOut(out, now); err != nil {
		return FiledLetter{}, fmt.Errorf("file letter: %w", err)
	}
	var res FiledLetter
	err = s.write(ctx, func(q querier) error {
		res = FiledLetter{} // a retried batch starts again
		for i, m := range msgs {
			stored, created, err := s.insertMessage(ctx, q, m, heads[i])
			if err != nil {
				return fmt.Errorf("message %q: %w", m.ExternalID, err)
			}
			res.Messages, res.Created = append(res.Messages, stored), append(res.Created, created)
		}
		for _, l := range out {
			stored, created, err := s.insertOut(ctx, q, l)
			if err != nil {
				return fmt.Errorf("queue %s: %w", l.MessageID, err)
			}
			res.Out, res.OutCreated = append(res.Out, stored), append(res.OutCreated, created)
		}
		return nil
	})
	if err != nil {
		return FiledLetter{}, s.fail(err, "file letter")
	}
	return res, nil
}

// PendingOut returns pending letters of channel after afterID in ID order.
func (s *sqlStore) PendingOut(ctx context.Context, channel acd.Channel, afterID int64, n int) ([]OutLetter, error) {
	ls, err := collect(scanOut)(s.read().query(ctx, `SELECT `+outCols+` FROM outbox
		WHERE state = 'pending' AND channel = $1 AND id > $2 ORDER BY id LIMIT $3`,
		string(outChannel(channel)), afterID, limit(n)))
	return ls, s.fail(err, "pending %s letters", outChannel(channel))
}

// OutLetter returns the queued letter with id.
func (s *sqlStore) OutLetter(ctx context.Context, id int64) (OutLetter, error) {
	l, err := scanOut(s.read().queryRow(ctx, `SELECT `+outCols+` FROM outbox WHERE id = $1`, id))
	return l, s.fail(err, "outbox letter %d", id)
}

// MarkOut records the result of an attempt on u.ID and ends its claim
// unless its sender keeps a retry; a retry is recorded only while u's
// sender or nobody holds the row.
func (s *sqlStore) MarkOut(ctx context.Context, u OutLetter) error {
	switch u.State {
	case OutPending, OutSent, OutFailed:
	default:
		return fmt.Errorf("mark outbox letter %d: state %q: %w", u.ID, u.State, ErrInvalid)
	}
	now := s.stamp()
	next := roundTime(u.NextAt)
	if next.IsZero() {
		next = now
	}
	// A retry its sender keeps stays claimed by it; any other mark ends
	// the claim.
	keepBy, keepUntil := "", time.Time{}
	if until := roundTime(u.ClaimedUntil); u.State == OutPending && u.ClaimedBy != "" && until.After(now) {
		keepBy, keepUntil = u.ClaimedBy, until
	}
	query := `UPDATE outbox SET state = $2, attempts = $3, next_at = $4, last_error = $5, updated_at = $6,
		claimed_by = $7, claimed_until = $8 WHERE id = $1`
	args := []any{u.ID, u.State, u.Attempts, next, u.LastError, now, keepBy, keepUntil}
	if u.State == OutPending {
		args = append(args, u.ClaimedBy)
	}
	err := s.write(ctx, func(q querier) error {
		query, args := query, args
		if u.State == OutPending {
			query += ` AND (claimed_by = $9 OR claimed_until IS NULL OR claimed_until <= $6` + s.voidLeases(&args) + `)`
		}
		n, err := q.exec(ctx, query, args...)
		if err != nil || n > 0 {
			return err
		}
		var id int64
		if err := q.queryRow(ctx, `SELECT id FROM outbox WHERE id = $1`, u.ID).Scan(&id); err != nil {
			return err
		}
		return ErrClaimed
	})
	return s.fail(err, "mark outbox letter %d", u.ID)
}

// ClaimOut takes due rows nobody holds for c.Claimant, atomically: on
// PostgreSQL the rows are locked with SKIP LOCKED, so a concurrent claim
// passes over them; SQLite's one writer runs claims one after another.
func (s *sqlStore) ClaimOut(ctx context.Context, c OutClaim) ([]OutLetter, error) {
	if c.Claimant == "" || c.Lease < time.Millisecond {
		return nil, fmt.Errorf("claim outbox rows: no claimant or a lease under 1ms: %w", ErrInvalid)
	}
	ch := outChannel(c.Channel)
	if !ch.Valid() {
		return nil, fmt.Errorf("claim outbox rows: channel %q: %w", ch, ErrInvalid)
	}
	s.claimants.add(c.Claimant)
	now := s.stamp()
	args := []any{c.Claimant, now.Add(c.Lease), string(ch), now, limit(c.Limit)}
	cond := `o.state = 'pending' AND o.channel = $3 AND o.next_at <= $4`
	if c.Prefix != "" {
		not := ""
		if c.Except {
			not = "NOT "
		}
		args = append(args, likePrefix(c.Prefix))
		cond += fmt.Sprintf(` AND o.message_id %sLIKE $%d ESCAPE '\'`, not, len(args))
	}
	if c.InOrder {
		// A subquery per candidate, which looks its recipient up in
		// outbox_pending_to whatever the statistics say (as an anti-join,
		// PostgreSQL without fresh statistics scanned the channel's every
		// pending row for each candidate). The index holds Telegram's rows
		// only, the channel claimed in order (migration 00010); a planner
		// uses a partial index only for a query naming its channel as a
		// literal, which a valid channel's name is safe to be.
		cond += ` AND o.id = (SELECT MIN(p.id) FROM outbox p WHERE p.state = 'pending' AND p.channel = '` +
			string(ch) + `' AND p.to_addrs = o.to_addrs)`
	}
	// PostgreSQL locks the rows it picks, skipping those a concurrent
	// claim has locked, and gets the ids as an array, which it looks up by
	// the primary key (an IN list it may hash-join over the whole table).
	open, lock := `id IN (`, `)`
	if !s.embedded() {
		open, lock = `id = ANY(ARRAY(`, ` FOR UPDATE SKIP LOCKED))`
	}
	var ls []OutLetter
	err := s.write(ctx, func(q querier) error {
		// The claimants are read here, in the write: every lease committed
		// before is of a claimant added by then.
		args := args
		held := ` AND (o.claimed_until IS NULL OR o.claimed_until <= $4` + s.voidLeases(&args) + `)`
		query := `UPDATE outbox SET claimed_by = $1, claimed_until = $2 WHERE ` + open + `SELECT o.id FROM outbox o
			WHERE ` + cond + held + ` ORDER BY o.id LIMIT $5` + lock + ` RETURNING ` + outCols
		var err error
		ls, err = collect(scanOut)(q.query(ctx, query, args...))
		return err
	})
	if err != nil {
		return nil, s.fail(err, "claim %s rows for %s", ch, c.Claimant)
	}
	slices.SortFunc(ls, func(a, b OutLetter) int { return cmp.Compare(a.ID, b.ID) })
	return ls, nil
}

// RenewOut extends the leases claimant still holds.
func (s *sqlStore) RenewOut(ctx context.Context, claimant string, lease time.Duration) (time.Time, error) {
	if claimant == "" || lease < time.Millisecond {
		return time.Time{}, fmt.Errorf("renew outbox leases: no claimant or a lease under 1ms: %w", ErrInvalid)
	}
	now := s.stamp()
	until := now.Add(lease)
	err := s.write(ctx, func(q querier) error {
		_, err := q.exec(ctx, `UPDATE outbox SET claimed_until = $2
			WHERE claimed_by = $1 AND state = 'pending' AND claimed_until > $3`, claimant, until, now)
		return err
	})
	if err != nil {
		return time.Time{}, s.fail(err, "renew outbox leases of %s", claimant)
	}
	return until, nil
}

// ReleaseOut ends claimant's claims on pending rows.
func (s *sqlStore) ReleaseOut(ctx context.Context, claimant string) error {
	if claimant == "" {
		return fmt.Errorf("release outbox rows: no claimant: %w", ErrInvalid)
	}
	err := s.write(ctx, func(q querier) error {
		_, err := q.exec(ctx, `UPDATE outbox SET claimed_by = '', claimed_until = NULL
			WHERE claimed_by = $1 AND state = 'pending'`, claimant)
		return err
	})
	return s.fail(err, "release outbox rows of %s", claimant)
}

// PruneOut deletes one batch of sent rows older than before.
func (s *sqlStore) PruneOut(ctx context.Context, before time.Time, n int) (int, error) {
	open, end := `id IN (`, `)` // on PostgreSQL, an array for the reason ClaimOut gives
	if !s.embedded() {
		open, end = `id = ANY(ARRAY(`, `))`
	}
	var deleted int64
	err := s.write(ctx, func(q querier) error {
		var err error
		deleted, err = q.exec(ctx, `DELETE FROM outbox WHERE `+open+`SELECT id FROM outbox
			WHERE state = 'sent' AND updated_at < $1 ORDER BY updated_at, id LIMIT $2`+end,
			roundTime(before), limit(n))
		return err
	})
	return int(deleted), s.fail(err, "prune sent outbox rows")
}

// likePrefix is a LIKE pattern (escape character \) matching what starts
// with p.
func likePrefix(p string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(p) + "%"
}

// embedded reports whether the store is the SQLite file of one process.
func (s *sqlStore) embedded() bool {
	_, ok := s.b.(*sqliteBackend)
	return ok
}

// voidLeases adds to a condition on a row's lease, on SQLite, that a
// lease of a claimant this process never had does not hold: the embedded
// store serves one process, so such a lease is left by one that is gone.
// It appends the claimants to args and returns the SQL to add (empty on
// PostgreSQL).
func (s *sqlStore) voidLeases(args *[]any) string {
	if !s.embedded() {
		return ""
	}
	var marks []string
	for _, c := range s.claimants.list() {
		*args = append(*args, c)
		marks = append(marks, fmt.Sprintf("$%d", len(*args)))
	}
	if len(marks) == 0 {
		return " OR claimed_by <> ''"
	}
	return " OR claimed_by NOT IN (" + strings.Join(marks, ", ") + ")"
}

// claimants are the senders that claimed rows through one Store value.
type claimants struct {
	mu  sync.Mutex
	set map[string]bool // guarded by mu
}

func (c *claimants) add(name string) {
	if name == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.set == nil {
		c.set = map[string]bool{}
	}
	c.set[name] = true
}

func (c *claimants) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Sorted(maps.Keys(c.set))
}

// IMAPSeen reports whether the message is marked stored.
func (s *sqlStore) IMAPSeen(ctx context.Context, mailbox string, uidValidity, uid uint32) (bool, error) {
	var n int
	err := s.read().queryRow(ctx, `SELECT COUNT(*) FROM imap_seen
		WHERE mailbox = $1 AND uid_validity = $2 AND uid = $3`,
		mailbox, int64(uidValidity), int64(uid)).Scan(&n)
	if err != nil {
		return false, s.fail(err, "imap %s %d/%d seen", mailbox, uidValidity, uid)
	}
	return n > 0, nil
}

// MarkIMAPSeen marks the message stored.
func (s *sqlStore) MarkIMAPSeen(ctx context.Context, mailbox string, uidValidity, uid uint32, messageID string) error {
	if mailbox == "" || uid == 0 {
		return fmt.Errorf("mark imap %q %d/%d: no mailbox or uid: %w", mailbox, uidValidity, uid, ErrInvalid)
	}
	err := s.write(ctx, func(q querier) error {
		_, err := q.exec(ctx, `INSERT INTO imap_seen (mailbox, uid_validity, uid, message_id, seen_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (mailbox, uid_validity, uid) DO NOTHING`,
			mailbox, int64(uidValidity), int64(uid), messageID, s.stamp())
		return err
	})
	return s.fail(err, "mark imap %s %d/%d", mailbox, uidValidity, uid)
}
