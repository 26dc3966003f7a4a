package storetest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
)

// newItem creates an item on ch with external id ext and returns it.
func newItem(t *testing.T, s store.Store, it store.Item) store.Item {
	t.Helper()
	got, created, err := s.CreateItem(t.Context(), it, store.Event{Type: "enqueued"})
	if err != nil || !created {
		t.Fatalf("create %s item %q: got created %v, error %v; want created", it.Channel, it.ExternalID, created, err)
	}
	return got
}

func testItems(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	u := newUser(t, s, "ded")
	c := must[store.Contact](t, "contact")(s.ResolveContact(ctx, store.Identity{Kind: "email", Value: "a@b.c"}, "A"))
	in := store.Item{
		Channel: acd.Email, ExternalID: "<m1@example.org>", Queue: "letters", State: acd.StateQueued,
		Priority: 5, Skills: []string{"ru"}, Subject: "Письмо", ContactID: c.ID, HelperID: u.ID,
		Data: json.RawMessage(`{"from":"a@b.c"}`), CreatedAt: at(0), SLADue: at(30),
	}
	first := store.Event{Type: "enqueued", HelperID: u.ID, Data: json.RawMessage(`{"queue":"letters"}`)}
	it, created, err := s.CreateItem(ctx, in, first)
	if err != nil || !created || it.ID == 0 {
		t.Fatalf("create: got %+v, created %v, error %v", it, created, err)
	}
	want := in
	want.ID, want.CreatedAt, want.SLADue, want.UpdatedAt = it.ID, stored(at(0)), stored(at(30)), stored(at(0))
	diff(t, "created", it, want)
	diff(t, "get", must[store.Item](t, "get")(s.Item(ctx, it.ID)), want)
	diff(t, "by external id", must[store.Item](t, "by external id")(s.ItemByExternalID(ctx, acd.Email, in.ExternalID)), want)
	events := must[[]store.Event](t, "events")(s.Events(ctx, it.ID))
	if len(events) != 1 {
		t.Fatalf("events: got %d, want the first event only", len(events))
	}
	wantFirst := first
	wantFirst.ID, wantFirst.ItemID, wantFirst.At = events[0].ID, it.ID, stored(at(0))
	diff(t, "first event", events[0], wantFirst)

	parent := newItem(t, s, store.Item{Channel: acd.Callback, ParentID: it.ID})
	if parent.State != acd.StateNew {
		t.Errorf("default state: got %q, want %q", parent.State, acd.StateNew)
	}
	if parent.CreatedAt.IsZero() || !parent.UpdatedAt.Equal(parent.CreatedAt) {
		t.Errorf("default times: got created %v, updated %v; want now, twice", parent.CreatedAt, parent.UpdatedAt)
	}
	newItem(t, s, store.Item{Channel: acd.Form})
	newItem(t, s, store.Item{Channel: acd.Form}) // an empty external id is never a duplicate
	newItem(t, s, store.Item{Channel: acd.Chat, ExternalID: in.ExternalID})

	t.Run("errors", func(t *testing.T) { itemErrors(t, s, u.ID) })
}

