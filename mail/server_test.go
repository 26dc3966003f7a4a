package mail

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/go-cmp/cmp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
)

func TestIntakeStoresLetter(t *testing.T) {
	r := newRig(t, nil)
	r.mustSend("Masha@Example.RU", "plain-utf8.eml")

	it := r.onlyItem()
	got := []string{string(it.Channel), it.ExternalID, it.Queue, string(it.State), it.Subject}
	want := []string{"email", "plain-1@example.ru", "letters", "new", "Письмо Деду Морозу"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("item (-want +got):\n%s", diff)
	}
	c, err := r.st.Contact(context.Background(), it.ContactID)
	if err != nil {
		t.Fatalf("contact %d: %v", it.ContactID, err)
	}
	if c.Name != "Маша Иванова" || len(c.Identities) != 1 || c.Identities[0].Value != "masha@example.ru" {
		t.Errorf("contact = %+v, want Маша Иванова with masha@example.ru", c)
	}
	ms := r.messages(it.ID)
	if diff := cmp.Diff([]string{"in", "out"}, directions(ms)); diff != "" {
		t.Fatalf("messages (-want +got):\n%s", diff)
	}
	if ms[0].Text != "Дорогой Дедушка Мороз! Я хочу велосипед." {
		t.Errorf("letter text = %q", ms[0].Text)
	}
	var h struct{ Raw RawRef }
	if err := json.Unmarshal(ms[0].Headers, &h); err != nil {
		t.Fatal(err)
	}
	seg, err := os.ReadFile(filepath.Join(r.dir, "mail", h.Raw.File))
	if err != nil {
		t.Fatalf("raw letter: %v", err)
	}
	raw := seg[h.Raw.Offset : h.Raw.Offset+h.Raw.Length]
	if want := int64(len(corpus(t, "plain-utf8.eml")) + len("Return-Path: <Masha@Example.RU>\r\n")); h.Raw.Length != want {
		t.Errorf("raw letter length = %d, want %d", h.Raw.Length, want)
	}
	if !strings.HasPrefix(string(raw), "Return-Path: <Masha@Example.RU>\r\n") {
		t.Errorf("raw letter starts %q, want our Return-Path", raw[:40])
	}
	evs, err := r.st.Events(context.Background(), it.ID)
	if err != nil || len(evs) == 0 || evs[0].Type != EventReceived {
		t.Errorf("events = %+v, %v; want %q first", evs, err, EventReceived)
	}
}

func TestIntakeDedupes(t *testing.T) {
	tests := []struct {
		file   string
		wantID string
	}{
		{"plain-utf8.eml", "plain-1@example.ru"},
		{"no-message-id.eml", "sha256-"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r := newRig(t, nil)
			r.mustSend("a@example.org", tt.file)
			r.mustSend("a@example.org", tt.file)
			it := r.onlyItem()
			if !strings.HasPrefix(it.ExternalID, tt.wantID) {
				t.Errorf("external id = %q, want prefix %q", it.ExternalID, tt.wantID)
			}
			if n := len(r.messages(it.ID)); n != 2 {
				t.Errorf("messages = %d, want the letter and one auto-reply", n)
			}
		})
	}
}

func TestIntakeThreads(t *testing.T) {
	r := newRig(t, nil)
	r.mustSend("masha@example.ru", "plain-utf8.eml")
	first := r.onlyItem()
	autoID := r.messages(first.ID)[1].ExternalID

	reply := fmt.Sprintf("From: masha@example.ru\r\nTo: ded@moroz.test\r\nSubject: Re: hi\r\n"+
		"Message-ID: <answer-1@example.ru>\r\nIn-Reply-To: <%s>\r\n\r\nThank you!\r\n", autoID)
	if err := r.send("masha@example.ru", []string{"ded@moroz.test"}, []byte(reply)); err != nil {
		t.Fatal(err)
	}
	it := r.onlyItem()
	ms := r.messages(it.ID)
	if diff := cmp.Diff([]string{"in", "out", "in"}, directions(ms)); diff != "" {
		t.Fatalf("messages of the thread (-want +got):\n%s", diff)
	}
	evs, err := r.st.Events(context.Background(), it.ID)
	if err != nil {
		t.Fatal(err)
	}
	if last := evs[len(evs)-1]; last.Type != EventMessage {
		t.Errorf("last event = %q, want %q", last.Type, EventMessage)
	}
}

