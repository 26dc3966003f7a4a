package store

import (
	"context"
	"fmt"
)

const templateCols = `id, name, lang, queue, subject, body, uses, created_at, updated_at`

func scanTemplate(r row) (Template, error) {
	var t Template
	err := r.Scan(&t.ID, &t.Name, &t.Lang, &t.Queue, &t.Subject, &t.Body, &t.Uses, &t.CreatedAt, &t.UpdatedAt)
	return t, err
}

// PutTemplate creates t (ID 0) or replaces its name, language, queue,
// subject and body. Uses and CreatedAt are kept by the store.
func (s *sqlStore) PutTemplate(ctx context.Context, t Template) (Template, error) {
	if t.Name == "" {
		return Template{}, fmt.Errorf("put template: empty name: %w", ErrInvalid)
	}
	now := s.stamp()
	var stored Template
	err := s.write(ctx, func(q querier) error {
		var err error
		if t.ID == 0 {
			stored, err = scanTemplate(q.queryRow(ctx, `INSERT INTO templates
				(name, lang, queue, subject, body, uses, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, 0, $6, $6) RETURNING `+templateCols,
				t.Name, t.Lang, t.Queue, t.Subject, t.Body, now))
			return err
		}
		stored, err = scanTemplate(q.queryRow(ctx, `UPDATE templates SET name = $2, lang = $3, queue = $4,
			subject = $5, body = $6, updated_at = $7 WHERE id = $1 RETURNING `+templateCols,
			t.ID, t.Name, t.Lang, t.Queue, t.Subject, t.Body, now))
		return err
	})
	if err != nil {
		return Template{}, s.fail(err, "put template %q", t.Name)
	}
	return stored, nil
}

// Template returns the template with id.
func (s *sqlStore) Template(ctx context.Context, id int64) (Template, error) {
	t, err := scanTemplate(s.read().queryRow(ctx, `SELECT `+templateCols+` FROM templates WHERE id = $1`, id))
	return t, s.fail(err, "template %d", id)
}

// ListTemplates returns every template in ID order.
func (s *sqlStore) ListTemplates(ctx context.Context) ([]Template, error) {
	ts, err := collect(scanTemplate)(s.read().query(ctx, `SELECT `+templateCols+` FROM templates ORDER BY id`))
	return ts, s.fail(err, "list templates")
}

// DeleteTemplate removes the template with id; messages and mailings made
// from it keep no link to it.
func (s *sqlStore) DeleteTemplate(ctx context.Context, id int64) error {
	err := s.write(ctx, func(q querier) error {
		return affected(q.exec(ctx, `DELETE FROM templates WHERE id = $1`, id))
	})
	return s.fail(err, "delete template %d", id)
}

// CountTemplateUse adds one to the use counter of template id.
func (s *sqlStore) CountTemplateUse(ctx context.Context, id int64) error {
	err := s.write(ctx, func(q querier) error {
		return affected(q.exec(ctx, `UPDATE templates SET uses = uses + 1 WHERE id = $1`, id))
	})
	return s.fail(err, "count use of template %d", id)
}

const mailingCols = `id, name, COALESCE(template_id, 0), audience, state, rate_per_min, scheduled_at,
	created_at, total, sent`

func scanMailing(r row) (Mailing, error) {
	var m Mailing
	err := r.Scan(&m.ID, &m.Name, &m.TemplateID, &m.Audience, &m.State, &m.RatePerMin, &m.ScheduledAt,
		&m.CreatedAt, &m.Total, &m.Sent)
	return m, err
}

