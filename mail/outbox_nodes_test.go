package mail

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/store/pgtest"
)

// nodeLetter is letter i to its own recipient, with its Message-ID in its
// header so the sink can count it.
func nodeLetter(i int) Outgoing {
	id := fmt.Sprintf("node-%d@moroz.test", i)
	return Outgoing{MessageID: id, From: "ded@moroz.test", To: []string{fmt.Sprintf("kid%d@example.org", i)},
		Raw: []byte("Message-ID: <" + id + ">\r\nSubject: hi\r\n\r\nhello\r\n")}
}

func openPG(t *testing.T, url string) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{DB: url})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// runUntilDone runs o until the test ends.
func runUntilDone(t *testing.T, o *Outbox) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = o.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// waitNonePending waits until st holds no pending letter.
func waitNonePending(t *testing.T, st store.Store) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ls, err := st.PendingOut(context.Background(), acd.Email, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(ls) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d letters still pending, the first %s", len(ls), ls[0].MessageID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOutboxesOfTwoNodesSendOnce runs the outboxes of two nodes (each its
// own pool) on one PostgreSQL database and a relay that counts each
// Message-ID: letters queued before they start, letters each queues while
// running and letters whose first attempt fails (released with their
// backoff, retried by either) each reach the relay exactly once.
func TestOutboxesOfTwoNodesSendOnce(t *testing.T) {
	const before, during = 40, 40
	url := pgtest.URL(t)
	stA, stB := openPG(t, url), openPG(t, url)
	sink := newIDSink(t)
	idle := NewStoredOutbox(nil, stA, OutboxConfig{}, discard()) // never run
	for i := range before {
		if err := idle.Enqueue(nodeLetter(i)); err != nil {
			t.Fatal(err)
		}
	}

	var (
		mu     sync.Mutex
		failed = map[string]bool{}
		sentBy = map[string]int{}
	)
	node := func(name string, st store.Store) *Outbox {
		relay, err := NewRelay(RelayConfig{Addr: sink.addr, Helo: "moroz.test"})
		if err != nil {
			t.Fatal(err)
		}
		flaky := senderFunc(func(ctx context.Context, m Outgoing) error {
			mu.Lock()
			first := !failed[m.MessageID] && strings.HasSuffix(strings.Split(m.MessageID, "@")[0], "3")
			failed[m.MessageID] = true
			mu.Unlock()
			if first {
				return errors.New("451 try again later")
			}
			err := relay.Send(ctx, m)
			if err == nil {
				mu.Lock()
				sentBy[name]++
				mu.Unlock()
			}
			return err
		})
		return NewStoredOutbox(flaky, st, OutboxConfig{Workers: 3, Backoff: 10 * time.Millisecond,
			Poll: 20 * time.Millisecond, Lease: 10 * time.Second}, discard())
	}
	a, b := node("a", stA), node("b", stB)
	runUntilDone(t, a)
	runUntilDone(t, b)
	for i := before; i < before+during; i++ {
		o := a
		if i%2 == 1 {
			o = b
		}
		if err := o.Enqueue(nodeLetter(i)); err != nil {
			t.Fatal(err)
		}
	}
	sink.waitLetters(t, before+during)
	waitNonePending(t, stA)

	ids := sink.ids()
	for i := range before + during {
		m := nodeLetter(i)
		if got := ids[m.To[0]]; len(got) != 1 {
			t.Errorf("%s: got letters %v, want its one", m.To[0], got)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("sent by a %d, by b %d", sentBy["a"], sentBy["b"])
	if n := sink.letters(); n != before+during {
		t.Errorf("letters the relay took: got %d, want %d, each once", n, before+during)
	}
}

// Environment of the node TestOutboxOfKilledNodeIsTakenOver starts and kills.
const killedNodeDBEnv = "MOROZ_OUTBOX_KILLED_DB"

// TestOutboxOfKilledNodeIsTakenOver starts a node whose relay never
// answers, so that it holds a letter's lease mid-send, and a second node
// on the same PostgreSQL database. The second leaves the letter alone
// while the first lives, and sends it once the first is killed (SIGKILL)
// and its lease has run out.
func TestOutboxOfKilledNodeIsTakenOver(t *testing.T) {
	url := pgtest.URL(t)
	st := openPG(t, url)
	letter := nodeLetter(1)
	if err := NewStoredOutbox(nil, st, OutboxConfig{}, discard()).Enqueue(letter); err != nil {
		t.Fatal(err)
	}
	cmd, stdout := startChild(t, "TestOutboxKilledNodeChild", killedNodeDBEnv+"="+url)
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines, begun := bufio.NewScanner(stdout), false
	for !begun && lines.Scan() {
		begun = lines.Text() == "SENDING "+letter.MessageID
	}
	if !begun {
		t.Fatal("the first node never began sending the letter")
	}

	sink := newIDSink(t)
	relay, err := NewRelay(RelayConfig{Addr: sink.addr, Helo: "moroz.test"})
	if err != nil {
		t.Fatal(err)
	}
	other := NewStoredOutbox(relay, st, OutboxConfig{Poll: 20 * time.Millisecond, Lease: 5 * time.Second}, discard())
	runUntilDone(t, other)
	time.Sleep(300 * time.Millisecond) // fifteen polls of the other node, all within the live lease
	if n := sink.letters(); n != 0 {
		t.Fatalf("letters sent while the first node held the lease: got %d, want 0", n)
	}
	held, err := st.OutLetter(context.Background(), 1)
	if err != nil || held.ClaimedBy == "" || held.ClaimedBy == other.cfg.Claimant {
		t.Fatalf("the letter before the kill: claimed by %q (error %v), want the first node", held.ClaimedBy, err)
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	sink.waitLetters(t, 1)
	waitNonePending(t, st)
	if got := sink.ids()[letter.To[0]]; sink.letters() != 1 || len(got) != 1 {
		t.Errorf("after the kill: got %d letters %v, want the one letter once", sink.letters(), got)
	}
	got, err := st.OutLetter(context.Background(), 1)
	if err != nil || got.State != store.OutSent || got.Attempts != 1 {
		t.Errorf("the letter: got state %q after %d attempts (error %v), want sent after 1", got.State, got.Attempts, err)
	}
}

// TestOutboxKilledNodeChild is the node TestOutboxOfKilledNodeIsTakenOver
// kills: its relay takes the letter and never answers. It runs only when
// started by that test.
func TestOutboxKilledNodeChild(t *testing.T) {
	url := os.Getenv(killedNodeDBEnv)
	if url == "" {
		t.Skip("the node TestOutboxOfKilledNodeIsTakenOver starts and kills")
	}
	st, err := store.Open(context.Background(), store.Config{DB: url})
	if err != nil {
		t.Fatal(err)
	}
	hang := senderFunc(func(_ context.Context, m Outgoing) error {
		fmt.Println("SENDING " + m.MessageID)
		select {} // until SIGKILL
	})
	o := NewStoredOutbox(hang, st, OutboxConfig{Poll: 20 * time.Millisecond, Lease: 5 * time.Second}, discard())
	_ = o.Run(context.Background())
}

// TestMailingOnTwoNodesPostgres runs one mailing from the mailers of two
// nodes on one PostgreSQL database at once: both hand recipients over
// and both outboxes send, yet every contact gets exactly one letter, each
// delivered once, and the mailing ends done with every recipient sent.
func TestMailingOnTwoNodesPostgres(t *testing.T) {
	const n = 120
	url := pgtest.URL(t)
	stA, stB := openPG(t, url), openPG(t, url)
	addrs := seedAudience(t, stA, n)
	sink := newIDSink(t)
	a := startMailRun(t, stA, sink.addr, nil)
	defer a.stop(t)
	m := newMailing(t, a.ml, stA)
	if _, err := a.ml.Start(context.Background(), m.ID); err != nil {
		t.Fatal(err)
	}
	b := startMailRun(t, stB, sink.addr, nil) // its first pass finds the mailing running
	defer b.stop(t)
	sink.waitRecipients(t, n)
	waitSent(t, stA, m.ID, n)

	ids := sink.ids()
	for _, addr := range addrs {
		if got := len(ids[addr]); got != 1 {
			t.Errorf("%s: got %d distinct letters %v, want 1", addr, got, ids[addr])
		}
	}
	if got := sink.letters(); got != n {
		t.Errorf("letters the relay took: got %d, want %d, each once", got, n)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		got, err := stB.Mailing(context.Background(), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State == MailingDone {
			break
		}
		if time.Now().After(deadline) {
			queued, _ := stB.CountRecipients(context.Background(), m.ID, recipientQueued)
			t.Fatalf("mailing: got state %q with %d recipients queued, want done", got.State, queued)
		}
	}
}