func TestIntakeReplyToClosedItemFollowsUp(t *testing.T) {
	r := newRig(t, nil)
	r.mustSend("masha@example.ru", "plain-utf8.eml")
	first := r.onlyItem()
	closed := acd.StateClosed
	if _, err := r.st.UpdateItem(context.Background(), first.ID, store.ItemUpdate{
		State: &closed, Event: store.Event{Type: "closed"}}); err != nil {
		t.Fatal(err)
	}
	r.mustSend("masha@example.ru", "reply.eml") // References plain-1@example.ru
	its := r.items()
	if len(its) != 2 || its[1].ParentID != first.ID {
		t.Fatalf("items = %+v, want a second one with parent %d", its, first.ID)
	}
}

func TestIntakeRefuses(t *testing.T) {
	r := newRig(t, func(c *Config) {
		c.MaxMessageBytes = 4096
		c.MaxRecipients = 2
		c.Mailboxes = map[string]string{"ded": "letters", "Snegurochka": "gifts"}
	})
	small := corpus(t, "plain-utf8.eml")
	big := append([]byte("Subject: big\r\n\r\n"), []byte(strings.Repeat("x", 70)+"\r\n")...)
	for len(big) < 8192 {
		big = append(big, []byte(strings.Repeat("y", 70)+"\r\n")...)
	}
	tests := []struct {
		name string
		to   []string
		raw  []byte
		want int
	}{
		{"known mailbox", []string{"ded@moroz.test"}, small, 250},
		{"mailbox case", []string{"snegurochka@LOCALHOST"}, small, 250},
		{"unknown mailbox", []string{"grinch@moroz.test"}, small, 550},
		{"other domain", []string{"ded@example.com"}, small, 550},
		{"no domain", []string{"ded"}, small, 501},
		{"oversized", []string{"ded@moroz.test"}, big, 552},
		{"too many recipients", []string{"ded@moroz.test", "ded@localhost", "ded@moroz.test"}, small, 452},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := smtpCode(r.send("kid@example.org", tt.to, tt.raw)); got != tt.want {
				t.Errorf("SMTP status = %d, want %d", got, tt.want)
			}
		})
	}
	if n := len(r.items()); n != 1 {
		t.Errorf("items = %d, want 1 (the known mailbox's; the rest refused)", n)
	}
}

func TestIntakeMailboxQueues(t *testing.T) {
	r := newRig(t, func(c *Config) { c.Mailboxes = map[string]string{"gifts": "gifts"} })
	if err := r.send("kid@example.org", []string{"gifts@moroz.test"}, corpus(t, "koi8-r.eml")); err != nil {
		t.Fatal(err)
	}
	if q := r.onlyItem().Queue; q != "gifts" {
		t.Errorf("queue = %q, want gifts", q)
	}
}

func TestIntakeKeepsBrokenLetters(t *testing.T) {
	for _, file := range []string{"garbage-header.eml", "wrong-boundary.eml", "bad-base64.eml"} {
		t.Run(file, func(t *testing.T) {
			r := newRig(t, nil)
			r.mustSend("kid@example.org", file)
			it := r.onlyItem()
			ms := r.messages(it.ID)
			if ms[0].Text == "" {
				t.Errorf("text of a broken letter is empty, want its raw text")
			}
			if !strings.Contains(string(it.Data), `"broken":true`) {
				t.Errorf("item data = %s, want broken marked", it.Data)
			}
		})
	}
}

func TestIntakeStoreDown(t *testing.T) {
	r := newRig(t, nil)
	r.st.Close()
	err := r.send("kid@example.org", []string{"ded@moroz.test"}, corpus(t, "plain-utf8.eml"))
	if got := smtpCode(err); got != 451 {
		t.Errorf("SMTP status with the store down = %d (%v), want 451", got, err)
	}
}

