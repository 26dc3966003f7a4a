package mail

import (
	"context"
	"sort"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Two stored outboxes over one store (replies and mailings) each resume
// only their own letters (OutboxConfig.Mailings), and every letter is
// sent once.
func TestStoredOutboxesResumeTheirOwn(t *testing.T) {
	dir := t.TempDir()
	st := openDiskStore(t, dir)
	queue := NewStoredOutbox(nil, st, OutboxConfig{}, discard()) // not run: letters stay pending
	ids := []string{"reply-1@moroz.test", mailingMessageID(7, 1, "moroz.test"), "reply-2@moroz.test",
		mailingMessageID(7, 2, "moroz.test")}
	for _, id := range ids {
		if err := queue.Enqueue(letterFor(id)); err != nil {
			t.Fatalf("enqueue %s: %v", id, err)
		}
	}

	var (
		mu   sync.Mutex
		sent = map[string][]string{}
	)
	run := func(name string, mailings bool, want int) []string {
		t.Helper()
		done := make(chan struct{}, len(ids))
		send := senderFunc(func(_ context.Context, m Outgoing) error {
			mu.Lock()
			sent[name] = append(sent[name], m.MessageID)
			mu.Unlock()
			return nil
		})
		o := NewStoredOutbox(send, st, OutboxConfig{Mailings: mailings, Done: func(Outgoing, error) { done <- struct{}{} }}, discard())
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { _ = o.Run(ctx) })
		for range want {
			<-done
		}
		cancel()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		got := append([]string(nil), sent[name]...)
		sort.Strings(got)
		return got
	}
	replies := run("replies", false, 2)
	mailings := run("mailings", true, 2)
	if d := cmp.Diff([]string{"reply-1@moroz.test", "reply-2@moroz.test"}, replies); d != "" {
		t.Errorf("the replies' outbox sent (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{mailingMessageID(7, 1, "moroz.test"), mailingMessageID(7, 2, "moroz.test")}, mailings); d != "" {
		t.Errorf("the mailings' outbox sent (-want +got):\n%s", d)
	}
}

func TestMailingMessageIDs(t *testing.T) {
	tests := []struct {
		id       string
		mid, cid int64
		ok       bool
	}{
		{mailingMessageID(12, 345, "ded-moroz.test"), 12, 345, true},
		{"0123456789abcdef0123456789abcdef@ded-moroz.test", 0, 0, false},
		{"mailing-12@ded-moroz.test", 0, 0, false},
		{"mailing-12-x@ded-moroz.test", 0, 0, false},
		{"mailing-0-3@ded-moroz.test", 0, 0, false},
		{"mailing-1-2", 0, 0, false},
	}
	for _, tt := range tests {
		mid, cid, ok := parseMailingMessageID(tt.id)
		if ok != tt.ok || (ok && (mid != tt.mid || cid != tt.cid)) {
			t.Errorf("parse %q: got %d, %d, %v; want %d, %d, %v", tt.id, mid, cid, ok, tt.mid, tt.cid, tt.ok)
		}
		if IsMailingLetter(tt.id) != tt.ok {
			t.Errorf("IsMailingLetter(%q) = %v, want %v", tt.id, !tt.ok, tt.ok)
		}
	}
}
