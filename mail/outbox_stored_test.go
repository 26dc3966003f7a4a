package mail

import (
	"context"
	"errors"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
)

// openDiskStore opens the SQLite store in dir; the test closes it.
func openDiskStore(t *testing.T, dir string) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{DataDir: dir})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	return st
}

// TestStoredOutboxSurvivesRestart queues letters, closes everything
// before they are sent, and checks that a new outbox on the reopened store
// delivers each exactly once to a real SMTP server.
func TestStoredOutboxSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	st := openDiskStore(t, dir)
	first := NewStoredOutbox(nil, st, OutboxConfig{}, discard()) // never run
	for _, id := range []string{"a@moroz.test", "b@moroz.test"} {
		if err := first.Enqueue(letterFor(id)); err != nil {
			t.Fatalf("enqueue %s: %v", id, err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = openDiskStore(t, dir)
	defer st.Close()
	s := newSink(t, nil, nil)
	relay, err := NewRelay(RelayConfig{Addr: s.addr, Helo: "moroz.test"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 4)
	o := NewStoredOutbox(relay, st, OutboxConfig{Done: func(m Outgoing, err error) {
		if err != nil {
			t.Errorf("letter %s: %v", m.MessageID, err)
		}
		done <- m.MessageID
	}}, discard())
	if err := o.Enqueue(letterFor("a@moroz.test")); err != nil { // queued already
		t.Fatalf("enqueue a again: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := o.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	got := []string{<-done, <-done}
	cancel()
	wg.Wait()
	sort.Strings(got)
	if d := cmp.Diff([]string{"a@moroz.test", "b@moroz.test"}, got); d != "" {
		t.Errorf("letters done (-want +got):\n%s", d)
	}
	if n := len(s.got); n != 2 {
		t.Errorf("letters the relay took: got %d, want 2", n)
	}
	pending, err := st.PendingOut(context.Background(), acd.Email, 0, 0)
	if err != nil || len(pending) != 0 {
		t.Errorf("pending after delivery: got %d letters (error %v), want none", len(pending), err)
	}
}

// TestStoredOutboxRecordsAttempts checks that a transient failure is kept
// with its backoff and a permanent one as failed, across a reopen.
func TestStoredOutboxRecordsAttempts(t *testing.T) {
	dir := t.TempDir()
	st := openDiskStore(t, dir)
	send := senderFunc(func(_ context.Context, m Outgoing) error {
		switch m.MessageID {
		case "busy@moroz.test":
			return errors.New("421 try later")
		case "gone@moroz.test":
			return &PermanentError{Err: errors.New("550 no such user")}
		}
		return nil
	})
	done := make(chan string, 4)
	o := NewStoredOutbox(send, st, OutboxConfig{Workers: 1, Backoff: time.Hour, MaxBackoff: 2 * time.Hour,
		Done: func(m Outgoing, _ error) { done <- m.MessageID }}, discard())
	before := time.Now()
	for _, id := range []string{"busy@moroz.test", "gone@moroz.test", "fine@moroz.test"} {
		if err := o.Enqueue(letterFor(id)); err != nil {
			t.Fatalf("enqueue %s: %v", id, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = o.Run(ctx) })
	// One worker takes the letters in order: when the last is done, the
	// first's retry is recorded.
	got := []string{<-done, <-done}
	cancel()
	wg.Wait()
	if d := cmp.Diff([]string{"gone@moroz.test", "fine@moroz.test"}, got); d != "" {
		t.Errorf("letters done (-want +got):\n%s", d)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = openDiskStore(t, dir)
	defer st.Close()
	pending, err := st.PendingOut(context.Background(), acd.Email, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 {
		t.Fatalf("pending after reopen: got %d letters, want the busy one", len(pending))
	}
	busy := pending[0]
	if busy.MessageID != "busy@moroz.test" || busy.Attempts != 1 || busy.LastError != "421 try later" ||
		busy.NextAt.Before(before.Add(time.Hour-time.Second)) {
		t.Errorf("busy letter: got %s attempts %d error %q next %v; want 1 attempt, its error, next in an hour",
			busy.MessageID, busy.Attempts, busy.LastError, busy.NextAt)
	}
	gone, err := st.OutLetter(context.Background(), busy.ID+1)
	if err != nil {
		t.Fatal(err)
	}
	if gone.State != store.OutFailed || !strings.Contains(gone.LastError, "550") {
		t.Errorf("gone letter: got state %q error %q, want failed with the 550", gone.State, gone.LastError)
	}
}

// TestAutoReplyQueuedDurably sends a letter over SMTP to an intake whose
// outbox is kept in the store and checks, after the store is reopened,
// that the 250 came with the auto-reply stored in the outbox.
func TestAutoReplyQueuedDurably(t *testing.T) {
	dir := t.TempDir()
	st := openDiskStore(t, dir)
	out := NewStoredOutbox(nil, st, OutboxConfig{}, discard()) // not run
	srv, err := NewServer(Config{DataDir: dir, Domains: []string{"moroz.test"},
		AutoReply: AutoReplyConfig{Enabled: true}},
		ServerOptions{Store: st, Intake: IntakeFunc(st.FileItem), Outbox: out, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.Serve(ctx, ln) })
	r := &rig{t: t, addr: ln.Addr().String()}
	letter := imapLetter(1, "durable@example.org")
	if err := r.send("kid1@example.org", []string{"ded@moroz.test"}, letter); err != nil {
		t.Fatalf("send: %v", err)
	}
	if got, err := st.PendingOut(context.Background(), acd.Email, 0, 0); err != nil || len(got) != 1 {
		t.Errorf("auto-replies queued at the 250: got %d (error %v), want 1", len(got), err)
	}
	cancel()
	wg.Wait()
	srv.Close()
	st.Close()

	st = openDiskStore(t, dir)
	defer st.Close()
	pending, err := st.PendingOut(context.Background(), acd.Email, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	its, err := st.ListItems(context.Background(), store.ItemFilter{})
	if err != nil || len(its) != 1 {
		t.Fatalf("items: got %d (error %v), want 1", len(its), err)
	}
	if len(pending) != 1 || pending[0].ItemID != its[0].ID || !cmp.Equal(pending[0].To, []string{"kid1@example.org"}) {
		t.Fatalf("pending after reopen: got %+v, want the auto-reply of item %d to kid1@example.org", pending, its[0].ID)
	}
	ms, err := st.Messages(context.Background(), its[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := directions(ms); !cmp.Equal(got, []string{"in", "out"}) {
		t.Errorf("messages: got %v, want the letter and its auto-reply", got)
	}
	if ms[1].ExternalID != pending[0].MessageID {
		t.Errorf("auto-reply message %q, queued %q: want the same", ms[1].ExternalID, pending[0].MessageID)
	}
}