func TestAutoReplies(t *testing.T) {
	tests := []struct {
		name      string
		from      string
		files     []string
		closes    bool
		wantOut   int // auto-replies queued in all
		wantState acd.State
	}{
		{"plain letter", "masha@example.ru", []string{"plain-utf8.eml"}, false, 1, acd.StateNew},
		{"auto-submitted", "robot@example.net", []string{"auto-reply.eml"}, false, 0, acd.StateNew},
		{"null sender", "", []string{"plain-utf8.eml"}, false, 0, acd.StateNew},
		{"no-reply sender", "no-reply@example.net", []string{"alternative.eml"}, false, 0, acd.StateNew},
		{"own address", "ded@moroz.test", []string{"html-only.eml"}, false, 0, acd.StateNew},
		{"once per window", "masha@example.ru", []string{"plain-utf8.eml", "second-letter.eml"}, false, 1, acd.StateNew},
		{"once per window, threaded", "masha@example.ru", []string{"plain-utf8.eml", "reply.eml"}, false, 1, acd.StateNew},
		{"queue closes on auto-reply", "masha@example.ru", []string{"plain-utf8.eml"}, true, 1, acd.StateClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, func(c *Config) {
				if tt.closes {
					c.AutoReply.Closes = []string{DefaultQueue}
				}
			})
			for _, f := range tt.files {
				r.mustSend(tt.from, f)
			}
			if got := r.out.Pending(); got != tt.wantOut {
				t.Errorf("auto-replies queued = %d, want %d", got, tt.wantOut)
			}
			if st := r.items()[0].State; st != tt.wantState {
				t.Errorf("first item state = %q, want %q", st, tt.wantState)
			}
		})
	}
}

func TestAutoReplyContent(t *testing.T) {
	r := newRig(t, nil)
	r.mustSend("Masha@Example.RU", "plain-utf8.eml")
	it := r.onlyItem()
	out := r.messages(it.ID)[1]
	if !strings.HasSuffix(out.ExternalID, "@moroz.test") {
		t.Errorf("auto-reply Message-ID = %q, want one on moroz.test", out.ExternalID)
	}
	if !strings.Contains(out.Text, "Здравствуй, Маша Иванова!") || !strings.Contains(out.Text, "в ближайшее время") {
		t.Errorf("auto-reply text = %q, want it personalised", out.Text)
	}
	if out.Subject != "Re: Письмо Деду Морозу" || out.To != "Masha@Example.RU" {
		t.Errorf("auto-reply subject %q to %q", out.Subject, out.To)
	}
}

// lateRelay is a Sender whose relay address is set once the peer runs.
type lateRelay struct {
	mu    sync.Mutex
	relay *Relay
}

func (l *lateRelay) set(r *Relay) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.relay = r
}

func (l *lateRelay) Send(ctx context.Context, m Outgoing) error {
	l.mu.Lock()
	r := l.relay
	l.mu.Unlock()
	return r.Send(ctx, m)
}

// TestTwoMorozesStopAfterOneReply points two intakes' outboxes at each
// other: a letter from one Moroz's address to the other gets one
// auto-reply, and that auto-reply gets none.
func TestTwoMorozesStopAfterOneReply(t *testing.T) {
	done := make(chan Outgoing, 4)
	mk := func(domain string) (*rig, *lateRelay) {
		lr := &lateRelay{}
		out := NewOutbox(lr, OutboxConfig{Done: func(m Outgoing, err error) {
			if err != nil {
				t.Errorf("delivery of %s: %v", m.MessageID, err)
			}
			done <- m
		}}, discard())
		r := newRigOutbox(t, func(c *Config) { c.Domains = []string{domain} }, out)
		runOutbox(t, out)
		return r, lr
	}
	a, toB := mk("a.test")
	b, toA := mk("b.test")
	relayB, err := NewRelay(RelayConfig{Addr: b.addr, Helo: "a.test"})
	if err != nil {
		t.Fatal(err)
	}
	relayA, err := NewRelay(RelayConfig{Addr: a.addr, Helo: "b.test"})
	if err != nil {
		t.Fatal(err)
	}
	toB.set(relayB)
	toA.set(relayA)

	letter := "From: Ded Moroz <ded@b.test>\r\nTo: ded@a.test\r\nSubject: Hello, colleague\r\n" +
		"Message-ID: <colleague-1@b.test>\r\n\r\nHappy New Year!\r\n"
	if err := a.send("ded@b.test", []string{"ded@a.test"}, []byte(letter)); err != nil {
		t.Fatal(err)
	}
	// B's own address is not A's: A answers once.
	first := <-done
	if !strings.HasSuffix(first.MessageID, "@a.test") {
		t.Fatalf("first delivery %s, want A's auto-reply", first.MessageID)
	}
	if got := b.onlyItem(); !strings.Contains(string(got.Data), `"from":"ded-moroz@a.test"`) {
		t.Errorf("B's item = %s, want the auto-reply from A", got.Data)
	}
	if a.out.Pending()+b.out.Pending() != 0 {
		t.Errorf("letters still queued: A %d, B %d; want none", a.out.Pending(), b.out.Pending())
	}
	if n := len(b.messages(b.onlyItem().ID)); n != 1 {
		t.Errorf("B's item holds %d messages, want only A's auto-reply (B sent none)", n)
	}
}

