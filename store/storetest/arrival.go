package storetest

import (
	"testing"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
)

func testFileItem(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	kid := store.Identity{Kind: "email", Value: "kid@x"}
	a := store.Arrival{
		Item:        store.Item{Channel: acd.Email, ExternalID: "<new@x>", Queue: "letters", State: acd.StateQueued},
		First:       store.Event{Type: "received"},
		Contact:     kid,
		ContactName: "Маша",
		Messages: []store.Message{
			{Direction: "in", ExternalID: "new@x", From: "kid@x", Text: "санки"},
			{Direction: "out", ExternalID: "auto@moroz", To: "kid@x", Text: "жди"},
		},
		Out:         []store.OutLetter{{MessageID: "auto@moroz", To: []string{"kid@x"}, Raw: []byte("A\r\n")}},
		AutoReplied: "kid@x",
	}
	got := must[store.Filed](t, "file")(s.FileItem(ctx, a))
	if !got.Created || got.Contact.ID == 0 || got.Item.ContactID != got.Contact.ID || got.Contact.Name != "Маша" {
		t.Fatalf("file: got created %v, contact %+v, item contact %d; want a new item of a new contact Маша",
			got.Created, got.Contact, got.Item.ContactID)
	}
	diff(t, "item", must[store.Item](t, "item")(s.Item(ctx, got.Item.ID)), got.Item)
	diff(t, "contact", must[store.Contact](t, "find contact")(s.FindContact(ctx, kid)),
		must[store.Contact](t, "contact")(s.Contact(ctx, got.Contact.ID)))
	diff(t, "messages", must[[]store.Message](t, "messages")(s.Messages(ctx, got.Item.ID)), got.Messages)
	if len(got.Messages) != 2 || got.Messages[0].ItemID != got.Item.ID || got.Messages[1].ExternalID != "auto@moroz" {
		t.Errorf("messages: got %+v, want the letter then the auto-reply, of the item", got.Messages)
	}
	if len(got.Out) != 1 || got.Out[0].ItemID != got.Item.ID || got.Out[0].State != store.OutPending {
		t.Fatalf("queued: got %+v, want one pending letter of the item", got.Out)
	}
	diff(t, "queued", must[[]store.OutLetter](t, "pending")(s.PendingOut(ctx, acd.Email, 0, 0)), got.Out)
	if ev := must[[]store.Event](t, "events")(s.Events(ctx, got.Item.ID)); len(ev) != 1 || ev[0].Type != "received" {
		t.Errorf("events: got %+v, want the first event only", ev)
	}
	last := must[time.Time](t, "last auto-reply")(s.LastAutoReply(ctx, "kid@x"))
	if !last.Equal(got.Item.CreatedAt) {
		t.Errorf("last auto-reply: got %v, want the item's created time %v", last, got.Item.CreatedAt)
	}

	// The same arrival again (a retried delivery) writes nothing more.
	a.Messages[0].Text = "другое"
	a.Out[0].MessageID, a.Messages[1].ExternalID = "auto2@moroz", "auto2@moroz"
	again := must[store.Filed](t, "file again")(s.FileItem(ctx, a))
	if again.Created || again.Item.ID != got.Item.ID || again.Contact.ID != got.Contact.ID ||
		len(again.Messages) != 0 || len(again.Out) != 0 {
		t.Errorf("file again: got %+v, want the stored item and contact, nothing new", again)
	}
	if n := len(must[[]store.Message](t, "messages")(s.Messages(ctx, got.Item.ID))); n != 2 {
		t.Errorf("messages after filing again: got %d, want 2", n)
	}

	// A known sender's next letter joins the contact; none is required.
	next := must[store.Filed](t, "file a second letter")(s.FileItem(ctx, store.Arrival{
		Item: store.Item{Channel: acd.Email, ExternalID: "<second@x>"}, First: store.Event{Type: "received"}, Contact: kid, ContactName: "другое имя"}))
	if !next.Created || next.Contact.ID != got.Contact.ID {
		t.Errorf("second letter: got created %v contact %d, want a new item of contact %d",
			next.Created, next.Contact.ID, got.Contact.ID)
	}
	bare := must[store.Filed](t, "file without a contact")(s.FileItem(ctx, store.Arrival{
		Item: store.Item{Channel: acd.Form, ExternalID: "form-1"}, First: store.Event{Type: "received"}}))
	if !bare.Created || bare.Item.ContactID != 0 || bare.Contact.ID != 0 {
		t.Errorf("without a contact: got %+v, want an item of no contact", bare)
	}
	fileItemFailures(t, s)
}

