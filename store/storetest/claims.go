package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
)

// mailRow is a due letter to kid@x with Message-ID id.
func mailRow(id string) store.OutLetter {
	return store.OutLetter{MessageID: id, To: []string{"kid@x"}, Raw: []byte("L\r\n")}
}

// tgRow is a due Telegram reply to chat.
func tgRow(id string, chat int) store.OutLetter {
	return store.OutLetter{Channel: acd.Telegram, MessageID: id, To: []string{fmt.Sprint(chat)},
		Raw: fmt.Appendf(nil, `{"chat_id":%d,"text":"%s"}`, chat, id)}
}

// claimIDs claims for claimant and returns the MessageIDs it got, in
// order, checking that each row is marked as held by it.
func claimIDs(t *testing.T, s store.Store, c store.OutClaim) []string {
	t.Helper()
	if c.Lease == 0 {
		c.Lease = time.Hour
	}
	ls, err := s.ClaimOut(t.Context(), c)
	if err != nil {
		t.Fatalf("claim for %s: %v", c.Claimant, err)
	}
	ids := []string{}
	for _, l := range ls {
		if l.ClaimedBy != c.Claimant || l.ClaimedUntil.IsZero() || l.State != store.OutPending {
			t.Errorf("claimed %s: got claimed by %q until %v in state %q, want %s's lease on a pending row",
				l.MessageID, l.ClaimedBy, l.ClaimedUntil, l.State, c.Claimant)
		}
		ids = append(ids, l.MessageID)
	}
	return ids
}

func queueRows(t *testing.T, s store.Store, ls ...store.OutLetter) []store.OutLetter {
	t.Helper()
	var out []store.OutLetter
	for _, l := range ls {
		out = append(out, must[store.OutLetter](t, "enqueue "+l.MessageID)(enqueue(t, s, l, true)))
	}
	return out
}

// testOutboxClaims checks that senders sharing the outbox split its rows
// by claims: a row is claimed by one sender at a time, by channel and
// Message-ID prefix, only when due, and taken over when its lease runs
// out; a retry releases it; leases are renewed and released.
func testOutboxClaims(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	rows := queueRows(t, s, mailRow("a@m"), mailRow("b@m"), mailRow("mailing-1-1@m"), mailRow("c@m"))
	later := mailRow("later@m")
	later.NextAt = time.Now().Add(time.Hour)
	queueRows(t, s, later)
	held := mailRow("held@m")
	held.ClaimedBy, held.ClaimedUntil = "node-c", time.Now().Add(time.Hour)
	if got := queueRows(t, s, held)[0]; got.ClaimedBy != "node-c" {
		t.Errorf("claimed at enqueue: got claimed by %q, want node-c", got.ClaimedBy)
	}

	replies := store.OutClaim{Claimant: "node-a", Prefix: "mailing-", Except: true, Limit: 2}
	diff(t, "a's first claim", claimIDs(t, s, replies), []string{"a@m", "b@m"})
	replies.Claimant = "node-b"
	diff(t, "b's claim", claimIDs(t, s, replies), []string{"c@m"})
	diff(t, "b's second claim", claimIDs(t, s, replies), []string{})
	mailings := store.OutClaim{Claimant: "node-b", Prefix: "mailing-"}
	diff(t, "mailings", claimIDs(t, s, mailings), []string{"mailing-1-1@m"})
	diff(t, "telegram", claimIDs(t, s, store.OutClaim{Channel: acd.Telegram, Claimant: "node-b"}), []string{})

	// b's retry of c releases it with its backoff; a retry by a sender
	// that does not hold the row changes nothing.
	c := must[store.OutLetter](t, "c")(s.OutLetter(ctx, rows[3].ID))
	wrong := c
	wrong.ClaimedBy, wrong.Attempts, wrong.LastError = "node-a", 1, "421 busy"
	wantErr(t, "a marks b's row", s.MarkOut(ctx, wrong), store.ErrClaimed)
	c.Attempts, c.LastError, c.NextAt = 1, "421 busy", time.Now().Add(-time.Second)
	c.ClaimedUntil = time.Time{} // no lease kept: released
	wantErr(t, "b marks its retry", s.MarkOut(ctx, c), nil)
	got := must[store.OutLetter](t, "c retried")(s.OutLetter(ctx, c.ID))
	if got.ClaimedBy != "" || !got.ClaimedUntil.IsZero() || got.Attempts != 1 {
		t.Errorf("c after its retry: got claimed by %q until %v, %d attempts; want released after 1",
			got.ClaimedBy, got.ClaimedUntil, got.Attempts)
	}
	replies.Claimant = "node-a"
	diff(t, "a takes the released row", claimIDs(t, s, replies), []string{"c@m"})

	// A lease that runs out lets another sender take the row over.
	short := store.OutLetter{MessageID: "short@m", To: []string{"kid@x"}, Raw: []byte("S\r\n")}
	queueRows(t, s, short)
	diff(t, "b's short lease", claimIDs(t, s, store.OutClaim{Claimant: "node-b", Prefix: "short@",
		Lease: time.Millisecond}), []string{"short@m"})
	time.Sleep(20 * time.Millisecond)
	diff(t, "a takes over", claimIDs(t, s, store.OutClaim{Claimant: "node-a", Prefix: "short@"}),
		[]string{"short@m"})

	// Renewing extends only the claimant's own leases; releasing frees them.
	until, err := s.RenewOut(ctx, "node-a", 2*time.Hour)
	wantErr(t, "renew", err, nil)
	a := must[store.OutLetter](t, "a renewed")(s.OutLetter(ctx, rows[0].ID))
	if !a.ClaimedUntil.Equal(until) || a.ClaimedBy != "node-a" {
		t.Errorf("a after renewal: got claimed by %q until %v, want node-a until %v", a.ClaimedBy, a.ClaimedUntil, until)
	}
	wantErr(t, "release", s.ReleaseOut(ctx, "node-a"), nil)
	replies.Claimant, replies.Limit = "node-b", 10
	diff(t, "b after a released", claimIDs(t, s, replies), []string{"a@m", "b@m", "c@m", "short@m"})
	_, err = s.ClaimOut(ctx, store.OutClaim{Lease: time.Hour})
	wantErr(t, "no claimant", err, store.ErrInvalid)
	_, err = s.RenewOut(ctx, "node-a", 0)
	wantErr(t, "no lease", err, store.ErrInvalid)
}

