package node

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/smtp"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/logging"
	"github.com/morozhq/moroz/store"
)

// relaySink is an in-process SMTP server standing in for the relay that
// Moroz sends replies through.
type relaySink struct {
	addr string
	got  chan []byte
}

func newRelaySink(t *testing.T) *relaySink {
	t.Helper()
	s := &relaySink{got: make(chan []byte, 8)}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) {
		return &sinkSession{got: s.got}, nil
	}))
	srv.Domain = "relay.test"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	var wg sync.WaitGroup
	wg.Go(func() { srv.Serve(ln) })
	t.Cleanup(func() {
		srv.Close()
		ln.Close()
		wg.Wait()
	})
	return s
}

type sinkSession struct{ got chan []byte }

func (s *sinkSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (s *sinkSession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (s *sinkSession) Reset()                                 {}
func (s *sinkSession) Logout() error                          { return nil }
func (s *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	s.got <- b
	return err
}

func (s *relaySink) next(t *testing.T) []byte {
	t.Helper()
	select {
	case b := <-s.got:
		return b
	case <-time.After(20 * time.Second): // a hang guard, not a timing assertion
		t.Fatal("the relay got nothing")
		return nil
	}
}

// A letter sent to the node's SMTP address becomes an item, is
// auto-replied through the relay, and a helper's answer goes out in its
// thread.
func TestLetterThroughTheNode(t *testing.T) {
	ctx := context.Background()
	relay := newRelaySink(t)
	cfg := testConfig(t)
	cfg.Mail.Domains = []string{"ded-moroz.test"}
	cfg.Mail.AutoReply.Enabled = true
	cfg.Mail.Relay.Addr = relay.addr
	n, err := New(ctx, cfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- n.Run(runCtx) }()
	defer func() {
		cancel()
		<-done
	}()

	letter := "From: Маша <masha@example.org>\r\nTo: ded@ded-moroz.test\r\nSubject: =?UTF-8?B?0KXQvtGH0YMg0YHQsNC90LrQuA==?=\r\n" +
		"Message-ID: <wish-1@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nДорогой Дедушка Мороз, хочу санки.\r\n"
	if err := smtp.SendMail(n.Addr("smtp"), nil, "masha@example.org", []string{"ded@ded-moroz.test"}, []byte(letter)); err != nil {
		t.Fatalf("send the letter: %v", err)
	}
	// 250 came back: the item is stored.
	it, err := n.Store().ItemByExternalID(ctx, acd.Email, "wish-1@example.org")
	if err != nil {
		t.Fatalf("the letter's item after 250: %v", err)
	}
	if it.Subject != "Хочу санки" || it.Queue != "letters" {
		t.Errorf("item: subject %q queue %q", it.Subject, it.Queue)
	}
	auto := relay.next(t)
	if !bytes.Contains(auto, []byte("Auto-Submitted: auto-replied")) || !bytes.Contains(auto, []byte("wish-1@example.org")) {
		t.Errorf("auto-reply lacks Auto-Submitted or the thread:\n%s", auto)
	}

	elf, err := n.Store().CreateUser(ctx, store.User{Login: "elf", Role: store.RoleHelper, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan acd.Event, 100)
	stop := n.Work().Listen(func(e acd.Event) { events <- e })
	defer stop()
	if err := n.Work().SetStatus(ctx, elf.ID, acd.StatusAvailable, ""); err != nil {
		t.Fatal(err)
	}
	for e := range events {
		if e.Type == acd.EventOffered && e.ItemID == it.ID {
			break
		}
	}
	if err := n.Work().Accept(ctx, it.ID, elf.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Work().Reply(ctx, it.ID, elf.ID, store.Message{Text: "Будут тебе санки!"}); err != nil {
		t.Fatal(err)
	}
	answer := string(relay.next(t))
	for _, want := range []string{"In-Reply-To: <wish-1@example.org>", "masha@example.org", "Subject: =?utf-8?q?Re:_"} {
		if !strings.Contains(answer, want) {
			t.Errorf("the answer lacks %q:\n%s", want, answer)
		}
	}
}
