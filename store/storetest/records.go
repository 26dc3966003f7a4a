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

func testCalls(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	h := newUser(t, s, "helper")
	it := newItem(t, s, store.Item{Channel: acd.Voice, ExternalID: "a@pbx"})
	answered := store.Call{
		CallID: "a@pbx", ItemID: it.ID, Direction: "in", From: "375291234567", To: "100", Queue: "calls",
		HelperID: h.ID, Outcome: acd.OutcomeAnswered, ArrivedAt: at(0), AnsweredAt: at(0).Add(time.Second),
		EnqueuedAt: at(1), ConnectedAt: at(2), EndedAt: at(9),
	}
	c := must[store.Call](t, "put")(s.PutCall(ctx, store.Call{CallID: "a@pbx", Direction: "in", ArrivedAt: at(0)}))
	if c.ID == 0 {
		t.Fatal("put: got ID 0")
	}
	answered.ID = c.ID
	got := must[store.Call](t, "replace")(s.PutCall(ctx, answered))
	want := answered
	for _, tm := range []*time.Time{&want.ArrivedAt, &want.AnsweredAt, &want.EnqueuedAt, &want.ConnectedAt, &want.EndedAt} {
		*tm = stored(*tm)
	}
	diff(t, "replaced", got, want)
	diff(t, "get", must[store.Call](t, "get")(s.Call(ctx, "a@pbx")), want)

	missed := must[store.Call](t, "put missed")(s.PutCall(ctx, store.Call{CallID: "b@pbx", Direction: "in",
		Outcome: acd.OutcomeAbandoned, Reason: "abandoned", ArrivedAt: at(20), EndedAt: at(21)}))
	old := must[store.Call](t, "put old")(s.PutCall(ctx, store.Call{CallID: "c@pbx", ArrivedAt: at(0).Add(-time.Hour)}))
	tests := []struct {
		name string
		f    store.CallFilter
		want []int64
	}{
		{"all, newest first", store.CallFilter{}, []int64{old.ID, missed.ID, c.ID}},
		{"since", store.CallFilter{Since: at(0)}, []int64{missed.ID, c.ID}},
		{"missed", store.CallFilter{Missed: true}, []int64{old.ID, missed.ID}},
		{"missed since", store.CallFilter{Missed: true, Since: at(0)}, []int64{missed.ID}},
		{"limit", store.CallFilter{Limit: 1}, []int64{old.ID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []int64
			for _, c := range must[[]store.Call](t, "list")(s.ListCalls(ctx, tt.f)) {
				got = append(got, c.ID)
			}
			diff(t, "calls", got, tt.want)
		})
	}
	_, err := s.Call(ctx, "none")
	wantErr(t, "unknown", err, store.ErrNotFound)
	_, err = s.PutCall(ctx, store.Call{})
	wantErr(t, "no call id", err, store.ErrInvalid)
	_, err = s.PutCall(ctx, store.Call{CallID: "d", ItemID: 999})
	wantErr(t, "unknown item", err, store.ErrNotFound)
	t.Run("filed with an item", func(t *testing.T) { testCallFiled(t, s) })
}