func itemErrors(t *testing.T, s store.Store, helperID int64) {
	ctx := t.Context()
	tests := []struct {
		name  string
		item  store.Item
		event store.Event
		want  error
	}{
		{"unknown channel", store.Item{Channel: "fax"}, store.Event{Type: "x"}, store.ErrInvalid},
		{"unknown state", store.Item{Channel: acd.Email, State: "lost"}, store.Event{Type: "x"}, store.ErrInvalid},
		{"bad data", store.Item{Channel: acd.Email, Data: json.RawMessage(`{"a":`)}, store.Event{Type: "x"}, store.ErrInvalid},
		{"bad event data", store.Item{Channel: acd.Email}, store.Event{Type: "x", Data: json.RawMessage(`[`)}, store.ErrInvalid},
		{"event without type", store.Item{Channel: acd.Email}, store.Event{}, store.ErrInvalid},
		{"unknown contact", store.Item{Channel: acd.Email, ContactID: 999}, store.Event{Type: "x"}, store.ErrNotFound},
		{"unknown helper", store.Item{Channel: acd.Email, HelperID: helperID + 999}, store.Event{Type: "x"}, store.ErrNotFound},
		{"unknown parent", store.Item{Channel: acd.Email, ParentID: 999}, store.Event{Type: "x"}, store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.CreateItem(ctx, tt.item, tt.event)
			wantErr(t, "create", err, tt.want)
		})
	}
	_, err := s.Item(ctx, 999)
	wantErr(t, "get unknown", err, store.ErrNotFound)
	_, err = s.ItemByExternalID(ctx, acd.Email, "<none@x>")
	wantErr(t, "unknown external id", err, store.ErrNotFound)
	_, err = s.ItemByExternalID(ctx, acd.Email, "")
	wantErr(t, "empty external id", err, store.ErrNotFound)
	before := must[[]store.Item](t, "list")(s.ListItems(ctx, store.ItemFilter{Limit: 1000}))
	if len(before) != 5 {
		t.Errorf("items after failed creates: got %d, want the 5 created before", len(before))
	}
}

// testItemsIdempotent creates one external id from 32 goroutines at once.
func testItemsIdempotent(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	const n = 32
	type result struct {
		item    store.Item
		created bool
		err     error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			it := store.Item{Channel: acd.Voice, ExternalID: "call-1@10.0.0.1", Subject: fmt.Sprint("writer ", i)}
			r := &results[i]
			r.item, r.created, r.err = s.CreateItem(ctx, it, store.Event{Type: "arrived"})
		})
	}
	wg.Wait()
	created := 0
	for i, r := range results {
		wantErr(t, fmt.Sprint("writer ", i), r.err, nil)
		if r.created {
			created++
		}
		if r.item.ID != results[0].item.ID {
			t.Errorf("writer %d: got item %d, want %d like writer 0", i, r.item.ID, results[0].item.ID)
		}
	}
	if created != 1 {
		t.Errorf("created: got %d writers creating, want 1", created)
	}
	items := must[[]store.Item](t, "list")(s.ListItems(ctx, store.ItemFilter{}))
	if len(items) != 1 {
		t.Fatalf("items: got %d, want 1", len(items))
	}
	events := must[[]store.Event](t, "events")(s.Events(ctx, items[0].ID))
	if len(events) != 1 {
		t.Errorf("events: got %d, want the one first event", len(events))
	}
}

func testItemFilters(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	h := newUser(t, s, "helper")
	c := must[store.Contact](t, "contact")(s.ResolveContact(ctx, store.Identity{Kind: "phone", Value: "1"}, ""))
	var all []store.Item
	for i := range 12 {
		it := store.Item{Channel: acd.Email, Queue: "letters", State: acd.StateQueued}
		switch i % 3 {
		case 1:
			it.Channel, it.Queue, it.HelperID, it.State = acd.Voice, "calls", h.ID, acd.StateActive
		case 2:
			it.Channel, it.ContactID, it.State = acd.Telegram, c.ID, acd.StateClosed
			it.ClosedAt = at(i)
		}
		all = append(all, newItem(t, s, it))
	}
	pick := func(idx ...int) []store.Item {
		var out []store.Item
		for _, i := range idx {
			out = append(out, all[i])
		}
		return out
	}
	tests := []struct {
		name string
		f    store.ItemFilter
		want []store.Item
	}{
		{"all", store.ItemFilter{}, all},
		{"channel", store.ItemFilter{Channel: acd.Voice}, pick(1, 4, 7, 10)},
		{"state", store.ItemFilter{State: acd.StateClosed}, pick(2, 5, 8, 11)},
		{"queue", store.ItemFilter{Queue: "letters"}, pick(0, 2, 3, 5, 6, 8, 9, 11)},
		{"helper", store.ItemFilter{HelperID: h.ID}, pick(1, 4, 7, 10)},
		{"contact", store.ItemFilter{ContactID: c.ID}, pick(2, 5, 8, 11)},
		{"open", store.ItemFilter{Open: true, Queue: "letters"}, pick(0, 3, 6, 9)},
		{"combined", store.ItemFilter{Channel: acd.Email, State: acd.StateQueued, Limit: 2}, pick(0, 3)},
		{"page", store.ItemFilter{AfterID: all[3].ID, Limit: 3}, pick(4, 5, 6)},
		{"last page", store.ItemFilter{AfterID: all[10].ID, Limit: 3}, pick(11)},
		{"past the end", store.ItemFilter{AfterID: all[11].ID}, nil},
		{"no match", store.ItemFilter{Channel: acd.Chat}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := must[[]store.Item](t, "list")(s.ListItems(ctx, tt.f))
			diff(t, "items", ids(got), ids(tt.want))
		})
	}
	t.Run("limits", func(t *testing.T) { itemLimits(t, s) })
}

