package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/morozhq/moroz/acd"
)

const itemCols = `id, channel, external_id, queue, state, priority, skills, subject,
	COALESCE(contact_id, 0), COALESCE(helper_id, 0), outcome, COALESCE(parent_id, 0), data,
	created_at, sla_due, updated_at, closed_at`

func scanItem(r row) (Item, error) {
	var (
		it     Item
		skills []byte
	)
	err := r.Scan(&it.ID, &it.Channel, &it.ExternalID, &it.Queue, &it.State, &it.Priority, &skills,
		&it.Subject, &it.ContactID, &it.HelperID, &it.Outcome, &it.ParentID, &it.Data,
		&it.CreatedAt, &it.SLADue, &it.UpdatedAt, &it.ClosedAt)
	if err != nil {
		return Item{}, err
	}
	return it, decodeJSON(skills, &it.Skills)
}

// itemArgs checks it and returns its column values in insert order.
func itemArgs(it Item) ([]any, error) {
	if !it.Channel.Valid() {
		return nil, fmt.Errorf("channel %q: %w", it.Channel, ErrInvalid)
	}
	if !it.State.Valid() {
		return nil, fmt.Errorf("state %q: %w", it.State, ErrInvalid)
	}
	skills, err := jsonArg(it.Skills)
	if err != nil {
		return nil, err
	}
	data, err := rawArg("data", it.Data)
	if err != nil {
		return nil, err
	}
	return []any{it.Channel, it.ExternalID, it.Queue, it.State, it.Priority, skills, it.Subject,
		nullID(it.ContactID), nullID(it.HelperID), it.Outcome, nullID(it.ParentID), data,
		it.CreatedAt, it.SLADue, it.UpdatedAt, it.ClosedAt}, nil
}

// CreateItem stores it and its first event in one commit, or returns the
// item already stored under its channel and external id.
func (s *sqlStore) CreateItem(ctx context.Context, it Item, first Event) (Item, bool, error) {
	it, first = s.prepareItem(it, first)
	args, err := itemArgs(it)
	if err == nil {
		_, err = rawArg("event data", first.Data)
	}
	if err != nil {
		return Item{}, false, fmt.Errorf("create %s item %q: %w", it.Channel, it.ExternalID, err)
	}
	var (
		stored  Item
		created bool
	)
	err = s.write(ctx, func(q querier) error {
		var err error
		stored, created, err = s.insertItem(ctx, q, it, args, first)
		return err
	})
	if err != nil {
		return Item{}, false, s.fail(err, "create %s item %q", it.Channel, it.ExternalID)
	}
	return stored, created, nil
}

// prepareItem fills the defaults of a new item and its first event.
func (s *sqlStore) prepareItem(it Item, first Event) (Item, Event) {
	now := s.stamp()
	it.ID = 0
	it.CreatedAt = roundTime(it.CreatedAt)
	if it.CreatedAt.IsZero() {
		it.CreatedAt = now
	}
	if it.State == "" {
		it.State = acd.StateNew
	}
	it.SLADue = roundTime(it.SLADue)
	it.UpdatedAt = it.CreatedAt
	it.ClosedAt = roundTime(it.ClosedAt)
	it.Data = rawOrNil(it.Data)
	first.Data = rawOrNil(first.Data)
	first.At = roundTime(first.At)
	if first.At.IsZero() {
		first.At = it.CreatedAt
	}
	return it, first
}

func (s *sqlStore) insertItem(ctx context.Context, q querier, it Item, args []any, first Event) (Item, bool, error) {
	var inserted bool
	var err error
	it.ID, inserted, err = q.insert(ctx, `INSERT INTO items (channel, external_id, queue, state, priority, skills,
		subject, contact_id, helper_id, outcome, parent_id, data, created_at, sla_due, updated_at, closed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
		ON CONFLICT (channel, external_id) WHERE external_id <> '' DO NOTHING`, args...)
	if err == nil && !inserted {
		stored, err := scanItem(q.queryRow(ctx, `SELECT `+itemCols+` FROM items
			WHERE channel = $1 AND external_id = $2 AND external_id <> ''`, it.Channel, it.ExternalID))
		return stored, false, err
	}
	if err != nil {
		return Item{}, false, err
	}
	first.ItemID = it.ID
	if _, err := s.insertEvent(ctx, q, first); err != nil {
		return Item{}, false, err
	}
	return it, true, nil
}