// PutMailing creates m (ID 0) or replaces its name, template, audience,
// state, rate and schedule. CreatedAt, Total and Sent are kept by the store.
func (s *sqlStore) PutMailing(ctx context.Context, m Mailing) (Mailing, error) {
	audience, err := rawArg("audience", m.Audience)
	if err == nil && m.Name == "" {
		err = fmt.Errorf("empty name: %w", ErrInvalid)
	}
	if err != nil {
		return Mailing{}, fmt.Errorf("put mailing %q: %w", m.Name, err)
	}
	if m.State == "" {
		m.State = "draft"
	}
	var stored Mailing
	err = s.write(ctx, func(q querier) error {
		var err error
		if m.ID == 0 {
			stored, err = scanMailing(q.queryRow(ctx, `INSERT INTO mailings
				(name, template_id, audience, state, rate_per_min, scheduled_at, created_at, total, sent)
				VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0) RETURNING `+mailingCols,
				m.Name, nullID(m.TemplateID), audience, m.State, m.RatePerMin, roundTime(m.ScheduledAt), s.stamp()))
			return err
		}
		stored, err = scanMailing(q.queryRow(ctx, `UPDATE mailings SET name = $2, template_id = $3,
			audience = $4, state = $5, rate_per_min = $6, scheduled_at = $7 WHERE id = $1 RETURNING `+mailingCols,
			m.ID, m.Name, nullID(m.TemplateID), audience, m.State, m.RatePerMin, roundTime(m.ScheduledAt)))
		return err
	})
	if err != nil {
		return Mailing{}, s.fail(err, "put mailing %q", m.Name)
	}
	return stored, nil
}

// Mailing returns the mailing with id.
func (s *sqlStore) Mailing(ctx context.Context, id int64) (Mailing, error) {
	m, err := scanMailing(s.read().queryRow(ctx, `SELECT `+mailingCols+` FROM mailings WHERE id = $1`, id))
	return m, s.fail(err, "mailing %d", id)
}

// ListMailings returns every mailing in ID order.
func (s *sqlStore) ListMailings(ctx context.Context) ([]Mailing, error) {
	ms, err := collect(scanMailing)(s.read().query(ctx, `SELECT `+mailingCols+` FROM mailings ORDER BY id`))
	return ms, s.fail(err, "list mailings")
}

// AddRecipients adds contactIDs to mailingID as pending, skipping those
// already in it, and adds the number added to the mailing's Total.
func (s *sqlStore) AddRecipients(ctx context.Context, mailingID int64, contactIDs []int64) (int, error) {
	var added int
	err := s.write(ctx, func(q querier) error {
		added = 0
		if err := affected(q.exec(ctx, `UPDATE mailings SET total = total WHERE id = $1`, mailingID)); err != nil {
			return err
		}
		for _, cid := range contactIDs {
			n, err := q.exec(ctx, `INSERT INTO recipients (mailing_id, contact_id, state, error)
				VALUES ($1, $2, 'pending', '') ON CONFLICT (mailing_id, contact_id) DO NOTHING`, mailingID, cid)
			if err != nil {
				return fmt.Errorf("contact %d: %w", cid, err)
			}
			added += int(n)
		}
		_, err := q.exec(ctx, `UPDATE mailings SET total = total + $2 WHERE id = $1`, mailingID, added)
		return err
	})
	if err != nil {
		return 0, s.fail(err, "add recipients to mailing %d", mailingID)
	}
	return added, nil
}

func scanRecipient(r row) (Recipient, error) {
	var rc Recipient
	err := r.Scan(&rc.MailingID, &rc.ContactID, &rc.State, &rc.SentAt, &rc.Error)
	return rc, err
}

// PendingRecipients returns up to n pending recipients of mailingID (0 means
// 100) in contact ID order.
func (s *sqlStore) PendingRecipients(ctx context.Context, mailingID int64, n int) ([]Recipient, error) {
	rs, err := collect(scanRecipient)(s.read().query(ctx, `SELECT mailing_id, contact_id, state, sent_at, error
		FROM recipients WHERE mailing_id = $1 AND state = 'pending' ORDER BY contact_id LIMIT $2`,
		mailingID, limit(n)))
	return rs, s.fail(err, "pending recipients of mailing %d", mailingID)
}

