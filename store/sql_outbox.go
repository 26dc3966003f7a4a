package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/morozhq/moroz/acd"
)

const outCols = `id, channel, COALESCE(item_id, 0), message_id, from_addr, to_addrs, raw, attempts, next_at,
	state, last_error, created_at, updated_at`

func scanOut(r row) (OutLetter, error) {
	var (
		l  OutLetter
		to string
	)
	err := r.Scan(&l.ID, &l.Channel, &l.ItemID, &l.MessageID, &l.From, &to, &l.Raw, &l.Attempts, &l.NextAt,
		&l.State, &l.LastError, &l.CreatedAt, &l.UpdatedAt)
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
	err := q.queryRow(ctx, `INSERT INTO outbox (channel, item_id, message_id, from_addr, to_addrs, raw,
		attempts, next_at, state, last_error, created_at, updated_at)
		VALUES ($10, $1, $2, $3, $4, $5, 0, $6, $7, '', $8, $9)
		ON CONFLICT (message_id) DO NOTHING RETURNING id`,
		nullID(l.ItemID), l.MessageID, l.From, strings.Join(l.To, "\n"), l.Raw,
		l.NextAt, l.State, l.CreatedAt, l.UpdatedAt, string(l.Channel)).Scan(&l.ID)
	if isNoRows(err) {
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

// MarkOut records the result of an attempt on u.ID.
func (s *sqlStore) MarkOut(ctx context.Context, u OutLetter) error {
	switch u.State {
	case OutPending, OutSent, OutFailed:
	default:
		return fmt.Errorf("mark outbox letter %d: state %q: %w", u.ID, u.State, ErrInvalid)
	}
	next := roundTime(u.NextAt)
	if next.IsZero() {
		next = s.stamp()
	}
	err := s.write(ctx, func(q querier) error {
		return affected(q.exec(ctx, `UPDATE outbox SET state = $2, attempts = $3, next_at = $4,
			last_error = $5, updated_at = $6 WHERE id = $1`,
			u.ID, u.State, u.Attempts, next, u.LastError, s.stamp()))
	})
	return s.fail(err, "mark outbox letter %d", u.ID)
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