func TestIntakeLineTooLong(t *testing.T) {
	r := newRig(t, nil)
	long := "From: kid@example.org\r\nSubject: long\r\n\r\n" + strings.Repeat("x", 3000) + "\r\n"
	err := r.send("kid@example.org", []string{"ded@moroz.test"}, []byte(long))
	if code := smtpCode(err); code == 250 {
		t.Errorf("a 3000-byte line: got 250, want it refused")
	}
	if n := len(r.items()); n != 0 {
		t.Errorf("items = %d, want 0", n)
	}
}

func TestServeStopsWithIdleClient(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(context.Background(), store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// The idle client never quits: the drain ends at once and drops it.
	srv, err := NewServer(Config{DataDir: dir, DrainTimeout: time.Nanosecond},
		ServerOptions{Store: st, Intake: IntakeFunc(st.FileItem)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()

	c, err := smtp.Dial(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example.org"); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve = %v, want nil after its context ended", err)
	}
	for range 2 {
		if err := srv.Close(); err != nil {
			t.Errorf("Close = %v, want nil (idempotent)", err)
		}
	}
	if err := c.Noop(); err == nil {
		t.Error("the idle client still talks to a stopped server")
	}
}

func TestIntakeBounceMarksContact(t *testing.T) {
	r := newRig(t, nil)
	r.mustSend("masha@example.ru", "plain-utf8.eml")
	it := r.onlyItem()
	autoID := r.messages(it.ID)[1].ExternalID

	raw := strings.ReplaceAll(string(corpus(t, "bounce.eml")), "original-1@moroz.test", autoID)
	if err := r.send("", []string{"ded-moroz@moroz.test"}, []byte(raw)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"in", "out", "in"}, directions(r.messages(r.onlyItem().ID))); diff != "" {
		t.Errorf("the bounce joins the thread (-want +got):\n%s", diff)
	}
	c, err := r.st.Contact(context.Background(), it.ContactID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Fields[bounceStatusField] != "5.1.1" || c.Fields[bounceMessageField] != autoID {
		t.Errorf("contact fields = %v, want the bounce recorded", c.Fields)
	}
	if got := r.out.Pending(); got != 1 {
		t.Errorf("auto-replies queued = %d, want 1 (none to the bounce)", got)
	}
}

func TestIntakeMessageIDTakenByAnotherSender(t *testing.T) {
	r := newRig(t, nil)
	r.mustSend("masha@example.ru", "plain-utf8.eml")
	forged := "From: grinch@example.net\r\nTo: ded@moroz.test\r\nSubject: mine\r\n" +
		"Message-ID: <plain-1@example.ru>\r\n\r\nA letter under someone else's id.\r\n"
	if err := r.send("grinch@example.net", []string{"ded@moroz.test"}, []byte(forged)); err != nil {
		t.Fatal(err)
	}
	its := r.items()
	if len(its) != 2 || !strings.HasPrefix(its[1].ExternalID, "sha256-") {
		t.Fatalf("items = %+v, want the second letter kept under a synthetic id", its)
	}
	if its[0].ContactID == its[1].ContactID {
		t.Errorf("both items belong to contact %d, want two senders", its[0].ContactID)
	}
}

func TestIntakeReplyIDTakenByAnotherSender(t *testing.T) {
	r := newRig(t, nil)
	r.mustSend("masha@example.ru", "plain-utf8.eml")
	r.mustSend("masha@example.ru", "reply.eml") // reply-1@example.ru joins the thread
	forged := strings.Replace(string(corpus(t, "reply.eml")), "From: Masha <masha@example.ru>", "From: grinch@example.net", 1)
	if err := r.send("grinch@example.net", []string{"ded@moroz.test"}, []byte(forged)); err != nil {
		t.Fatal(err)
	}
	it := r.onlyItem()
	ms := r.messages(it.ID)
	// Masha's letter, its auto-reply, her reply; then the forged reply and
	// the auto-reply to its (new) sender.
	if len(ms) != 5 {
		t.Fatalf("thread = %d messages, want 5", len(ms))
	}
	if !strings.HasPrefix(ms[3].ExternalID, "sha256-") || !strings.Contains(ms[3].From, "grinch") {
		t.Errorf("fourth message %q from %q; want the forged reply kept under a synthetic id",
			ms[3].ExternalID, ms[3].From)
	}
}