// itemLimits checks the default page of 100 and the cap of 1000.
func itemLimits(t *testing.T, s store.Store) {
	ctx := t.Context()
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			for range 125 {
				if _, _, err := s.CreateItem(ctx, store.Item{Channel: acd.Form}, store.Event{Type: "enqueued"}); err != nil {
					errs[w] = err
				}
			}
		})
	}
	wg.Wait()
	for w, err := range errs {
		wantErr(t, fmt.Sprint("writer ", w), err, nil)
	}
	for _, tt := range []struct {
		limit, want int
	}{{0, 100}, {-1, 100}, {5000, 1000}, {1000, 1000}} {
		got := must[[]store.Item](t, "list")(s.ListItems(ctx, store.ItemFilter{Limit: tt.limit}))
		if len(got) != tt.want {
			t.Errorf("limit %d: got %d items, want %d", tt.limit, len(got), tt.want)
		}
	}
}

func ids(items []store.Item) []int64 {
	var out []int64
	for _, it := range items {
		out = append(out, it.ID)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func testItemUpdate(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	h := newUser(t, s, "helper")
	it := newItem(t, s, store.Item{Channel: acd.Email, Queue: "letters", State: acd.StateQueued,
		Subject: "old", Data: json.RawMessage(`{"a":1}`), CreatedAt: at(0)})

	got := must[store.Item](t, "offer")(s.UpdateItem(ctx, it.ID, store.ItemUpdate{
		State: ptr(acd.StateOffered), HelperID: ptr(h.ID),
		Event: store.Event{Type: "offered", HelperID: h.ID, At: at(1)},
	}))
	want := it
	want.State, want.HelperID, want.UpdatedAt = acd.StateOffered, h.ID, got.UpdatedAt
	diff(t, "offered", got, want)
	if !got.UpdatedAt.After(it.CreatedAt) {
		t.Errorf("updated at: got %v, want after the creation %v", got.UpdatedAt, it.CreatedAt)
	}

	got = must[store.Item](t, "close")(s.UpdateItem(ctx, it.ID, store.ItemUpdate{
		Queue: ptr("vip"), State: ptr(acd.StateClosed), Priority: ptr(9), HelperID: ptr(int64(0)),
		Outcome: ptr(acd.OutcomeReplied), Subject: ptr("new"), Data: json.RawMessage(`{"b":2}`),
		Event: store.Event{Type: "closed"},
	}))
	want.Queue, want.State, want.Priority, want.HelperID = "vip", acd.StateClosed, 9, 0
	want.Outcome, want.Subject, want.Data = acd.OutcomeReplied, "new", json.RawMessage(`{"b":2}`)
	want.UpdatedAt, want.ClosedAt = got.UpdatedAt, got.UpdatedAt
	diff(t, "closed", got, want)
	diff(t, "read back", must[store.Item](t, "get")(s.Item(ctx, it.ID)), want)
	diff(t, "created at never changes", got.CreatedAt, stored(at(0)))

	got = must[store.Item](t, "reopen")(s.UpdateItem(ctx, it.ID, store.ItemUpdate{State: ptr(acd.StateQueued)}))
	if !got.ClosedAt.IsZero() {
		t.Errorf("reopened: got ClosedAt %v, want zero", got.ClosedAt)
	}
	types := []string{}
	for _, e := range must[[]store.Event](t, "events")(s.Events(ctx, it.ID)) {
		types = append(types, e.Type)
	}
	diff(t, "event types", types, []string{"enqueued", "offered", "closed"})

	_, err := s.UpdateItem(ctx, 999, store.ItemUpdate{Event: store.Event{Type: "x"}})
	wantErr(t, "update unknown", err, store.ErrNotFound)
	_, err = s.UpdateItem(ctx, it.ID, store.ItemUpdate{State: ptr(acd.State("lost"))})
	wantErr(t, "bad state", err, store.ErrInvalid)
	_, err = s.UpdateItem(ctx, it.ID, store.ItemUpdate{HelperID: ptr(int64(999))})
	wantErr(t, "unknown helper", err, store.ErrNotFound)
	_, err = s.UpdateItem(ctx, it.ID, store.ItemUpdate{Data: json.RawMessage(`nope`)})
	wantErr(t, "bad data", err, store.ErrInvalid)
}

func testApplyItemUpdates(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	h := newUser(t, s, "helper")
	it := newItem(t, s, store.Item{Channel: acd.Voice, ExternalID: "batch", Queue: "calls", State: acd.StateQueued,
		CreatedAt: at(0)})

	// A flush's events of one item: offered, then closed, with the last
	// event's time left to the store.
	if err := s.ApplyItemUpdates(ctx, it.ID, []store.ItemUpdate{
		{State: ptr(acd.StateOffered), HelperID: ptr(h.ID), Event: store.Event{Type: "offered", HelperID: h.ID, At: at(1)}},
		{State: ptr(acd.StateClosed), HelperID: ptr(int64(0)), Outcome: ptr(acd.OutcomeAbandoned), Queue: ptr("missed"),
			Event: store.Event{Type: "closed", Data: json.RawMessage(`{"seq":2}`)}},
	}); err != nil {
		t.Fatalf("apply: %v", err)
	}
	got := must[store.Item](t, "get")(s.Item(ctx, it.ID))
	want := it
	want.State, want.Outcome, want.Queue, want.UpdatedAt, want.ClosedAt = acd.StateClosed, acd.OutcomeAbandoned, "missed",
		got.UpdatedAt, got.UpdatedAt
	diff(t, "applied", got, want)
	events := must[[]store.Event](t, "events")(s.Events(ctx, it.ID))
	var types []string
	for _, e := range events {
		types = append(types, e.Type)
	}
	diff(t, "event types", types, []string{"enqueued", "offered", "closed"})
	if len(events) == 3 {
		diff(t, "given event time", events[1].At, stored(at(1)))
		diff(t, "offered to", events[1].HelperID, h.ID)
		diff(t, "zero event time is the update's", events[2].At, got.UpdatedAt)
		diff(t, "event data", string(events[2].Data), `{"seq":2}`)
	}

	// One bad update stores none of the batch.
	err := s.ApplyItemUpdates(ctx, it.ID, []store.ItemUpdate{
		{State: ptr(acd.StateQueued), Event: store.Event{Type: "reopened"}},
		{HelperID: ptr(int64(999)), Event: store.Event{Type: "offered"}},
	})
	wantErr(t, "unknown helper", err, store.ErrNotFound)
	diff(t, "after a failed batch", must[store.Item](t, "get")(s.Item(ctx, it.ID)), got)
	diff(t, "history after a failed batch", len(must[[]store.Event](t, "events")(s.Events(ctx, it.ID))), 3)

	err = s.ApplyItemUpdates(ctx, 999, []store.ItemUpdate{{Event: store.Event{Type: "x"}}})
	wantErr(t, "unknown item", err, store.ErrNotFound)
	err = s.ApplyItemUpdates(ctx, it.ID, []store.ItemUpdate{{State: ptr(acd.State("lost"))}})
	wantErr(t, "bad state", err, store.ErrInvalid)
	err = s.ApplyItemUpdates(ctx, it.ID, []store.ItemUpdate{{Event: store.Event{Type: "x", Data: json.RawMessage(`nope`)}}})
	wantErr(t, "bad event data", err, store.ErrInvalid)
	if err := s.ApplyItemUpdates(ctx, it.ID, nil); err != nil {
		t.Errorf("no updates: %v", err)
	}
}

func testEvents(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	it := newItem(t, s, store.Item{Channel: acd.Voice, ExternalID: "c1"})
	other := newItem(t, s, store.Item{Channel: acd.Voice, ExternalID: "c2"})
	// Event times go backwards on purpose: history is in append order.
	want := []string{"enqueued"}
	for i, typ := range []string{"offered", "rona", "offered", "accepted", "ended"} {
		e := must[store.Event](t, "append "+typ)(s.AppendEvent(ctx, store.Event{ItemID: it.ID, Type: typ, At: at(50 - i)}))
		if e.ID == 0 || e.ItemID != it.ID || !e.At.Equal(stored(at(50-i))) {
			t.Errorf("append %s: got %+v", typ, e)
		}
		must[store.Event](t, "append to other")(s.AppendEvent(ctx, store.Event{ItemID: other.ID, Type: "noise"}))
		want = append(want, typ)
	}
	var got []string
	var lastID int64
	for _, e := range must[[]store.Event](t, "events")(s.Events(ctx, it.ID)) {
		got = append(got, e.Type)
		if e.ID <= lastID {
			t.Errorf("event %d after %d: want increasing ids", e.ID, lastID)
		}
		lastID = e.ID
	}
	diff(t, "history", got, want)

	_, err := s.AppendEvent(ctx, store.Event{ItemID: 999, Type: "x"})
	wantErr(t, "unknown item", err, store.ErrNotFound)
	_, err = s.AppendEvent(ctx, store.Event{ItemID: it.ID})
	wantErr(t, "no type", err, store.ErrInvalid)
	none := must[[]store.Event](t, "events of unknown")(s.Events(ctx, 999))
	if len(none) != 0 {
		t.Errorf("events of unknown item: got %d, want none", len(none))
	}
}

func testMessages(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	h := newUser(t, s, "helper")
	tpl := must[store.Template](t, "template")(s.PutTemplate(ctx, store.Template{Name: "thanks", Lang: "ru"}))
	letter := newItem(t, s, store.Item{Channel: acd.Email, ExternalID: "<m1@x>"})
	chat := newItem(t, s, store.Item{Channel: acd.Chat})

	in := store.Message{ItemID: letter.ID, Direction: "in", ExternalID: "<m1@x>", From: "a@x", To: "ded@moroz",
		Subject: "Привет", Text: "Хочу санки", HTML: "<p>Хочу санки</p>", Headers: json.RawMessage(`{"X-A":["1"]}`),
		CreatedAt: at(0)}
	m, created, err := s.AddMessage(ctx, in)
	if err != nil || !created || m.ID == 0 {
		t.Fatalf("add: got %+v, created %v, error %v", m, created, err)
	}
	want := in
	want.ID, want.CreatedAt = m.ID, stored(at(0))
	diff(t, "added", m, want)

	dup := in
	dup.Text = "retried delivery"
	again, created, err := s.AddMessage(ctx, dup)
	if err != nil || created {
		t.Fatalf("add again: got created %v, error %v; want the stored one", created, err)
	}
	diff(t, "add again", again, want)
	reply := must[store.Message](t, "reply")(addMessage(t, s, store.Message{ItemID: letter.ID, Direction: "out",
		ExternalID: "<r1@moroz>", HelperID: h.ID, TemplateID: tpl.ID, Text: "Будут санки"}))
	must[store.Message](t, "same id in another channel")(addMessage(t, s,
		store.Message{ItemID: chat.ID, Direction: "in", ExternalID: "<m1@x>"}))
	must[store.Message](t, "no external id")(addMessage(t, s, store.Message{ItemID: chat.ID, Direction: "in"}))
	must[store.Message](t, "no external id again")(addMessage(t, s, store.Message{ItemID: chat.ID, Direction: "in"}))

	diff(t, "messages", must[[]store.Message](t, "messages")(s.Messages(ctx, letter.ID)), []store.Message{want, reply})
	if n := len(must[[]store.Message](t, "chat messages")(s.Messages(ctx, chat.ID))); n != 3 {
		t.Errorf("chat messages: got %d, want 3", n)
	}
	got := must[store.Item](t, "thread")(s.ItemByMessageExternalID(ctx, "<r1@moroz>"))
	diff(t, "thread of reply", got.ID, letter.ID)
	got = must[store.Item](t, "thread")(s.ItemByMessageExternalID(ctx, "<m1@x>"))
	diff(t, "thread of first holder", got.ID, letter.ID)

	_, err = s.ItemByMessageExternalID(ctx, "<unknown@x>")
	wantErr(t, "unknown thread", err, store.ErrNotFound)
	_, _, err = s.AddMessage(ctx, store.Message{ItemID: 999, Direction: "in"})
	wantErr(t, "unknown item", err, store.ErrNotFound)
	_, _, err = s.AddMessage(ctx, store.Message{ItemID: letter.ID, Direction: "sideways"})
	wantErr(t, "bad direction", err, store.ErrInvalid)
	_, _, err = s.AddMessage(ctx, store.Message{ItemID: letter.ID, Direction: "in", Headers: json.RawMessage(`{`)})
	wantErr(t, "bad headers", err, store.ErrInvalid)
}

func addMessage(t *testing.T, s store.Store, m store.Message) (store.Message, error) {
	got, created, err := s.AddMessage(t.Context(), m)
	if err == nil && !created {
		err = fmt.Errorf("message %q not created", m.ExternalID)
	}
	return got, err
}

func testTimes(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	tests := []struct {
		name string
		in   time.Time
	}{
		{"zero", time.Time{}},
		{"nanoseconds in a zone", at(5)},
		{"UTC", time.Date(2026, 1, 1, 0, 0, 0, 1000, time.UTC)},
		{"before 1970", time.Date(1969, 7, 20, 20, 17, 40, 999999999, time.UTC)},
		{"far future", time.Date(2999, 12, 31, 23, 59, 59, 999999000, time.UTC)},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := must[store.Call](t, "put")(s.PutCall(ctx, store.Call{CallID: fmt.Sprint("call-", i), ArrivedAt: tt.in}))
			got := must[store.Call](t, "get")(s.Call(ctx, c.CallID)).ArrivedAt
			want := time.Time{}
			if !tt.in.IsZero() {
				want = stored(tt.in)
			}
			if !got.Equal(want) || got.Location() != time.UTC {
				t.Errorf("got %v (%v), want %v in UTC", got, got.Location(), want)
			}
			if tt.in.IsZero() && !got.IsZero() {
				t.Errorf("zero time: got %v, want zero", got)
			}
		})
	}
}

