package mail

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/go-cmp/cmp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/store/pgtest"
)

// countSink is an in-process go-smtp relay that counts letters per
// recipient and calls onLetter after each.
type countSink struct {
	addr string

	mu       sync.Mutex
	got      map[string]int // guarded by mu: recipient to letters
	last     []byte         // guarded by mu: the latest letter
	onLetter func(total int)
}

func newCountSink(tb testing.TB) *countSink {
	tb.Helper()
	s := &countSink{got: map[string]int{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &countSession{s: s}, nil
	}))
	srv.Domain = "relay.test"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	tb.Cleanup(func() { srv.Close(); <-done })
	return s
}

func (s *countSink) counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.got {
		out[k] = v
	}
	return out
}

type countSession struct {
	s  *countSink
	to []string
}

func (c *countSession) Mail(string, *smtp.MailOptions) error { return nil }
func (c *countSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	c.to = append(c.to, to)
	return nil
}
func (c *countSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	c.s.mu.Lock()
	for _, to := range c.to {
		c.s.got[to]++
	}
	c.s.last = b
	total := 0
	for _, n := range c.s.got {
		total += n
	}
	f := c.s.onLetter
	c.s.mu.Unlock()
	if f != nil {
		f(total)
	}
	return nil
}
func (c *countSession) Reset()        { c.to = nil }
func (c *countSession) Logout() error { return nil }

// seedAudience stores n contacts who each wrote one letter, and returns
// their addresses.
func seedAudience(tb testing.TB, st store.Store, n int) []string {
	tb.Helper()
	ctx := context.Background()
	var addrs []string
	for i := range n {
		addr := fmt.Sprintf("child%05d@example.test", i)
		c, err := st.ResolveContact(ctx, store.Identity{Kind: "email", Value: addr}, fmt.Sprintf("Ребёнок %d", i))
		if err != nil {
			tb.Fatal(err)
		}
		_, _, err = st.CreateItem(ctx, store.Item{Channel: acd.Email, Queue: "letters", ContactID: c.ID,
			ExternalID: addr + ".letter"}, store.Event{Type: "created"})
		if err != nil {
			tb.Fatal(err)
		}
		addrs = append(addrs, addr)
	}
	return addrs
}