// testCallFiled checks a call record put in the commit of another item
// (FileItem with Arrival.Call): a missed call's final record and its
// callback.
func testCallFiled(t *testing.T, s store.Store) {
	ctx := t.Context()
	voice := newItem(t, s, store.Item{Channel: acd.Voice, ExternalID: "e@pbx"})
	rec := store.Call{CallID: "e@pbx", ItemID: voice.ID, Direction: "in", From: "375290000001", Queue: "calls",
		Outcome: acd.OutcomeAbandoned, Reason: "abandoned", ArrivedAt: at(30).Add(time.Nanosecond),
		EnqueuedAt: at(31), EndedAt: at(32)}
	callback := store.Arrival{
		Item:    store.Item{Channel: acd.Callback, ExternalID: "callback:e@pbx", ParentID: voice.ID},
		First:   store.Event{Type: "missed"},
		Contact: store.Identity{Kind: "phone", Value: "375290000001"},
		Call:    &rec,
	}
	f := must[store.Filed](t, "file")(s.FileItem(ctx, callback))
	if !f.Created || f.Call.ID == 0 || f.Item.ContactID == 0 {
		t.Fatalf("filed: got created %v, call id %d, contact %d; want a new item, its contact and a call id",
			f.Created, f.Call.ID, f.Item.ContactID)
	}
	want := rec
	want.ID = f.Call.ID
	for _, tm := range []*time.Time{&want.ArrivedAt, &want.EnqueuedAt, &want.EndedAt} {
		*tm = stored(*tm)
	}
	diff(t, "filed record", f.Call, want)
	diff(t, "stored record", must[store.Call](t, "get")(s.Call(ctx, "e@pbx")), want)

	again := rec
	again.Reason = "callback"
	callback.Call = &again
	f = must[store.Filed](t, "file again")(s.FileItem(ctx, callback))
	if f.Created {
		t.Error("filed again: got a new item, want the stored one")
	}
	want.Reason = "callback"
	diff(t, "record filed again", must[store.Call](t, "get")(s.Call(ctx, "e@pbx")), want)

	for _, tt := range []struct {
		name string
		c    store.Call
		want error
	}{
		{"no call id", store.Call{Direction: "in"}, store.ErrInvalid},
		{"unknown item", store.Call{CallID: "f@pbx", ItemID: 999}, store.ErrNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ext := "callback:" + tt.name
			_, err := s.FileItem(ctx, store.Arrival{Item: store.Item{Channel: acd.Callback, ExternalID: ext},
				First: store.Event{Type: "missed"}, Call: &tt.c})
			wantErr(t, "file", err, tt.want)
			_, err = s.ItemByExternalID(ctx, acd.Callback, ext)
			wantErr(t, "item of the failed commit", err, store.ErrNotFound)
		})
	}
}

func testVoicemails(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	it := newItem(t, s, store.Item{Channel: acd.Voicemail})
	var made []store.Voicemail
	for i := range 3 {
		v := store.Voicemail{ItemID: it.ID, CallID: fmt.Sprint("call-", i), From: "375290000000",
			Path: fmt.Sprintf("voicemail/%d.wav", i), Duration: 12*time.Second + 345*time.Millisecond, CreatedAt: at(i)}
		got := must[store.Voicemail](t, "create")(s.CreateVoicemail(ctx, v))
		v.ID, v.CreatedAt = got.ID, stored(at(i))
		diff(t, "created", got, v)
		made = append(made, v)
	}
	diff(t, "get", must[store.Voicemail](t, "get")(s.Voicemail(ctx, made[1].ID)), made[1])
	diff(t, "of the item", must[store.Voicemail](t, "of item")(s.VoicemailOfItem(ctx, it.ID)), made[0])
	_, err := s.VoicemailOfItem(ctx, it.ID+1000)
	wantErr(t, "of an item without one", err, store.ErrNotFound)
	diff(t, "list newest first", must[[]store.Voicemail](t, "list")(s.ListVoicemails(ctx, 2)),
		[]store.Voicemail{made[2], made[1]})
	_, err = s.Voicemail(ctx, 999)
	wantErr(t, "unknown", err, store.ErrNotFound)
	_, err = s.CreateVoicemail(ctx, store.Voicemail{CallID: "x"})
	wantErr(t, "no path", err, store.ErrInvalid)
}