// fileItemFailures checks that a failing arrival stores none of its parts.
func fileItemFailures(t *testing.T, s store.Store) {
	ctx := t.Context()
	before := must[[]store.Item](t, "items")(s.ListItems(ctx, store.ItemFilter{}))
	newcomer := store.Identity{Kind: "email", Value: "new@x"}
	_, err := s.FileItem(ctx, store.Arrival{
		Item:    store.Item{Channel: acd.Email, ExternalID: "<bad@x>"},
		First:   store.Event{Type: "received"},
		Contact: newcomer,
		Out:     []store.OutLetter{{MessageID: "auto@moroz", To: []string{"new@x"}, Raw: []byte("A\r\n")}},
		Messages: []store.Message{
			{Direction: "in", ExternalID: "bad@x"},
			{Direction: "out", ExternalID: "bad-out@x", TemplateID: 999999}, // no such template
		},
		AutoReplied: "new@x",
	})
	wantErr(t, "file with a missing template", err, store.ErrNotFound)
	diff(t, "items after a failed file", must[[]store.Item](t, "items")(s.ListItems(ctx, store.ItemFilter{})), before)
	_, err = s.FindContact(ctx, newcomer)
	wantErr(t, "contact of a failed file", err, store.ErrNotFound)
	if last := must[time.Time](t, "last auto-reply")(s.LastAutoReply(ctx, "new@x")); !last.IsZero() {
		t.Errorf("auto-reply mark of a failed file: got %v, want none", last)
	}

	bad := []struct {
		name string
		a    store.Arrival
	}{
		{"unknown channel", store.Arrival{Item: store.Item{Channel: "pigeon"}}},
		{"empty identity value", store.Arrival{Item: store.Item{Channel: acd.Email}, Contact: store.Identity{Kind: "email"}}},
		{"bad direction", store.Arrival{Item: store.Item{Channel: acd.Email},
			Messages: []store.Message{{Direction: "sideways"}}}},
		{"letter without recipient", store.Arrival{Item: store.Item{Channel: acd.Email},
			Out: []store.OutLetter{{MessageID: "x@moroz", Raw: []byte("X")}}}},
	}
	for _, c := range bad {
		_, err := s.FileItem(ctx, c.a)
		wantErr(t, c.name, err, store.ErrInvalid)
	}
	_, err = s.FindContact(ctx, store.Identity{})
	wantErr(t, "find an empty identity", err, store.ErrInvalid)
}

func testAutoReplies(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	if last := must[time.Time](t, "never marked")(s.LastAutoReply(ctx, "kid@x")); !last.IsZero() {
		t.Errorf("never marked: got %v, want zero", last)
	}
	wantErr(t, "mark", s.MarkAutoReply(ctx, "kid@x", at(5)), nil)
	wantErr(t, "mark again later", s.MarkAutoReply(ctx, "kid@x", at(9)), nil)
	wantErr(t, "mark another", s.MarkAutoReply(ctx, "mum@x", at(1)), nil)
	wantErr(t, "mark empty", s.MarkAutoReply(ctx, "", at(1)), store.ErrInvalid)
	wantErr(t, "close", s.Close(), nil)

	s = open(t)
	if last := must[time.Time](t, "after reopen")(s.LastAutoReply(ctx, "kid@x")); !last.Equal(stored(at(9))) {
		t.Errorf("after reopen: got %v, want the newest mark %v", last, stored(at(9)))
	}
	if last := must[time.Time](t, "other sender")(s.LastAutoReply(ctx, "mum@x")); !last.Equal(stored(at(1))) {
		t.Errorf("other sender: got %v, want %v", last, stored(at(1)))
	}
}