// Item returns the item with id.
func (s *sqlStore) Item(ctx context.Context, id int64) (Item, error) {
	it, err := scanItem(s.read().queryRow(ctx, `SELECT `+itemCols+` FROM items WHERE id = $1`, id))
	return it, s.fail(err, "item %d", id)
}

// ItemByExternalID returns the item of channel ch with externalID.
func (s *sqlStore) ItemByExternalID(ctx context.Context, ch acd.Channel, externalID string) (Item, error) {
	if externalID == "" {
		return Item{}, fmt.Errorf("%s item by external id: empty id: %w", ch, ErrNotFound)
	}
	it, err := scanItem(s.read().queryRow(ctx, `SELECT `+itemCols+` FROM items
		WHERE channel = $1 AND external_id = $2 AND external_id <> ''`, ch, externalID))
	return it, s.fail(err, "%s item %q", ch, externalID)
}

// ListItems returns the items f selects in ID order.
func (s *sqlStore) ListItems(ctx context.Context, f ItemFilter) ([]Item, error) {
	var w where
	w.add("id > ", f.AfterID)
	if f.Channel != "" {
		w.add("channel = ", f.Channel)
	}
	if f.State != "" {
		w.add("state = ", f.State)
	}
	if f.Queue != "" {
		w.add("queue = ", f.Queue)
	}
	if f.HelperID != 0 {
		w.add("helper_id = ", f.HelperID)
	}
	if f.ContactID != 0 {
		w.add("contact_id = ", f.ContactID)
	}
	if f.Open {
		w.conds = append(w.conds, "closed_at IS NULL")
	}
	w.args = append(w.args, limit(f.Limit))
	query := `SELECT ` + itemCols + ` FROM items WHERE ` + strings.Join(w.conds, " AND ") +
		` ORDER BY id LIMIT $` + strconv.Itoa(len(w.args))
	its, err := collect(scanItem)(s.read().query(ctx, query, w.args...))
	return its, s.fail(err, "list items")
}

// where builds a WHERE clause with numbered placeholders.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, cond+"$"+strconv.Itoa(len(w.args)))
}

// UpdateItem applies u and appends u.Event (when its Type is set) in one
// commit.
func (s *sqlStore) UpdateItem(ctx context.Context, id int64, u ItemUpdate) (Item, error) {
	set, args, err := s.itemSet(u)
	if err != nil {
		return Item{}, fmt.Errorf("update item %d: %w", id, err)
	}
	args = append(args, id)
	query := `UPDATE items SET ` + strings.Join(set, ", ") + ` WHERE id = $` + strconv.Itoa(len(args)) +
		` RETURNING ` + itemCols
	var it Item
	err = s.write(ctx, func(q querier) error {
		var err error
		if it, err = scanItem(q.queryRow(ctx, query, args...)); err != nil {
			return err
		}
		if u.Event.Type == "" {
			return nil
		}
		e := u.Event
		e.ItemID, e.At = id, roundTime(e.At)
		if e.At.IsZero() {
			e.At = it.UpdatedAt
		}
		_, err = s.insertEvent(ctx, q, e)
		return err
	})
	if err != nil {
		return Item{}, s.fail(err, "update item %d", id)
	}
	return it, nil
}

// ApplyItemUpdates applies us in order in one write request; no row is
// read back (the router's events need only be stored).
func (s *sqlStore) ApplyItemUpdates(ctx context.Context, id int64, us []ItemUpdate) error {
	type step struct {
		query string
		args  []any
		at    time.Time // the update's time: a zero event time
		event Event
	}
	steps := make([]step, 0, len(us))
	for _, u := range us {
		set, args, err := s.itemSet(u)
		if err != nil {
			return fmt.Errorf("update item %d: %w", id, err)
		}
		args = append(args, id)
		steps = append(steps, step{query: `UPDATE items SET ` + strings.Join(set, ", ") + ` WHERE id = $` +
			strconv.Itoa(len(args)), args: args, at: args[0].(time.Time), event: u.Event})
	}
	err := s.write(ctx, func(q querier) error {
		for _, st := range steps {
			n, err := q.exec(ctx, st.query, st.args...)
			if err != nil {
				return err
			}
			if n == 0 {
				return ErrNotFound
			}
			if st.event.Type == "" {
				continue
			}
			e := st.event
			e.ItemID, e.At = id, roundTime(e.At)
			if e.At.IsZero() {
				e.At = st.at
			}
			if _, err := s.insertEvent(ctx, q, e); err != nil {
				return err
			}
		}
		return nil
	})
	return s.fail(err, "update item %d", id)
}

