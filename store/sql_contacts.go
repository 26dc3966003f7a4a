package store

import (
	"context"
	"errors"
	"fmt"
)

const helperCols = `user_id, queues, skills, capacity, extension, sip_ha1`

func scanHelper(r row) (Helper, error) {
	var (
		h                       Helper
		queues, skills, capacty []byte
	)
	if err := r.Scan(&h.UserID, &queues, &skills, &capacty, &h.Extension, &h.SIPHA1); err != nil {
		return Helper{}, err
	}
	err := errors.Join(decodeJSON(queues, &h.Queues), decodeJSON(skills, &h.Skills),
		decodeJSON(capacty, &h.Capacity))
	return h, err
}

// PutHelper creates or replaces the profile of h.UserID, who must exist.
func (s *sqlStore) PutHelper(ctx context.Context, h Helper) error {
	queues, err1 := jsonArg(h.Queues)
	skills, err2 := jsonArg(h.Skills)
	capacity, err3 := jsonArg(h.Capacity)
	if err := errors.Join(err1, err2, err3); err != nil {
		return fmt.Errorf("put helper %d: %w", h.UserID, err)
	}
	err := s.write(ctx, func(q querier) error {
		_, err := q.exec(ctx, `INSERT INTO helpers (`+helperCols+`) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (user_id) DO UPDATE SET queues = excluded.queues, skills = excluded.skills,
			capacity = excluded.capacity, extension = excluded.extension, sip_ha1 = excluded.sip_ha1`,
			h.UserID, queues, skills, capacity, h.Extension, h.SIPHA1)
		return err
	})
	return s.fail(err, "put helper %d", h.UserID)
}

// Helper returns the profile of userID.
func (s *sqlStore) Helper(ctx context.Context, userID int64) (Helper, error) {
	h, err := scanHelper(s.read().queryRow(ctx,
		`SELECT `+helperCols+` FROM helpers WHERE user_id = $1`, userID))
	return h, s.fail(err, "helper %d", userID)
}

// HelperByExtension returns the profile whose desk phone extension is ext.
func (s *sqlStore) HelperByExtension(ctx context.Context, ext string) (Helper, error) {
	if ext == "" {
		return Helper{}, fmt.Errorf("helper by extension: empty extension: %w", ErrInvalid)
	}
	h, err := scanHelper(s.read().queryRow(ctx,
		`SELECT `+helperCols+` FROM helpers WHERE extension = $1`, ext))
	return h, s.fail(err, "helper by extension %q", ext)
}

// ListHelpers returns every profile in user ID order.
func (s *sqlStore) ListHelpers(ctx context.Context) ([]Helper, error) {
	hs, err := collect(scanHelper)(s.read().query(ctx,
		`SELECT `+helperCols+` FROM helpers ORDER BY user_id`))
	return hs, s.fail(err, "list helpers")
}

func checkIdentity(id Identity) error {
	if id.Kind == "" || id.Value == "" {
		return fmt.Errorf("identity %s:%s: empty kind or value: %w", id.Kind, id.Value, ErrInvalid)
	}
	return nil
}

// ResolveContact returns the contact owning id, creating it when none does.
func (s *sqlStore) ResolveContact(ctx context.Context, id Identity, name string) (Contact, error) {
	if err := checkIdentity(id); err != nil {
		return Contact{}, fmt.Errorf("resolve contact: %w", err)
	}
	var cid int64
	err := s.read().queryRow(ctx, `SELECT contact_id FROM identities WHERE kind = $1 AND value = $2`,
		id.Kind, id.Value).Scan(&cid)
	switch {
	case err == nil: // a known identity needs no write
		return s.Contact(ctx, cid)
	case !isNoRows(err):
		return Contact{}, s.fail(err, "resolve contact %s:%s", id.Kind, id.Value)
	}
	var made *Contact
	err = s.write(ctx, func(q querier) error {
		var err error
		cid, made, err = s.resolveContact(ctx, q, id, name)
		return err
	})
	switch {
	case err != nil:
		return Contact{}, s.fail(err, "resolve contact %s:%s", id.Kind, id.Value)
	case made != nil:
		return *made, nil
	}
	return s.Contact(ctx, cid)
}