func testQueueRecipients(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	tpl := must[store.Template](t, "template")(s.PutTemplate(ctx, store.Template{Name: "new year"}))
	m := must[store.Mailing](t, "mailing")(s.PutMailing(ctx, store.Mailing{Name: "greetings", TemplateID: tpl.ID}))
	var cs []int64
	for _, addr := range []string{"a@x", "b@x"} {
		c := must[store.Contact](t, "contact")(s.ResolveContact(ctx, store.Identity{Kind: "email", Value: addr}, ""))
		cs = append(cs, c.ID)
	}
	must[int](t, "add")(s.AddRecipients(ctx, m.ID, cs))

	r := store.Recipient{MailingID: m.ID, ContactID: cs[0], State: "queued"}
	l := store.OutLetter{MessageID: "mailing-a@moroz", To: []string{"a@x"}, Raw: []byte("A\r\n")}
	q := queueOne(t, s, r, l)
	if q.ID == 0 || q.State != store.OutPending {
		t.Errorf("queued: got %+v, want a pending letter", q)
	}
	diff(t, "pending letters", must[[]store.OutLetter](t, "pending")(s.PendingOut(ctx, acd.Email, 0, 0)), []store.OutLetter{q})
	pending := must[[]store.Recipient](t, "pending recipients")(s.PendingRecipients(ctx, m.ID, 0))
	if len(pending) != 1 || pending[0].ContactID != cs[1] {
		t.Errorf("pending recipients: got %+v, want only the second", pending)
	}

	for state, want := range map[string]int{"queued": 1, "pending": 1, "sent": 0} {
		if n := must[int](t, "count "+state)(s.CountRecipients(ctx, m.ID, state)); n != want {
			t.Errorf("%s recipients: got %d, want %d", state, n, want)
		}
	}
	// A retried hand-over of a letter sent meanwhile returns it as sent.
	q.State, q.Attempts = store.OutSent, 1
	wantErr(t, "mark sent", s.MarkOut(ctx, q), nil)
	again := queueOne(t, s, r, l)
	if again.ID != q.ID || again.State != store.OutSent {
		t.Errorf("queued again: got id %d state %q, want id %d sent", again.ID, again.State, q.ID)
	}

	// None of a batch is stored when one fails.
	_, err := s.QueueRecipients(ctx, []store.Handover{
		{Recipient: store.Recipient{MailingID: m.ID, ContactID: cs[1], State: "queued"},
			Letter: store.OutLetter{MessageID: "mailing-b@moroz", To: []string{"b@x"}, Raw: []byte("B\r\n")}},
		{Recipient: store.Recipient{MailingID: m.ID, ContactID: cs[1] + 100, State: "queued"},
			Letter: store.OutLetter{MessageID: "mailing-lost@moroz", To: []string{"b@x"}, Raw: []byte("B\r\n")}},
	})
	wantErr(t, "queue an unknown recipient", err, store.ErrNotFound)
	if n := len(must[[]store.Recipient](t, "pending")(s.PendingRecipients(ctx, m.ID, 0))); n != 1 {
		t.Errorf("pending recipients after a failed hand-over: got %d, want 1 (none of the batch)", n)
	}
	if n := len(must[[]store.OutLetter](t, "pending")(s.PendingOut(ctx, acd.Email, 0, 0))); n != 0 {
		t.Errorf("pending letters after a failed hand-over: got %d, want 0", n)
	}
	_, err = s.QueueRecipients(ctx, []store.Handover{{Recipient: store.Recipient{MailingID: m.ID, ContactID: cs[1]}, Letter: l}})
	wantErr(t, "queue with no state", err, store.ErrInvalid)
	_, err = s.QueueRecipients(ctx, []store.Handover{{Recipient: store.Recipient{MailingID: m.ID, ContactID: cs[1], State: "queued"},
		Letter: store.OutLetter{MessageID: "x@moroz", Raw: []byte("X")}}})
	wantErr(t, "queue a letter without recipient", err, store.ErrInvalid)
}

func queueOne(t *testing.T, s store.Store, r store.Recipient, l store.OutLetter) store.OutLetter {
	t.Helper()
	ls := must[[]store.OutLetter](t, "queue")(s.QueueRecipients(t.Context(), []store.Handover{{Recipient: r, Letter: l}}))
	if len(ls) != 1 {
		t.Fatalf("queue one: got %d letters, want 1", len(ls))
	}
	return ls[0]
}
