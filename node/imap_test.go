package node

import (
	"bytes"
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/logging"
	"github.com/morozhq/moroz/mail"
)

// literal is a letter for an IMAP APPEND.
type literal struct {
	*bytes.Reader
	size int64
}

func (l literal) Size() int64 { return l.size }

// newIMAPServer runs go-imap's in-memory IMAP server with user ded and
// one letter in INBOX. (package mail tests the poller against dovecot;
// here it is the node's wiring that is under test.)
func newIMAPServer(t *testing.T, letter []byte) string {
	t.Helper()
	u := imapmemserver.NewUser("ded", "secret")
	if err := u.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Append("INBOX", literal{bytes.NewReader(letter), int64(len(letter))}, &imap.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	mem := imapmemserver.New()
	mem.AddUser(u)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		InsecureAuth: true,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.Serve(ln) })
	t.Cleanup(func() {
		srv.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// A letter waiting in the configured IMAP mailbox becomes a routed item.
func TestLetterPolledByTheNode(t *testing.T) {
	letter := []byte("Return-Path: <petya@example.org>\r\nFrom: Петя <petya@example.org>\r\n" +
		"To: ded@ded-moroz.test\r\nSubject: Polled\r\nMessage-ID: <polled-1@example.org>\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\nХочу коньки.\r\n")
	cfg := testConfig(t)
	cfg.Mail.Domains = []string{"ded-moroz.test"}
	cfg.Mail.IMAP = mail.IMAPConfig{Addr: newIMAPServer(t, letter), TLS: mail.IMAPPlain,
		Username: "ded", Password: "secret", Interval: time.Hour}
	n, err := New(context.Background(), cfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan acd.Event, 100)
	stop := n.Work().Listen(func(e acd.Event) { events <- e })
	defer stop()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	select {
	case e := <-events:
		if e.Type != acd.EventEnqueued {
			t.Fatalf("first event: got %s, want enqueued", e.Type)
		}
		it, err := n.Store().ItemByExternalID(context.Background(), acd.Email, "polled-1@example.org")
		if err != nil {
			t.Fatalf("the polled letter's item: %v", err)
		}
		if it.ID != e.ItemID || it.Subject != "Polled" || it.Queue != "letters" {
			t.Errorf("item: id %d subject %q queue %q; want item %d, Polled, letters", it.ID, it.Subject, it.Queue, e.ItemID)
		}
	case <-time.After(20 * time.Second): // a hang guard, not a timing assertion
		t.Fatal("no item from the IMAP mailbox")
	}
}