// resolveContact finds or makes the contact of id inside a write. When a
// concurrent transaction claims id first (PostgreSQL), the contact made here
// is removed and theirs returned.
//
// made is the new contact when this call created it (so it needs no read
// back), nil when it already existed.
func (s *sqlStore) resolveContact(ctx context.Context, q querier, id Identity, name string) (cid int64, made *Contact, err error) {
	err = q.queryRow(ctx, `SELECT contact_id FROM identities WHERE kind = $1 AND value = $2`,
		id.Kind, id.Value).Scan(&cid)
	if !isNoRows(err) {
		return cid, nil, err
	}
	created := s.stamp()
	cid, _, err = q.insert(ctx, `INSERT INTO contacts (name, lang, created_at) VALUES ($1, '', $2)`,
		name, created)
	if err != nil {
		return 0, nil, err
	}
	n, err := q.exec(ctx, `INSERT INTO identities (contact_id, kind, value) VALUES ($1, $2, $3)
		ON CONFLICT (kind, value) DO NOTHING`, cid, id.Kind, id.Value)
	if err != nil || n == 1 {
		return cid, &Contact{ID: cid, Name: name, CreatedAt: created, Identities: []Identity{id}}, err
	}
	if _, err := q.exec(ctx, `DELETE FROM contacts WHERE id = $1`, cid); err != nil {
		return 0, nil, err
	}
	err = q.queryRow(ctx, `SELECT contact_id FROM identities WHERE kind = $1 AND value = $2`,
		id.Kind, id.Value).Scan(&cid)
	return cid, nil, err
}

// Contact returns the contact with id and its identities.
func (s *sqlStore) Contact(ctx context.Context, id int64) (Contact, error) {
	var (
		c      Contact
		fields []byte
	)
	err := s.read().queryRow(ctx, `SELECT id, name, lang, fields, created_at FROM contacts WHERE id = $1`, id).
		Scan(&c.ID, &c.Name, &c.Lang, &fields, &c.CreatedAt)
	if err == nil {
		err = decodeJSON(fields, &c.Fields)
	}
	if err == nil {
		c.Identities, err = collect(scanIdentity)(s.read().query(ctx,
			`SELECT kind, value FROM identities WHERE contact_id = $1 ORDER BY id`, id))
	}
	if err != nil {
		return Contact{}, s.fail(err, "contact %d", id)
	}
	return c, nil
}

func scanIdentity(r row) (Identity, error) {
	var id Identity
	err := r.Scan(&id.Kind, &id.Value)
	return id, err
}

// UpdateContact writes c's Name, Lang and Fields.
func (s *sqlStore) UpdateContact(ctx context.Context, c Contact) error {
	fields, err := jsonArg(c.Fields)
	if err != nil {
		return fmt.Errorf("update contact %d: %w", c.ID, err)
	}
	err = s.write(ctx, func(q querier) error {
		return affected(q.exec(ctx, `UPDATE contacts SET name = $2, lang = $3, fields = $4 WHERE id = $1`,
			c.ID, c.Name, c.Lang, fields))
	})
	return s.fail(err, "update contact %d", c.ID)
}

// AddIdentity joins id to contactID; joining it again is no error.
func (s *sqlStore) AddIdentity(ctx context.Context, contactID int64, id Identity) error {
	if err := checkIdentity(id); err != nil {
		return fmt.Errorf("add identity to contact %d: %w", contactID, err)
	}
	err := s.write(ctx, func(q querier) error {
		n, err := q.exec(ctx, `INSERT INTO identities (contact_id, kind, value) VALUES ($1, $2, $3)
			ON CONFLICT (kind, value) DO NOTHING`, contactID, id.Kind, id.Value)
		if err != nil || n == 1 {
			return err
		}
		var owner int64
		err = q.queryRow(ctx, `SELECT contact_id FROM identities WHERE kind = $1 AND value = $2`,
			id.Kind, id.Value).Scan(&owner)
		if err == nil && owner != contactID {
			return fmt.Errorf("owned by contact %d: %w", owner, ErrConflict)
		}
		return err
	})
	return s.fail(err, "add identity %s:%s to contact %d", id.Kind, id.Value, contactID)
}
