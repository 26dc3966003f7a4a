package storetest

import (
	"testing"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
)

func testOutbox(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	it := newItem(t, s, store.Item{Channel: acd.Email, ExternalID: "<in@x>"})
	a := must[store.OutLetter](t, "enqueue a")(enqueue(t, s, store.OutLetter{ItemID: it.ID,
		MessageID: "a@moroz", From: "ded@moroz", To: []string{"kid@x", "mum@x"}, Raw: []byte("A\r\n"),
		NextAt: at(2)}, true))
	b := must[store.OutLetter](t, "enqueue b")(enqueue(t, s, store.OutLetter{MessageID: "b@moroz",
		To: []string{"kid@x"}, Raw: []byte("B\r\n"), NextAt: at(1)}, true))
	again := must[store.OutLetter](t, "enqueue a again")(enqueue(t, s, store.OutLetter{
		MessageID: "a@moroz", To: []string{"other@x"}, Raw: []byte("other")}, false))
	diff(t, "enqueued again", again, a)
	if a.State != store.OutPending || !a.NextAt.Equal(stored(at(2))) || a.ItemID != it.ID {
		t.Errorf("enqueued: got state %q next %v item %d, want pending at %v item %d",
			a.State, a.NextAt, a.ItemID, stored(at(2)), it.ID)
	}
	pending := must[[]store.OutLetter](t, "pending")(s.PendingOut(ctx, acd.Email, 0, 0))
	diff(t, "pending in id order", pending, []store.OutLetter{a, b})
	pending = must[[]store.OutLetter](t, "pending after a")(s.PendingOut(ctx, acd.Email, a.ID, 0))
	diff(t, "pending after a", pending, []store.OutLetter{b})

	b.State, b.Attempts, b.LastError = store.OutSent, 1, ""
	wantErr(t, "mark b sent", s.MarkOut(ctx, b), nil)
	a.State, a.Attempts, a.LastError, a.NextAt = store.OutPending, 1, "421 busy", at(9)
	wantErr(t, "mark a retried", s.MarkOut(ctx, a), nil)
	wantErr(t, "close", s.Close(), nil)

	s = open(t)
	pending = must[[]store.OutLetter](t, "pending after reopen")(s.PendingOut(ctx, acd.Email, 0, 0))
	if len(pending) != 1 || pending[0].ID != a.ID || pending[0].Attempts != 1 ||
		pending[0].LastError != "421 busy" || !pending[0].NextAt.Equal(stored(at(9))) {
		t.Errorf("pending after reopen: got %+v, want only a with its attempt", pending)
	}
	gotB := must[store.OutLetter](t, "b")(s.OutLetter(ctx, b.ID))
	if gotB.State != store.OutSent {
		t.Errorf("b: got state %q, want sent", gotB.State)
	}
	outboxErrors(t, s)
}

func enqueue(t *testing.T, s store.Store, l store.OutLetter, wantCreated bool) (store.OutLetter, error) {
	t.Helper()
	got, created, err := s.EnqueueOut(t.Context(), l)
	if err == nil && created != wantCreated {
		t.Errorf("enqueue %s: got created %v, want %v", l.MessageID, created, wantCreated)
	}
	return got, err
}

func outboxErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	bad := []struct {
		name string
		l    store.OutLetter
	}{
		{"no message id", store.OutLetter{To: []string{"a@x"}, Raw: []byte("x")}},
		{"no recipient", store.OutLetter{MessageID: "n@x", Raw: []byte("x")}},
		{"no letter", store.OutLetter{MessageID: "n@x", To: []string{"a@x"}}},
		{"recipient with a newline", store.OutLetter{MessageID: "n@x", To: []string{"a@x\nb@x"}, Raw: []byte("x")}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.EnqueueOut(ctx, tt.l)
			wantErr(t, "enqueue", err, store.ErrInvalid)
		})
	}
	wantErr(t, "mark unknown", s.MarkOut(ctx, store.OutLetter{ID: 999, State: store.OutSent}), store.ErrNotFound)
	wantErr(t, "mark bad state", s.MarkOut(ctx, store.OutLetter{ID: 1, State: "lost"}), store.ErrInvalid)
	_, err := s.OutLetter(ctx, 999)
	wantErr(t, "unknown letter", err, store.ErrNotFound)
}