// itemSet turns u into SET clauses and their arguments. Closing an item
// stamps ClosedAt; moving it out of closed clears it.
func (s *sqlStore) itemSet(u ItemUpdate) ([]string, []any, error) {
	now := s.stamp()
	set := []string{"updated_at = $1"}
	args := []any{now}
	add := func(col string, v any) {
		args = append(args, v)
		set = append(set, col+" = $"+strconv.Itoa(len(args)))
	}
	if u.Queue != nil {
		add("queue", *u.Queue)
	}
	if u.State != nil {
		if !u.State.Valid() {
			return nil, nil, fmt.Errorf("state %q: %w", *u.State, ErrInvalid)
		}
		add("state", *u.State)
		if *u.State == acd.StateClosed {
			set = append(set, "closed_at = COALESCE(closed_at, $1)")
		} else {
			set = append(set, "closed_at = NULL")
		}
	}
	if u.Priority != nil {
		add("priority", *u.Priority)
	}
	if u.HelperID != nil {
		add("helper_id", nullID(*u.HelperID))
	}
	if u.Outcome != nil {
		add("outcome", *u.Outcome)
	}
	if u.Subject != nil {
		add("subject", *u.Subject)
	}
	if u.Data != nil {
		data, err := rawArg("data", u.Data)
		if err != nil {
			return nil, nil, err
		}
		add("data", data)
	}
	if _, err := rawArg("event data", u.Event.Data); err != nil {
		return nil, nil, err
	}
	return set, args, nil
}

// AppendEvent adds e to its item's history; a zero At is now.
func (s *sqlStore) AppendEvent(ctx context.Context, e Event) (Event, error) {
	if _, err := rawArg("event data", e.Data); err != nil {
		return Event{}, fmt.Errorf("append event to item %d: %w", e.ItemID, err)
	}
	e.At, e.Data = roundTime(e.At), rawOrNil(e.Data)
	if e.At.IsZero() {
		e.At = s.stamp()
	}
	err := s.write(ctx, func(q querier) error {
		var err error
		e, err = s.insertEvent(ctx, q, e)
		return err
	})
	if err != nil {
		return Event{}, s.fail(err, "append %s event to item %d", e.Type, e.ItemID)
	}
	return e, nil
}

func (s *sqlStore) insertEvent(ctx context.Context, q querier, e Event) (Event, error) {
	if e.Type == "" {
		return Event{}, fmt.Errorf("event without type: %w", ErrInvalid)
	}
	data, err := rawArg("event data", e.Data)
	if err != nil {
		return Event{}, err
	}
	e.ID, _, err = q.insert(ctx, `INSERT INTO events (item_id, at, type, helper_id, data)
		VALUES ($1, $2, $3, $4, $5)`,
		e.ItemID, e.At, e.Type, nullID(e.HelperID), data)
	return e, err
}

// Events returns the history of itemID, oldest first.
func (s *sqlStore) Events(ctx context.Context, itemID int64) ([]Event, error) {
	es, err := collect(scanEvent)(s.read().query(ctx, `SELECT id, item_id, at, type,
		COALESCE(helper_id, 0), data FROM events WHERE item_id = $1 ORDER BY id`, itemID))
	return es, s.fail(err, "events of item %d", itemID)
}

func scanEvent(r row) (Event, error) {
	var e Event
	err := r.Scan(&e.ID, &e.ItemID, &e.At, &e.Type, &e.HelperID, &e.Data)
	return e, err
}

const messageCols = `id, item_id, direction, external_id, from_addr, to_addr, subject, text, html,
	headers, COALESCE(helper_id, 0), COALESCE(template_id, 0), created_at`