func testJSON(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	tests := []struct {
		name string
		data json.RawMessage
	}{
		{"nil", nil},
		{"empty object", json.RawMessage(`{}`)},
		{"nested", json.RawMessage(`{"b":[1,2,{"c":null}],"a":"Дзед Мароз","n":1.5e3}`)},
		{"spacing kept", json.RawMessage(`{ "z" : 1,  "a" : true }`)},
		{"escapes", json.RawMessage(`{"s":"line\nnext \"q\" \u2603"}`)},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it := newItem(t, s, store.Item{Channel: acd.Form, ExternalID: fmt.Sprint("f", i), Data: tt.data})
			e := must[store.Event](t, "event")(s.AppendEvent(ctx, store.Event{ItemID: it.ID, Type: "note", Data: tt.data}))
			got := must[store.Item](t, "get")(s.Item(ctx, it.ID))
			diff(t, "item data", string(got.Data), string(tt.data))
			if (got.Data == nil) != (tt.data == nil) {
				t.Errorf("item data nil: got %v, want %v", got.Data == nil, tt.data == nil)
			}
			events := must[[]store.Event](t, "events")(s.Events(ctx, it.ID))
			diff(t, "event data", string(events[len(events)-1].Data), string(tt.data))
			diff(t, "appended event id", events[len(events)-1].ID, e.ID)
		})
	}
}
