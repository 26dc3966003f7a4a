package work

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/logging"
	"github.com/morozhq/moroz/store"
)

func openStore(t *testing.T, dir string) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func newService(t *testing.T, st store.Store) (*Service, <-chan acd.Event) {
	t.Helper()
	s, err := New(context.Background(), Options{Store: st, Logger: logging.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan acd.Event, 1000)
	s.Listen(func(e acd.Event) { events <- e })
	return s, events
}

// waitFor reads stored events until one of type typ for item id arrives.
func waitFor(t *testing.T, events <-chan acd.Event, typ acd.EventType, id int64) acd.Event {
	t.Helper()
	timeout := time.After(10 * time.Second) // a hang guard, not a timing assertion
	for {
		select {
		case e := <-events:
			if e.Type == typ && (id == 0 || e.ItemID == id) {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s event for item %d", typ, id)
		}
	}
}

func historyTypes(t *testing.T, st store.Store, id int64) []string {
	t.Helper()
	evs, err := st.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func TestLetterFromArrivalToClose(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	defer st.Close()
	s, events := newService(t, st)
	defer s.Close()

	var sent []string
	s.SetSender(acd.Email, senderFunc(func(ctx context.Context, it store.Item, m store.Message) error {
		sent = append(sent, it.Subject+": "+m.Text)
		return nil
	}))
	elf, err := st.CreateUser(ctx, store.User{Login: "elf", Role: store.RoleHelper, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	it, created, err := s.Submit(ctx, store.Item{Channel: acd.Email, ExternalID: "<1@example>", Subject: "Хочу санки"}, store.Event{})
	if err != nil || !created {
		t.Fatalf("Submit: %v, created %v", err, created)
	}
	if _, again, err := s.Submit(ctx, store.Item{Channel: acd.Email, ExternalID: "<1@example>"}, store.Event{}); err != nil || again {
		t.Fatalf("second Submit of the same letter: created %v, %v", again, err)
	}
	if err := s.SetStatus(ctx, elf.ID, acd.StatusAvailable, ""); err != nil {
		t.Fatal(err)
	}
	offer := waitFor(t, events, acd.EventOffered, it.ID)
	if offer.HelperID != elf.ID {
		t.Fatalf("offered to %d, want %d", offer.HelperID, elf.ID)
	}
	stored, err := st.Item(ctx, it.ID)
	if err != nil || stored.State != acd.StateOffered || stored.HelperID != elf.ID {
		t.Fatalf("stored after offer: %+v, %v", stored, err)
	}

	if err := s.Accept(ctx, it.ID, elf.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reply(ctx, it.ID, elf.ID+1, store.Message{Text: "no"}); !errors.Is(err, ErrNotYours) {
		t.Errorf("reply by another helper: %v, want ErrNotYours", err)
	}
	if _, err := s.Reply(ctx, it.ID, elf.ID, store.Message{Text: "Будут санки!"}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sent, []string{"Хочу санки: Будут санки!"}); diff != "" {
		t.Errorf("sent replies (-got +want):\n%s", diff)
	}
	if err := s.Complete(ctx, it.ID, elf.ID, acd.OutcomeReplied, "обещали санки"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, events, acd.EventClosed, it.ID)

	stored, err = st.Item(ctx, it.ID)
	if err != nil || stored.State != acd.StateClosed || stored.Outcome != acd.OutcomeReplied {
		t.Errorf("stored at the end: state %s outcome %s, %v", stored.State, stored.Outcome, err)
	}
	want := []string{"received", "enqueued", "offered", "accepted", "replied", "completed", "closed"}
	got := historyTypes(t, st, it.ID)
	// wrap-up of zero length may or may not appear between completed and closed
	got = deleteType(got, "wrapup_ended")
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("history (-got +want):\n%s", diff)
	}
	evs, _ := st.Events(ctx, it.ID)
	for _, e := range evs {
		if e.Type == "completed" && !strings.Contains(string(e.Data), "обещали санки") {
			t.Errorf("completed event data %s lacks the note", e.Data)
		}
	}
	msgs, err := st.Messages(ctx, it.ID)
	if err != nil || len(msgs) != 1 || msgs[0].Direction != "out" || msgs[0].HelperID != elf.ID {
		t.Errorf("messages: %+v, %v", msgs, err)
	}
	live, err := s.Live(ctx)
	if err != nil || live.Today.Offered != 1 || live.Today.Answered != 1 || live.Today.Unanswered != 0 {
		t.Errorf("live today: %+v, %v", live.Today, err)
	}
}

func deleteType(types []string, typ string) []string {
	var out []string
	for _, x := range types {
		if x != typ {
			out = append(out, x)
		}
	}
	return out
}

func TestRestartKeepsWaitingItemsInOrder(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, dir)
	s, events := newService(t, st)
	elf, err := st.CreateUser(ctx, store.User{Login: "elf", Role: store.RoleHelper, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Add(-time.Hour)
	var ids []int64
	for i, ext := range []string{"a", "b", "c"} {
		it, _, err := s.Submit(ctx, store.Item{Channel: acd.Form, ExternalID: ext, CreatedAt: t0.Add(time.Duration(i) * time.Minute)}, store.Event{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, it.ID)
		waitFor(t, events, acd.EventEnqueued, it.ID)
	}
	// The first is offered, then the node dies with the offer in flight.
	if err := s.SetStatus(ctx, elf.ID, acd.StatusAvailable, ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, events, acd.EventOffered, ids[0])
	s.Close()
	st.Close()

	st = openStore(t, dir)
	defer st.Close()
	s, events = newService(t, st)
	defer s.Close()
	waitFor(t, events, acd.EventWithdrawn, ids[0])
	for i, id := range ids {
		est, err := s.Router().Position(id)
		if err != nil {
			t.Fatalf("item %d after restart: %v", id, err)
		}
		if est.Position != i+1 {
			t.Errorf("item %d: position %d after restart, want %d", id, est.Position, i+1)
		}
		stored, _ := st.Item(ctx, id)
		if !stored.CreatedAt.Equal(t0.Add(time.Duration(i) * time.Minute).Truncate(time.Microsecond)) {
			t.Errorf("item %d: created %v changed", id, stored.CreatedAt)
		}
	}
	if hs := s.Helpers(); len(hs) != 1 || hs[0].Status != acd.StatusOffline {
		t.Errorf("helpers after restart: %+v; want the one helper, offline", hs)
	}
}

type senderFunc func(ctx context.Context, it store.Item, m store.Message) error

func (f senderFunc) Send(ctx context.Context, it store.Item, m store.Message) error {
	return f(ctx, it, m)
}

func TestKeptItemWaitsForRoute(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, dir)
	s, _ := newService(t, st)
	elf, err := st.CreateUser(ctx, store.User{Login: "elf", Role: store.RoleHelper, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	it, created, err := s.Keep(ctx, store.Item{Channel: acd.Telegram, ExternalID: "tg:1"}, store.Event{})
	if err != nil || !created || it.State != acd.StateNew {
		t.Fatalf("Keep: %+v, created %v, %v", it, created, err)
	}
	if _, ok := s.Router().Item(it.ID); ok {
		t.Fatal("a kept item is in the router")
	}
	s.Close()
	st.Close()

	st = openStore(t, dir)
	defer st.Close()
	s, events := newService(t, st)
	defer s.Close()
	if _, ok := s.Router().Item(it.ID); ok {
		t.Fatal("a kept item was restored into the router")
	}
	if err := s.SetStatus(ctx, elf.ID, acd.StatusAvailable, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Route(ctx, it.ID, "asked for a human"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, events, acd.EventOffered, it.ID)
	if err := s.Route(ctx, it.ID, "again"); err != nil {
		t.Errorf("routing a routed item: %v", err)
	}
	types := historyTypes(t, st, it.ID)
	if diff := cmp.Diff(types[:3], []string{"received", "handoff", "enqueued"}); diff != "" {
		t.Errorf("history (-got +want):\n%s", diff)
	}
}

func TestItemClosedOnArrivalIsNotRouted(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	defer st.Close()
	s, _ := newService(t, st)
	defer s.Close()
	it, created, err := s.Submit(ctx, store.Item{Channel: acd.Email, ExternalID: "<auto@x>", State: acd.StateClosed,
		Outcome: acd.OutcomeAutoReplied}, store.Event{})
	if err != nil || !created {
		t.Fatalf("Submit: %v, created %v", err, created)
	}
	if _, ok := s.Router().Item(it.ID); ok {
		t.Error("an item closed on arrival is in the router")
	}
	got, err := st.Item(ctx, it.ID)
	if err != nil || got.State != acd.StateClosed || got.Outcome != acd.OutcomeAutoReplied || got.ClosedAt.IsZero() {
		t.Errorf("stored: state %s outcome %s closed %v, %v", got.State, got.Outcome, got.ClosedAt, err)
	}
}

// File stores an arrival's contact, item and messages together and routes
// the item once; filed again, it is neither stored nor routed twice.
func TestFileStoresTheArrivalThenRoutes(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	defer st.Close()
	s, events := newService(t, st)
	defer s.Close()
	a := store.Arrival{
		Item:    store.Item{Channel: acd.Email, ExternalID: "<wish@x>", Subject: "Хочу санки"},
		Contact: store.Identity{Kind: "email", Value: "masha@x"}, ContactName: "Маша",
		Messages: []store.Message{{Direction: "in", ExternalID: "wish@x", From: "masha@x", Text: "санки"}},
	}
	f, err := s.File(ctx, a)
	if err != nil || !f.Created {
		t.Fatalf("File: %v, created %v", err, f.Created)
	}
	waitFor(t, events, acd.EventEnqueued, f.Item.ID)
	if info, ok := s.Router().Item(f.Item.ID); !ok || info.Queue != DefaultQueueFor(acd.Email) {
		t.Errorf("router: got %+v (known %v), want the item in queue %s", info, ok, DefaultQueueFor(acd.Email))
	}
	c, err := st.FindContact(ctx, a.Contact)
	if err != nil || c.ID != f.Item.ContactID || c.Name != "Маша" {
		t.Errorf("contact: got %+v (%v), want Маша owning item %d", c, err, f.Item.ID)
	}
	if ms, err := st.Messages(ctx, f.Item.ID); err != nil || len(ms) != 1 || ms[0].Text != "санки" {
		t.Errorf("messages: got %+v (%v), want the letter", ms, err)
	}
	again, err := s.File(ctx, a)
	if err != nil || again.Created || again.Item.ID != f.Item.ID {
		t.Errorf("File again: got created %v item %d (%v), want item %d as stored", again.Created, again.Item.ID, err, f.Item.ID)
	}
}