// mailRun is a Mailer and its Outbox running against a sink.
type mailRun struct {
	ml     *Mailer
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startMailRun(tb testing.TB, st store.Store, relayAddr string, progress func(store.Mailing)) *mailRun {
	tb.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	relay, err := NewRelay(RelayConfig{Addr: relayAddr})
	if err != nil {
		tb.Fatal(err)
	}
	mr := &mailRun{}
	out := NewStoredOutbox(Uncancelled(relay), st, OutboxConfig{Workers: 8, Mailings: true,
		Done: func(m Outgoing, err error) { mr.ml.OnDone(m, err) }}, log)
	un := &Unsubscribes{Key: []byte("0123456789abcdef0123456789abcdef"), BaseURL: "https://moroz.test",
		Store: st, Logger: log}
	mr.ml, err = NewMailer(MailerOptions{Store: st, Outbox: out, Unsubscribes: un, Logger: log,
		From: Address{Name: "Дед Мороз", Addr: "ded-moroz@moroz.test"}, Domain: "moroz.test", Progress: progress})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	mr.cancel = cancel
	mr.wg.Go(func() { _ = out.Run(ctx) })
	mr.wg.Go(func() { _ = mr.ml.Run(ctx) })
	return mr
}

// stop ends the mailer and its outbox, then releases what was not sent.
func (mr *mailRun) stop(tb testing.TB) {
	tb.Helper()
	mr.cancel()
	mr.wg.Wait()
	if err := mr.ml.Release(context.Background()); err != nil {
		tb.Errorf("Release: %v", err)
	}
}

func newMailing(tb testing.TB, ml *Mailer, st store.Store) store.Mailing {
	tb.Helper()
	ctx := context.Background()
	tp, err := st.PutTemplate(ctx, store.Template{Name: "greeting", Lang: "ru",
		Subject: "С Новым годом, {{name}}!", Body: "Дорогой {{name|друг}}, поздравляю!"})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := st.PutTemplate(ctx, store.Template{Name: "greeting", Lang: "en",
		Subject: "Happy New Year, {{name}}!", Body: "Dear {{name}}!"}); err != nil {
		tb.Fatal(err)
	}
	m, err := ml.Create(ctx, Draft{Name: "new year", TemplateID: tp.ID, Audience: Audience{Since: time.Now().Add(-time.Hour)}})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func openStore(t *testing.T, dir string) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// waitDone waits until the mailing's state is done, as Progress reports.
func waitState(t *testing.T, ch <-chan store.Mailing, id int64, state string) store.Mailing {
	t.Helper()
	for m := range ch {
		if m.ID == id && m.State == state {
			return m
		}
	}
	t.Fatalf("mailing %d never %s", id, state)
	return store.Mailing{}
}

func TestMailingExactlyOnceAcrossStop(t *testing.T) {
	dir := t.TempDir()
	exactlyOnce(t, func() store.Store { return openStore(t, dir) })
}

func TestMailingExactlyOncePostgres(t *testing.T) {
	url := pgtest.URL(t)
	exactlyOnce(t, func() store.Store {
		st, err := store.Open(context.Background(), store.Config{DB: url, DataDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

// exactlyOnce stops a mailing midway (its mailer and outbox, then the
// store), starts again on a reopened store and checks every contact got
// one letter and the unsubscribed one none.
func exactlyOnce(t *testing.T, open func() store.Store) {
	const n = 60
	st := open()
	addrs := seedAudience(t, st, n)
	sink := newCountSink(t)
	stopped := make(chan struct{})
	var once sync.Once
	sink.onLetter = func(total int) {
		if total >= n/3 {
			once.Do(func() { close(stopped) })
		}
	}

	first := startMailRun(t, st, sink.addr, nil)
	m := newMailing(t, first.ml, st)
	unsub := contactOf(t, st, addrs[7])
	if err := first.ml.opt.Unsubscribes.Unsubscribe(context.Background(), first.ml.opt.Unsubscribes.Token(m.ID, unsub)); err != nil {
		t.Fatal(err)
	}
	if _, err := first.ml.Start(context.Background(), m.ID); err != nil {
		t.Fatalf("Start: %v", err)
	}
	<-stopped
	first.stop(t)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	mid := sink.counts()

	st = open()
	defer st.Close()
	progress := make(chan store.Mailing, 1024)
	second := startMailRun(t, st, sink.addr, func(m store.Mailing) { progress <- m })
	second.ml.wakeUp()
	done := waitState(t, progress, m.ID, MailingDone)
	second.stop(t)

	got := sink.counts()
	for i, a := range addrs {
		want := 1
		if i == 7 {
			want = 0
		}
		if got[a] != want {
			t.Errorf("%s got %d letters, want %d", a, got[a], want)
		}
	}
	if len(mid) == 0 || len(mid) >= n-1 {
		t.Errorf("%d contacts had letters when the first run stopped; want the run stopped midway", len(mid))
	}
	if done.Total != n || done.Sent != n-1 {
		t.Errorf("mailing total %d sent %d, want %d and %d", done.Total, done.Sent, n, n-1)
	}
}

func contactOf(t *testing.T, st store.Store, addr string) int64 {
	t.Helper()
	c, err := st.ResolveContact(context.Background(), store.Identity{Kind: "email", Value: addr}, "")
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func TestMailingLetter(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	addrs := seedAudience(t, st, 1)
	c, _ := st.Contact(context.Background(), contactOf(t, st, addrs[0]))
	c.Lang = "en"
	if err := st.UpdateContact(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	sink := newCountSink(t)
	progress := make(chan store.Mailing, 64)
	mr := startMailRun(t, st, sink.addr, func(m store.Mailing) { progress <- m })
	m := newMailing(t, mr.ml, st)
	if _, err := mr.ml.Start(context.Background(), m.ID); err != nil {
		t.Fatal(err)
	}
	waitState(t, progress, m.ID, MailingDone)
	mr.stop(t)

	sink.mu.Lock()
	raw := string(sink.last)
	sink.mu.Unlock()
	for _, want := range []string{"Subject: =?utf-8?q?Happy_New_Year", "List-Unsubscribe: <https://moroz.test/unsubscribe/",
		"List-Unsubscribe-Post: List-Unsubscribe=One-Click", "Precedence: bulk", "Auto-Submitted: auto-generated",
		"List-Id: <mailing-"} {
		if !strings.Contains(raw, want) {
			t.Errorf("letter lacks %q:\n%s", want, raw)
		}
	}
}

func TestUnsubscribeEndpoint(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	id := contactOf(t, st, seedAudience(t, st, 1)[0])
	u := &Unsubscribes{Key: bytes.Repeat([]byte{7}, 32), BaseURL: "", Store: st,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	mux := http.NewServeMux()
	for p, h := range u.Routes() {
		mux.Handle(p, h)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	good := u.Token(3, id)
	forged := (&Unsubscribes{Key: bytes.Repeat([]byte{8}, 32)}).Token(3, id)

	tests := []struct {
		name, method, token string
		want                int
	}{
		{"page", http.MethodGet, good, http.StatusOK},
		{"forged page", http.MethodGet, forged, http.StatusNotFound},
		{"garbage", http.MethodPost, "not-a-token", http.StatusNotFound},
		{"forged post", http.MethodPost, forged, http.StatusNotFound},
		{"one click", http.MethodPost, good, http.StatusOK},
		{"again", http.MethodPost, good, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := url.Values{"List-Unsubscribe": {"One-Click"}}.Encode()
			req, _ := http.NewRequest(tt.method, srv.URL+"/unsubscribe/"+tt.token, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("%s: status %d, want %d", tt.name, resp.StatusCode, tt.want)
			}
		})
	}
	c, _ := st.Contact(context.Background(), id)
	if !Unsubscribed(c) {
		t.Errorf("contact %d not unsubscribed after the one-click POST: %v", id, c.Fields)
	}
}

// A recipient left "sending" by a crash (no Release) is not sent again:
// its letter may have reached the relay. The others are, and the mailing
// ends.
func TestMailingAfterCrashSendsNoSecond(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	defer st.Close()
	addrs := seedAudience(t, st, 4)
	sink := newCountSink(t)
	progress := make(chan store.Mailing, 64)
	mr := startMailRun(t, st, sink.addr, func(m store.Mailing) { progress <- m })
	m := newMailing(t, mr.ml, st)
	// What a crash leaves: recipients resolved, one marked sending, the
	// mailing running, no mailer to release it.
	ids := []int64{}
	for _, a := range addrs {
		ids = append(ids, contactOf(t, st, a))
	}
	if _, err := st.AddRecipients(ctx, m.ID, ids); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkRecipient(ctx, store.Recipient{MailingID: m.ID, ContactID: ids[2], State: recipientSending}); err != nil {
		t.Fatal(err)
	}
	m.State = MailingRunning
	if _, err := st.PutMailing(ctx, m); err != nil {
		t.Fatal(err)
	}
	mr.ml.wakeUp()
	done := waitState(t, progress, m.ID, MailingDone)
	mr.stop(t)

	want := map[string]int{addrs[0]: 1, addrs[1]: 1, addrs[3]: 1}
	if diff := cmp.Diff(sink.counts(), want); diff != "" {
		t.Errorf("letters per contact (-got +want):\n%s", diff)
	}
	if done.Sent != 3 || done.Total != 4 {
		t.Errorf("sent %d of %d, want 3 of 4", done.Sent, done.Total)
	}
}
