package mail

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	netmail "net/mail"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/morozhq/moroz/store"
)

// Environment of the process TestMailingCrash starts and kills.
const (
	mailingCrashDirEnv   = "MOROZ_MAILING_CRASH_DIR"
	mailingCrashRelayEnv = "MOROZ_MAILING_CRASH_RELAY"
	mailingCrashIDEnv    = "MOROZ_MAILING_CRASH_ID"
)

// TestMailingCrash kills a process sending a mailing with SIGKILL when a
// third of its letters reached the relay, sends the rest from a new
// mailer on the same store, and checks that every contact got exactly one
// letter (one Message-ID); a letter the relay took in the instant before
// the kill may arrive twice, with the same Message-ID.
func TestMailingCrash(t *testing.T) {
	const n = 150
	dir := t.TempDir()
	st := openStore(t, dir)
	addrs := seedAudience(t, st, n)
	sink := newIDSink(t)
	mr := startMailRun(t, st, sink.addr, nil)
	m := newMailing(t, mr.ml, st)
	mr.stop(t) // the mailing is a draft: nothing was sent
	st.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestMailingCrashChild$")
	cmd.Env = append(os.Environ(), mailingCrashDirEnv+"="+dir, mailingCrashRelayEnv+"="+sink.addr,
		mailingCrashIDEnv+"="+strconv.FormatInt(m.ID, 10))
	cmd.Stdout, cmd.Stderr = t.Output(), t.Output()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sink.waitLetters(t, n/3)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	before := sink.letters()

	st = openStore(t, dir)
	defer st.Close()
	checkNoSending(t, st, m.ID)
	progress := make(chan store.Mailing, 1024)
	mr = startMailRun(t, st, sink.addr, func(m store.Mailing) { progress <- m })
	defer mr.stop(t)
	sink.waitRecipients(t, n)
	waitSent(t, st, m.ID, n)

	ids := sink.ids()
	for _, a := range addrs {
		if got := len(ids[a]); got != 1 {
			t.Errorf("%s: got %d distinct letters %v, want 1", a, got, ids[a])
		}
	}
	extra := sink.letters() - n
	t.Logf("letters before the kill %d, delivered twice %d", before, extra)
	if extra > 8 { // at most one per outbox worker was between the 250 and its mark
		t.Errorf("delivered twice: got %d letters, want at most the 8 in flight", extra)
	}
}

// TestMailingCrashChild starts the mailing TestMailingCrash names and
// sends it until killed; it runs only when started by TestMailingCrash.
func TestMailingCrashChild(t *testing.T) {
	dir := os.Getenv(mailingCrashDirEnv)
	if dir == "" {
		t.Skip("the process TestMailingCrash starts and kills")
	}
	id, err := strconv.ParseInt(os.Getenv(mailingCrashIDEnv), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t, dir)
	mr := startMailRun(t, st, os.Getenv(mailingCrashRelayEnv), nil)
	if _, err := mr.ml.Start(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	select {} // until SIGKILL
}

// checkNoSending checks what a crash left: the mailing running, each
// recipient sent, pending or queued (the hand-over is one commit), at
// most maxInFlight queued.
func checkNoSending(t *testing.T, st store.Store, mailingID int64) {
	t.Helper()
	m, err := st.Mailing(context.Background(), mailingID)
	if err != nil {
		t.Fatal(err)
	}
	pending, err := st.PendingRecipients(context.Background(), mailingID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	queued := m.Total - m.Sent - int64(len(pending))
	t.Logf("after the kill: %d of %d sent, %d pending, %d queued", m.Sent, m.Total, len(pending), queued)
	if m.State != MailingRunning || queued < 0 || queued > maxInFlight {
		t.Errorf("mailing after the kill: got state %q with %d queued, want running with 0 to %d queued",
			m.State, queued, maxInFlight)
	}
}

// waitSent waits until the store counts want letters of the mailing sent.
func waitSent(t *testing.T, st store.Store, mailingID int64, want int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		m, err := st.Mailing(context.Background(), mailingID)
		if err != nil {
			t.Fatal(err)
		}
		if m.Sent == int64(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailing %d: %d sent, want %d", mailingID, m.Sent, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// idSink is an SMTP relay that records each recipient's Message-IDs.
type idSink struct {
	addr string

	mu     sync.Mutex
	byRcpt map[string]map[string]int // guarded by mu: recipient, Message-ID, deliveries
	total  int                       // guarded by mu
	change chan struct{}             // capacity 1: a letter arrived
}

func newIDSink(t *testing.T) *idSink {
	t.Helper()
	s := &idSink{byRcpt: map[string]map[string]int{}, change: make(chan struct{}, 1)}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &idSession{s: s}, nil
	}))
	srv.Domain = "relay.test"
	srv.ErrorLog = slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return s
}

func (s *idSink) add(rcpts []string, id string) {
	s.mu.Lock()
	for _, to := range rcpts {
		if s.byRcpt[to] == nil {
			s.byRcpt[to] = map[string]int{}
		}
		s.byRcpt[to][id]++
		s.total++
	}
	s.mu.Unlock()
	select {
	case s.change <- struct{}{}:
	default:
	}
}

func (s *idSink) letters() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

func (s *idSink) ids() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]string{}
	for to, ids := range s.byRcpt {
		for id := range ids {
			out[to] = append(out[to], id)
		}
	}
	return out
}

func (s *idSink) wait(t *testing.T, what string, done func() bool) {
	t.Helper()
	timeout := time.After(time.Minute)
	for !done() {
		select {
		case <-s.change:
		case <-timeout:
			t.Fatalf("relay: never %s", what)
		}
	}
}

func (s *idSink) waitLetters(t *testing.T, n int) {
	t.Helper()
	s.wait(t, fmt.Sprintf("got %d letters", n), func() bool { return s.letters() >= n })
}

func (s *idSink) waitRecipients(t *testing.T, n int) {
	t.Helper()
	s.wait(t, fmt.Sprintf("reached %d recipients", n), func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.byRcpt) >= n
	})
}

type idSession struct {
	s  *idSink
	to []string
}

func (c *idSession) Mail(string, *smtp.MailOptions) error { return nil }
func (c *idSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	c.to = append(c.to, to)
	return nil
}
func (c *idSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	msg, err := netmail.ReadMessage(bytes.NewReader(b))
	if err != nil {
		return err
	}
	c.s.add(c.to, msg.Header.Get("Message-Id"))
	return nil
}
func (c *idSession) Reset()        { c.to = nil }
func (c *idSession) Logout() error { return nil }