// MarkRecipient records r's State, SentAt and Error, and counts a first
// "sent" in the mailing's Sent.
func (s *sqlStore) MarkRecipient(ctx context.Context, r Recipient) error {
	if r.State == "" {
		return fmt.Errorf("mark recipient %d of mailing %d: empty state: %w", r.ContactID, r.MailingID, ErrInvalid)
	}
	err := s.write(ctx, func(q querier) error { return markRecipient(ctx, q, r) })
	return s.fail(err, "mark recipient %d of mailing %d", r.ContactID, r.MailingID)
}

func markRecipient(ctx context.Context, q querier, r Recipient) error {
	sentAt := roundTime(r.SentAt)
	if r.State == "queued" {
		// A hand-over only queues a recipient not yet done: another node
		// may have sent its letter since this one read it pending.
		n, err := q.exec(ctx, `UPDATE recipients SET state = $3, sent_at = $4, error = $5
			WHERE mailing_id = $1 AND contact_id = $2 AND state IN ('pending', 'sending', 'queued')`,
			r.MailingID, r.ContactID, r.State, sentAt, r.Error)
		if err != nil || n > 0 {
			return err
		}
		var one int
		return q.queryRow(ctx, `SELECT 1 FROM recipients WHERE mailing_id = $1 AND contact_id = $2`,
			r.MailingID, r.ContactID).Scan(&one)
	}
	// The first update only matches a recipient not yet sent, so two
	// concurrent marks cannot both count it.
	n, err := q.exec(ctx, `UPDATE recipients SET state = $3, sent_at = $4, error = $5
		WHERE mailing_id = $1 AND contact_id = $2 AND state <> 'sent'`,
		r.MailingID, r.ContactID, r.State, sentAt, r.Error)
	if err != nil {
		return err
	}
	if n == 0 {
		return affected(q.exec(ctx, `UPDATE recipients SET state = $3, sent_at = $4, error = $5
			WHERE mailing_id = $1 AND contact_id = $2`, r.MailingID, r.ContactID, r.State, sentAt, r.Error))
	}
	if r.State != "sent" {
		return nil
	}
	_, err = q.exec(ctx, `UPDATE mailings SET sent = sent + 1 WHERE id = $1`, r.MailingID)
	return err
}

// QueueRecipients marks recipients and queues their letters in one commit.
func (s *sqlStore) QueueRecipients(ctx context.Context, hs []Handover) ([]OutLetter, error) {
	out := make([]OutLetter, len(hs))
	for i, h := range hs {
		if h.Recipient.State == "" {
			return nil, fmt.Errorf("queue recipient %d of mailing %d: empty state: %w",
				h.Recipient.ContactID, h.Recipient.MailingID, ErrInvalid)
		}
		out[i] = h.Letter
	}
	if err := prepareOut(out, s.stamp()); err != nil {
		return nil, fmt.Errorf("queue recipients: %w", err)
	}
	var stored []OutLetter
	err := s.write(ctx, func(q querier) error {
		stored = stored[:0] // a retried batch starts again
		for i, h := range hs {
			l, _, err := s.insertOut(ctx, q, out[i])
			if err != nil {
				return fmt.Errorf("letter %s: %w", out[i].MessageID, err)
			}
			if err := markRecipient(ctx, q, h.Recipient); err != nil {
				return fmt.Errorf("recipient %d of mailing %d: %w", h.Recipient.ContactID, h.Recipient.MailingID, err)
			}
			stored = append(stored, l)
		}
		return nil
	})
	if err != nil {
		return nil, s.fail(err, "queue %d recipients", len(hs))
	}
	return stored, nil
}

// CountRecipients counts the mailing's recipients in state.
func (s *sqlStore) CountRecipients(ctx context.Context, mailingID int64, state string) (int, error) {
	var n int
	err := s.read().queryRow(ctx, `SELECT COUNT(*) FROM recipients WHERE mailing_id = $1 AND state = $2`,
		mailingID, state).Scan(&n)
	return n, s.fail(err, "count %s recipients of mailing %d", state, mailingID)
}