func testTemplates(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	tpl := must[store.Template](t, "create")(s.PutTemplate(ctx, store.Template{
		Name: "thanks", Lang: "ru", Subject: "Спасибо, {{.Name}}", Body: "Дзякуй!",
	}))
	if tpl.ID == 0 || tpl.CreatedAt.IsZero() || !tpl.UpdatedAt.Equal(tpl.CreatedAt) {
		t.Fatalf("create: got %+v, want ID and equal CreatedAt, UpdatedAt", tpl)
	}
	be := must[store.Template](t, "create be")(s.PutTemplate(ctx, store.Template{Name: "thanks", Lang: "be"}))
	_, err := s.PutTemplate(ctx, store.Template{Name: "thanks", Lang: "ru"})
	wantErr(t, "same name and language", err, store.ErrConflict)

	wantErr(t, "count use", s.CountTemplateUse(ctx, tpl.ID), nil)
	wantErr(t, "count use", s.CountTemplateUse(ctx, tpl.ID), nil)
	tpl.Body, tpl.Queue = "Спасибо!", "letters"
	got := must[store.Template](t, "replace")(s.PutTemplate(ctx, tpl))
	want := tpl
	want.Uses, want.UpdatedAt = 2, got.UpdatedAt
	diff(t, "replaced", got, want)
	if got.UpdatedAt.Before(tpl.CreatedAt) {
		t.Errorf("updated at %v before created at %v", got.UpdatedAt, tpl.CreatedAt)
	}
	diff(t, "get", must[store.Template](t, "get")(s.Template(ctx, tpl.ID)), want)
	diff(t, "list", must[[]store.Template](t, "list")(s.ListTemplates(ctx)), []store.Template{want, be})

	wantErr(t, "delete", s.DeleteTemplate(ctx, be.ID), nil)
	wantErr(t, "delete again", s.DeleteTemplate(ctx, be.ID), store.ErrNotFound)
	wantErr(t, "count unknown", s.CountTemplateUse(ctx, be.ID), store.ErrNotFound)
	_, err = s.Template(ctx, be.ID)
	wantErr(t, "get deleted", err, store.ErrNotFound)
	_, err = s.PutTemplate(ctx, store.Template{ID: 999, Name: "x"})
	wantErr(t, "replace unknown", err, store.ErrNotFound)
	_, err = s.PutTemplate(ctx, store.Template{})
	wantErr(t, "no name", err, store.ErrInvalid)
}