func scanMessage(r row) (Message, error) {
	var m Message
	err := r.Scan(&m.ID, &m.ItemID, &m.Direction, &m.ExternalID, &m.From, &m.To, &m.Subject,
		&m.Text, &m.HTML, &m.Headers, &m.HelperID, &m.TemplateID, &m.CreatedAt)
	return m, err
}

// AddMessage stores m, or returns the message already stored under the
// same external id in the channel of m's item.
func (s *sqlStore) AddMessage(ctx context.Context, m Message) (Message, bool, error) {
	headers, err := rawArg("headers", m.Headers)
	if err == nil && m.Direction != "in" && m.Direction != "out" {
		err = fmt.Errorf("direction %q: %w", m.Direction, ErrInvalid)
	}
	if err != nil {
		return Message{}, false, fmt.Errorf("add message to item %d: %w", m.ItemID, err)
	}
	m.ID, m.Headers = 0, rawOrNil(m.Headers)
	m.CreatedAt = roundTime(m.CreatedAt)
	if m.CreatedAt.IsZero() {
		m.CreatedAt = s.stamp()
	}
	var (
		stored  Message
		created bool
	)
	err = s.write(ctx, func(q querier) error {
		var err error
		stored, created, err = s.insertMessage(ctx, q, m, headers)
		return err
	})
	if err != nil {
		return Message{}, false, s.fail(err, "add message %q to item %d", m.ExternalID, m.ItemID)
	}
	return stored, created, nil
}

func (s *sqlStore) insertMessage(ctx context.Context, q querier, m Message, headers any) (Message, bool, error) {
	var ch acd.Channel
	if err := q.queryRow(ctx, `SELECT channel FROM items WHERE id = $1`, m.ItemID).Scan(&ch); err != nil {
		return Message{}, false, err
	}
	return s.insertMessageIn(ctx, q, m, ch, headers)
}

// insertMessageIn is insertMessage for a message whose item's channel is
// known to be ch.
func (s *sqlStore) insertMessageIn(ctx context.Context, q querier, m Message, ch acd.Channel, headers any) (Message, bool, error) {
	var inserted bool
	var err error
	m.ID, inserted, err = q.insert(ctx, `INSERT INTO messages (item_id, channel, direction, external_id, from_addr,
		to_addr, subject, text, html, headers, helper_id, template_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT (channel, external_id) WHERE external_id <> '' DO NOTHING`,
		m.ItemID, ch, m.Direction, m.ExternalID, m.From, m.To, m.Subject, m.Text, m.HTML, headers,
		nullID(m.HelperID), nullID(m.TemplateID), m.CreatedAt)
	if err == nil && !inserted {
		stored, err := scanMessage(q.queryRow(ctx, `SELECT `+messageCols+` FROM messages
			WHERE channel = $1 AND external_id = $2 AND external_id <> ''`, ch, m.ExternalID))
		return stored, false, err
	}
	return m, err == nil, err
}

// Messages returns the messages of itemID in ID order.
func (s *sqlStore) Messages(ctx context.Context, itemID int64) ([]Message, error) {
	ms, err := collect(scanMessage)(s.read().query(ctx, `SELECT `+messageCols+` FROM messages
		WHERE item_id = $1 ORDER BY id`, itemID))
	return ms, s.fail(err, "messages of item %d", itemID)
}

// ItemByMessageExternalID returns the item holding the first message stored
// with externalID, in any channel.
//
// Lookups by external id repeat the partial indexes' condition
// (that the id is not empty): SQLite uses a partial index only when the query
// implies its WHERE clause, and scans the table otherwise.
func (s *sqlStore) ItemByMessageExternalID(ctx context.Context, externalID string) (Item, error) {
	if externalID == "" {
		return Item{}, fmt.Errorf("item by message id: empty id: %w", ErrNotFound)
	}
	it, err := scanItem(s.read().queryRow(ctx, `SELECT `+itemCols+` FROM items WHERE id =
		(SELECT item_id FROM messages WHERE external_id = $1 AND external_id <> '' ORDER BY id LIMIT 1)`, externalID))
	return it, s.fail(err, "item of message %q", externalID)
}

// rawOrNil keeps an empty RawMessage nil so that stored and read back
// values compare equal.
func rawOrNil(m json.RawMessage) json.RawMessage {
	if len(m) == 0 {
		return nil
	}
	return m
}