func testIMAPMarks(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	seen := func(box string, validity, uid uint32) bool {
		t.Helper()
		return must[bool](t, "seen")(s.IMAPSeen(ctx, box, validity, uid))
	}
	if seen("ded@imap/INBOX", 7, 1) {
		t.Fatal("seen before marking: got true")
	}
	wantErr(t, "mark", s.MarkIMAPSeen(ctx, "ded@imap/INBOX", 7, 1, "a@x"), nil)
	wantErr(t, "mark again", s.MarkIMAPSeen(ctx, "ded@imap/INBOX", 7, 1, "a@x"), nil)
	wantErr(t, "mark the largest uid", s.MarkIMAPSeen(ctx, "ded@imap/INBOX", 7, 1<<32-1, ""), nil)
	wantErr(t, "mark no uid", s.MarkIMAPSeen(ctx, "ded@imap/INBOX", 7, 0, ""), store.ErrInvalid)
	wantErr(t, "close", s.Close(), nil)

	s = open(t)
	tests := []struct {
		name     string
		box      string
		validity uint32
		uid      uint32
		want     bool
	}{
		{"marked", "ded@imap/INBOX", 7, 1, true},
		{"largest uid", "ded@imap/INBOX", 7, 1<<32 - 1, true},
		{"other uid", "ded@imap/INBOX", 7, 2, false},
		{"new uidvalidity", "ded@imap/INBOX", 8, 1, false},
		{"other mailbox", "ded@imap/Archive", 7, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := seen(tt.box, tt.validity, tt.uid); got != tt.want {
				t.Errorf("seen: got %v, want %v", got, tt.want)
			}
		})
	}
}

func testFileLetter(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	it := newItem(t, s, store.Item{Channel: acd.Email, ExternalID: "<letter@x>"})
	msgs := []store.Message{
		{ItemID: it.ID, Direction: "in", ExternalID: "letter@x", From: "kid@x", Text: "санки"},
		{ItemID: it.ID, Direction: "out", ExternalID: "reply@moroz", To: "kid@x", Text: "жди"},
	}
	out := []store.OutLetter{{ItemID: it.ID, MessageID: "reply@moroz", To: []string{"kid@x"}, Raw: []byte("R\r\n")}}
	got := must[store.FiledLetter](t, "file")(s.FileLetter(ctx, msgs, out))
	diff(t, "created", [][]bool{got.Created, got.OutCreated}, [][]bool{{true, true}, {true}})
	stored := must[[]store.Message](t, "messages")(s.Messages(ctx, it.ID))
	diff(t, "messages", stored, got.Messages)
	pending := must[[]store.OutLetter](t, "pending")(s.PendingOut(ctx, acd.Email, 0, 0))
	diff(t, "pending", pending, got.Out)

	again := must[store.FiledLetter](t, "file again")(s.FileLetter(ctx, msgs, out))
	diff(t, "created again", [][]bool{again.Created, again.OutCreated}, [][]bool{{false, false}, {false}})
	diff(t, "messages again", again.Messages, got.Messages)

	bad := []store.Message{
		{ItemID: it.ID, Direction: "in", ExternalID: "other@x"},
		{ItemID: it.ID + 100, Direction: "out", ExternalID: "lost@moroz"},
	}
	lost := []store.OutLetter{{MessageID: "lost@moroz", To: []string{"kid@x"}, Raw: []byte("L\r\n")}}
	_, err := s.FileLetter(ctx, bad, lost)
	wantErr(t, "file for a missing item", err, store.ErrNotFound)
	if n := len(must[[]store.Message](t, "messages")(s.Messages(ctx, it.ID))); n != 2 {
		t.Errorf("messages after a failed file: got %d, want 2 (none of the batch)", n)
	}
	if n := len(must[[]store.OutLetter](t, "pending")(s.PendingOut(ctx, acd.Email, 0, 0))); n != 1 {
		t.Errorf("pending after a failed file: got %d, want 1 (none of the batch)", n)
	}
	_, err = s.FileLetter(ctx, []store.Message{{ItemID: it.ID, Direction: "sideways"}}, nil)
	wantErr(t, "bad direction", err, store.ErrInvalid)
}