func testMailings(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	tpl := must[store.Template](t, "template")(s.PutTemplate(ctx, store.Template{Name: "new year"}))
	m := must[store.Mailing](t, "create")(s.PutMailing(ctx, store.Mailing{
		Name: "greetings", TemplateID: tpl.ID, Audience: json.RawMessage(`{"city":"Minsk"}`),
		RatePerMin: 60, ScheduledAt: at(0),
	}))
	want := store.Mailing{ID: m.ID, Name: "greetings", TemplateID: tpl.ID, Audience: json.RawMessage(`{"city":"Minsk"}`),
		State: "draft", RatePerMin: 60, ScheduledAt: stored(at(0)), CreatedAt: m.CreatedAt}
	diff(t, "created", m, want)
	if m.CreatedAt.IsZero() {
		t.Error("created at: got zero")
	}

	var contacts []int64
	for i := range 5 {
		c := must[store.Contact](t, "contact")(s.ResolveContact(ctx, store.Identity{Kind: "email", Value: fmt.Sprint(i, "@x")}, ""))
		contacts = append(contacts, c.ID)
	}
	diff(t, "add", must[int](t, "add")(s.AddRecipients(ctx, m.ID, contacts[:3])), 3)
	diff(t, "add overlapping", must[int](t, "add")(s.AddRecipients(ctx, m.ID, []int64{contacts[2], contacts[3], contacts[3]})), 1)
	diff(t, "add none new", must[int](t, "add")(s.AddRecipients(ctx, m.ID, contacts[:4])), 0)
	t.Run("concurrent", func(t *testing.T) { addConcurrently(t, s, m.ID, contacts) })

	pending := must[[]store.Recipient](t, "pending")(s.PendingRecipients(ctx, m.ID, 2))
	diff(t, "pending", pending, []store.Recipient{
		{MailingID: m.ID, ContactID: contacts[0], State: "pending"},
		{MailingID: m.ID, ContactID: contacts[1], State: "pending"},
	})
	sent := store.Recipient{MailingID: m.ID, ContactID: contacts[0], State: "sent", SentAt: at(5)}
	wantErr(t, "mark sent", s.MarkRecipient(ctx, sent), nil)
	wantErr(t, "mark sent again", s.MarkRecipient(ctx, sent), nil)
	wantErr(t, "mark failed", s.MarkRecipient(ctx, store.Recipient{MailingID: m.ID, ContactID: contacts[1],
		State: "failed", Error: "550 no such user"}), nil)
	wantErr(t, "mark unknown", s.MarkRecipient(ctx, store.Recipient{MailingID: m.ID, ContactID: 999, State: "sent"}), store.ErrNotFound)

	pending = must[[]store.Recipient](t, "pending")(s.PendingRecipients(ctx, m.ID, 0))
	var left []int64
	for _, r := range pending {
		left = append(left, r.ContactID)
	}
	diff(t, "pending after marks", left, contacts[2:])

	m.Name, m.State, m.Total, m.Sent = "greetings 2027", "running", 99, 99
	got := must[store.Mailing](t, "replace")(s.PutMailing(ctx, m))
	want.Name, want.State, want.Total, want.Sent = "greetings 2027", "running", 5, 1
	diff(t, "replaced keeps counters", got, want)
	diff(t, "get", must[store.Mailing](t, "get")(s.Mailing(ctx, m.ID)), want)
	diff(t, "list", must[[]store.Mailing](t, "list")(s.ListMailings(ctx)), []store.Mailing{want})

	_, err := s.AddRecipients(ctx, 999, contacts)
	wantErr(t, "add to unknown mailing", err, store.ErrNotFound)
	_, err = s.AddRecipients(ctx, m.ID, []int64{999})
	wantErr(t, "add unknown contact", err, store.ErrNotFound)
	_, err = s.Mailing(ctx, 999)
	wantErr(t, "get unknown", err, store.ErrNotFound)
	_, err = s.PutMailing(ctx, store.Mailing{Name: "x", Audience: json.RawMessage(`{`)})
	wantErr(t, "bad audience", err, store.ErrInvalid)
}

// addConcurrently adds the same contacts from several goroutines and wants
// each added once in all.
func addConcurrently(t *testing.T, s store.Store, mailingID int64, contacts []int64) {
	const n = 8
	added := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { added[i], errs[i] = s.AddRecipients(t.Context(), mailingID, contacts) })
	}
	wg.Wait()
	total := 0
	for i := range n {
		wantErr(t, fmt.Sprint("writer ", i), errs[i], nil)
		total += added[i]
	}
	diff(t, "added in all", total, 1)
}

func testDurability(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	u := newUser(t, s, "ded")
	it := newItem(t, s, store.Item{Channel: acd.Email, ExternalID: "<keep@x>", HelperID: u.ID,
		Data: json.RawMessage(`{"keep":true}`), CreatedAt: at(3)})
	e := must[store.Event](t, "append")(s.AppendEvent(ctx, store.Event{ItemID: it.ID, Type: "offered", At: at(4)}))
	wantErr(t, "close", s.Close(), nil)

	s = open(t)
	diff(t, "user", must[store.User](t, "user")(s.User(ctx, u.ID)), u)
	diff(t, "item", must[store.Item](t, "item")(s.Item(ctx, it.ID)), it)
	events := must[[]store.Event](t, "events")(s.Events(ctx, it.ID))
	if len(events) != 2 {
		t.Fatalf("events: got %d, want 2", len(events))
	}
	diff(t, "event", events[1], e)
	_, created, err := s.CreateItem(ctx, store.Item{Channel: acd.Email, ExternalID: "<keep@x>"}, store.Event{Type: "x"})
	if err != nil || created {
		t.Errorf("create again after reopen: got created %v, error %v; want the stored item", created, err)
	}
}