// testOutboxClaimsInOrder checks that an in-order claim takes only the
// oldest pending row of each recipient, so a chat's replies go out one at
// a time in order whichever sender takes them, also while the oldest
// waits for its retry.
func testOutboxClaimsInOrder(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	rows := queueRows(t, s, tgRow("r1", 7), tgRow("r2", 7), tgRow("r3", 8), tgRow("r4", 7))
	tg := func(who string) store.OutClaim {
		return store.OutClaim{Channel: acd.Telegram, Claimant: who, InOrder: true, Lease: time.Hour}
	}
	diff(t, "a's claim", claimIDs(t, s, tg("node-a")), []string{"r1", "r3"})
	diff(t, "b while a holds the heads", claimIDs(t, s, tg("node-b")), []string{})

	r1 := must[store.OutLetter](t, "r1")(s.OutLetter(ctx, rows[0].ID))
	r1.State, r1.Attempts = store.OutSent, 1
	wantErr(t, "r1 sent", s.MarkOut(ctx, r1), nil)
	diff(t, "b after r1 was sent", claimIDs(t, s, tg("node-b")), []string{"r2"})

	// b keeps its lease on r2 for its retry, then lets it go.
	r2 := must[store.OutLetter](t, "r2")(s.OutLetter(ctx, rows[1].ID))
	r2.Attempts, r2.LastError, r2.NextAt = 1, "502", time.Now().Add(-time.Second)
	wantErr(t, "r2 retried by b", s.MarkOut(ctx, r2), nil)
	kept := must[store.OutLetter](t, "r2 kept")(s.OutLetter(ctx, r2.ID))
	if kept.ClaimedBy != "node-b" || !kept.ClaimedUntil.Equal(r2.ClaimedUntil) || kept.Attempts != 1 {
		t.Errorf("r2 after b's retry: got claimed by %q until %v, %d attempts; want b's lease kept, 1 attempt",
			kept.ClaimedBy, kept.ClaimedUntil, kept.Attempts)
	}
	diff(t, "a while b retries r2", claimIDs(t, s, tg("node-a")), []string{})
	r2.NextAt, r2.ClaimedUntil = time.Now().Add(time.Hour), time.Time{}
	wantErr(t, "r2 released until later", s.MarkOut(ctx, r2), nil)
	diff(t, "a while r2 waits", claimIDs(t, s, tg("node-a")), []string{})

	r2.State, r2.ClaimedBy = store.OutFailed, ""
	wantErr(t, "r2 given up", s.MarkOut(ctx, r2), nil)
	diff(t, "a after r2 was given up", claimIDs(t, s, tg("node-a")), []string{"r4"})
}

