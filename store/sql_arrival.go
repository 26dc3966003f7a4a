package store

import (
	"context"
	"fmt"
	"time"
)

// FileItem stores an arrival in one commit.
func (s *sqlStore) FileItem(ctx context.Context, a Arrival) (Filed, error) {
	it, first := s.prepareItem(a.Item, a.First)
	fail := func(err error) (Filed, error) {
		return Filed{}, fmt.Errorf("file %s item %q: %w", it.Channel, it.ExternalID, err)
	}
	if _, err := itemArgs(it); err != nil {
		return fail(err)
	}
	if _, err := rawArg("event data", first.Data); err != nil {
		return fail(err)
	}
	if a.Contact.Kind != "" {
		if err := checkIdentity(a.Contact); err != nil {
			return fail(err)
		}
	}
	heads, err := prepareMessages(a.Messages, s.stamp())
	if err != nil {
		return fail(err)
	}
	if err := prepareOut(a.Out, s.stamp()); err != nil {
		return fail(err)
	}
	if a.Call != nil {
		c, err := prepareCall(*a.Call)
		if err != nil {
			return fail(fmt.Errorf("call record: %w", err))
		}
		a.Call = &c
	}
	var res Filed
	err = s.write(ctx, func(q querier) error {
		var err error
		res, err = s.fileItem(ctx, q, a, it, first, heads)
		return err
	})
	if err != nil {
		return Filed{}, s.fail(err, "file %s item %q", it.Channel, it.ExternalID)
	}
	return res, nil
}

// fileItem is FileItem's transaction; it may run again from the start
// when the backend retries it.
func (s *sqlStore) fileItem(ctx context.Context, q querier, a Arrival, it Item, first Event, heads []any) (Filed, error) {
	var res Filed
	if a.Contact.Kind != "" {
		cid, made, err := s.resolveContact(ctx, q, a.Contact, a.ContactName)
		if err != nil {
			return Filed{}, fmt.Errorf("contact %s:%s: %w", a.Contact.Kind, a.Contact.Value, err)
		}
		res.Contact = Contact{ID: cid, Identities: []Identity{a.Contact}}
		if made != nil {
			res.Contact = *made
		}
		it.ContactID = cid
	}
	args, err := itemArgs(it)
	if err != nil {
		return Filed{}, err
	}
	res.Item, res.Created, err = s.insertItem(ctx, q, it, args, first)
	if err == nil && a.Call != nil {
		res.Call = *a.Call
		if res.Call.ID, err = putCall(ctx, q, res.Call); err != nil {
			return Filed{}, fmt.Errorf("call %q: %w", res.Call.CallID, err)
		}
	}
	if err != nil || !res.Created {
		return res, err
	}
	for i, m := range a.Messages {
		m.ItemID = res.Item.ID
		stored, _, err := s.insertMessageIn(ctx, q, m, res.Item.Channel, heads[i])
		if err != nil {
			return Filed{}, fmt.Errorf("message %q: %w", m.ExternalID, err)
		}
		res.Messages = append(res.Messages, stored)
	}
	for _, l := range a.Out {
		l.ItemID = res.Item.ID
		stored, _, err := s.insertOut(ctx, q, l)
		if err != nil {
			return Filed{}, fmt.Errorf("queue %s: %w", l.MessageID, err)
		}
		res.Out = append(res.Out, stored)
	}
	if a.AutoReplied != "" {
		if err := markAutoReply(ctx, q, a.AutoReplied, res.Item.CreatedAt); err != nil {
			return Filed{}, fmt.Errorf("mark %s auto-replied: %w", a.AutoReplied, err)
		}
	}
	return res, nil
}

// prepareMessages checks msgs, fills their defaults (a zero CreatedAt is
// now) and returns their headers as column arguments.
func prepareMessages(msgs []Message, now time.Time) ([]any, error) {
	heads := make([]any, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		h, err := rawArg("headers", m.Headers)
		if err == nil && m.Direction != "in" && m.Direction != "out" {
			err = fmt.Errorf("direction %q: %w", m.Direction, ErrInvalid)
		}
		if err != nil {
			return nil, fmt.Errorf("message %q: %w", m.ExternalID, err)
		}
		heads[i] = h
		m.ID, m.Headers, m.CreatedAt = 0, rawOrNil(m.Headers), roundTime(m.CreatedAt)
		if m.CreatedAt.IsZero() {
			m.CreatedAt = now
		}
	}
	return heads, nil
}

// prepareOut checks letters to queue and fills their pending state.
func prepareOut(out []OutLetter, now time.Time) error {
	for i := range out {
		l := &out[i]
		if err := checkOut(*l); err != nil {
			return fmt.Errorf("queue %s: %w", l.MessageID, err)
		}
		l.ID, l.Channel, l.State, l.Attempts, l.LastError = 0, outChannel(l.Channel), OutPending, 0, ""
		l.CreatedAt, l.UpdatedAt, l.NextAt = now, now, roundTime(l.NextAt)
		if l.NextAt.IsZero() {
			l.NextAt = now
		}
	}
	return nil
}

// FindContact returns the contact owning id, making none.
func (s *sqlStore) FindContact(ctx context.Context, id Identity) (Contact, error) {
	if err := checkIdentity(id); err != nil {
		return Contact{}, fmt.Errorf("find contact: %w", err)
	}
	var cid int64
	err := s.read().queryRow(ctx, `SELECT contact_id FROM identities WHERE kind = $1 AND value = $2`,
		id.Kind, id.Value).Scan(&cid)
	if err != nil {
		return Contact{}, s.fail(err, "find contact %s:%s", id.Kind, id.Value)
	}
	return s.Contact(ctx, cid)
}

// LastAutoReply returns when sender was last marked auto-replied.
func (s *sqlStore) LastAutoReply(ctx context.Context, sender string) (time.Time, error) {
	var at time.Time
	err := s.read().queryRow(ctx, `SELECT replied_at FROM auto_replies WHERE sender = $1`, sender).Scan(&at)
	if isNoRows(err) {
		return time.Time{}, nil
	}
	return at, s.fail(err, "last auto-reply to %q", sender)
}

// MarkAutoReply records sender's automatic reply at at.
func (s *sqlStore) MarkAutoReply(ctx context.Context, sender string, at time.Time) error {
	if sender == "" {
		return fmt.Errorf("mark auto-reply: empty sender: %w", ErrInvalid)
	}
	at = roundTime(at)
	if at.IsZero() {
		at = s.stamp()
	}
	err := s.write(ctx, func(q querier) error { return markAutoReply(ctx, q, sender, at) })
	return s.fail(err, "mark auto-reply to %q", sender)
}

func markAutoReply(ctx context.Context, q querier, sender string, at time.Time) error {
	_, err := q.exec(ctx, `INSERT INTO auto_replies (sender, replied_at) VALUES ($1, $2)
		ON CONFLICT (sender) DO UPDATE SET replied_at = excluded.replied_at`, sender, at)
	return err
}