// testOutboxClaimsConcurrent has two senders claim small batches at once
// until nothing is left, and checks that every row was claimed once.
func testOutboxClaimsConcurrent(t *testing.T, open Open) {
	const n = 120
	s := open(t)
	var ls []store.OutLetter
	for i := range n {
		ls = append(ls, mailRow(fmt.Sprintf("r%d@m", i)))
	}
	must[store.FiledLetter](t, "queue")(s.FileLetter(t.Context(), nil, ls))

	var (
		mu    sync.Mutex
		times = map[string]int{}
		wg    sync.WaitGroup
	)
	for _, who := range []string{"node-a", "node-b", "node-c"} {
		wg.Go(func() {
			for {
				got, err := s.ClaimOut(t.Context(), store.OutClaim{Claimant: who, Lease: time.Hour, Limit: 7})
				if err != nil {
					t.Errorf("claim for %s: %v", who, err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, l := range got {
					times[l.MessageID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(times) != n {
		t.Errorf("rows claimed: got %d, want %d", len(times), n)
	}
	for id, k := range times {
		if k != 1 {
			t.Errorf("row %s: claimed %d times, want once", id, k)
		}
	}
}

// testOutboxPrune checks that pruning deletes sent rows older than the
// cut in batches, oldest first, and keeps pending and failed rows.
func testOutboxPrune(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	rows := queueRows(t, s, mailRow("s1@m"), mailRow("s2@m"), mailRow("s3@m"), mailRow("f@m"), mailRow("p@m"))
	for i, l := range rows[:4] {
		l.State, l.Attempts = store.OutSent, 1
		if i == 3 {
			l.State = store.OutFailed
		}
		wantErr(t, "mark "+l.MessageID, s.MarkOut(ctx, l), nil)
	}
	n, err := s.PruneOut(ctx, time.Now().Add(-time.Hour), 10)
	if err != nil || n != 0 {
		t.Errorf("prune before the rows: got %d (error %v), want 0", n, err)
	}
	cut := time.Now().Add(time.Hour)
	var batches []int
	for {
		n, err := s.PruneOut(ctx, cut, 2)
		wantErr(t, "prune", err, nil)
		batches = append(batches, n)
		if n < 2 {
			break
		}
	}
	diff(t, "batches", batches, []int{2, 1})
	for i, l := range rows {
		_, err := s.OutLetter(ctx, l.ID)
		want := error(nil)
		if i < 3 {
			want = store.ErrNotFound
		}
		wantErr(t, "row "+l.MessageID+" after pruning", err, want)
	}
}

// testQueueRecipientsKeepDone checks that a hand-over repeated by a node
// that read a recipient pending before another node sent its letter
// leaves the recipient sent.
func testQueueRecipientsKeepDone(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	tpl := must[store.Template](t, "template")(s.PutTemplate(ctx, store.Template{Name: "new year"}))
	m := must[store.Mailing](t, "mailing")(s.PutMailing(ctx, store.Mailing{Name: "greetings", TemplateID: tpl.ID}))
	c := must[store.Contact](t, "contact")(s.ResolveContact(ctx, store.Identity{Kind: "email", Value: "a@x"}, ""))
	must[int](t, "add")(s.AddRecipients(ctx, m.ID, []int64{c.ID}))
	h := store.Handover{Recipient: store.Recipient{MailingID: m.ID, ContactID: c.ID, State: "queued"},
		Letter: mailRow("mailing-1-1@m")}
	must[[]store.OutLetter](t, "first hand-over")(s.QueueRecipients(ctx, []store.Handover{h}))
	wantErr(t, "sent", s.MarkRecipient(ctx, store.Recipient{MailingID: m.ID, ContactID: c.ID, State: "sent"}), nil)
	must[[]store.OutLetter](t, "hand-over again")(s.QueueRecipients(ctx, []store.Handover{h}))
	if n := must[int](t, "count sent")(s.CountRecipients(ctx, m.ID, "sent")); n != 1 {
		t.Errorf("sent recipients after a second hand-over: got %d, want 1", n)
	}
}
