package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/config"
	"github.com/morozhq/moroz/console"
	"github.com/morozhq/moroz/logging"
	"github.com/morozhq/moroz/store"
)

// countingRelay is an in-process SMTP relay that counts letters per
// recipient and reports each on a channel.
type countingRelay struct {
	addr string
	each chan int // total so far, after each letter

	mu  sync.Mutex
	got map[string]int // guarded by mu
}

func newCountingRelay(t *testing.T) *countingRelay {
	t.Helper()
	s := &countingRelay{got: map[string]int{}, each: make(chan int, 1024)}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) {
		return &countingSession{s: s}, nil
	}))
	srv.Domain = "relay.test"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	var wg sync.WaitGroup
	wg.Go(func() { srv.Serve(ln) })
	t.Cleanup(func() { srv.Close(); wg.Wait() })
	return s
}

type countingSession struct {
	s  *countingRelay
	to []string
}

func (c *countingSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (c *countingSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	c.to = append(c.to, to)
	return nil
}
func (c *countingSession) Reset()        { c.to = nil }
func (c *countingSession) Logout() error { return nil }
func (c *countingSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	c.s.mu.Lock()
	total := 0
	for _, to := range c.to {
		c.s.got[to]++
	}
	for _, n := range c.s.got {
		total += n
	}
	c.s.mu.Unlock()
	select {
	case c.s.each <- total:
	default:
	}
	return nil
}

// running is a node serving in the background.
type running struct {
	n    *Node
	stop context.CancelFunc
	done chan error
}

func runNode(t *testing.T, cfg config.Config) *running {
	t.Helper()
	n, err := New(context.Background(), cfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{n: n, stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- n.Run(ctx) }()
	return r
}

func (r *running) close(t *testing.T) {
	t.Helper()
	r.stop()
	if err := <-r.done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// api calls the node's API with a bearer token and decodes the answer.
func api(t *testing.T, n *Node, token, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+n.Addr("http")+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// A mailing stopped midway by closing the node, then started again,
// reaches every contact exactly once.
func TestMailingAcrossRestart(t *testing.T) {
	const contacts = 40
	ctx := context.Background()
	relay := newCountingRelay(t)
	cfg := testConfig(t)
	cfg.Mail.Domains = []string{"ded-moroz.test"}
	cfg.Mail.Relay.Addr = relay.addr

	first := runNode(t, cfg)
	st := first.n.Store()
	for i := range contacts {
		addr := fmt.Sprintf("kid%d@example.org", i)
		c, err := st.ResolveContact(ctx, store.Identity{Kind: "email", Value: addr}, fmt.Sprintf("Kid %d", i))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.CreateItem(ctx, store.Item{Channel: acd.Email, Queue: "letters", ContactID: c.ID,
			ExternalID: addr}, store.Event{Type: "created"}); err != nil {
			t.Fatal(err)
		}
	}
	tp, err := st.PutTemplate(ctx, store.Template{Name: "greeting", Lang: "ru", Subject: "С Новым годом!", Body: "{{name}}, ура!"})
	if err != nil {
		t.Fatal(err)
	}
	token, err := console.CreateToken(ctx, st, store.RoleSupervisor, "script")
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ Mailing struct{ ID int64 } }
	draft := console.MailingDraft{Name: "new year", TemplateID: tp.ID, Since: time.Now().Add(-time.Hour)}
	if code := api(t, first.n, token, "POST", "/api/v1/mailings", draft, &created); code != http.StatusCreated {
		t.Fatalf("POST /api/v1/mailings: %d", code)
	}
	path := fmt.Sprintf("/api/v1/mailings/%d", created.Mailing.ID)
	refused := []struct {
		name, path string
		body       any
		want       int
	}{
		{"no such template", "/api/v1/mailings", console.MailingDraft{Name: "x", TemplateID: 999}, http.StatusBadRequest},
		{"negative rate", "/api/v1/mailings", console.MailingDraft{Name: "x", TemplateID: tp.ID, RatePerMin: -1}, http.StatusBadRequest},
		{"pause a draft", path + "/pause", nil, http.StatusConflict},
		{"no such action", path + "/explode", nil, http.StatusNotFound},
	}
	for _, tt := range refused {
		if code := api(t, first.n, token, "POST", tt.path, tt.body, nil); code != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, code, tt.want)
		}
	}
	if code := api(t, first.n, token, "POST", path+"/start", nil, nil); code != http.StatusOK {
		t.Fatalf("start: %d", code)
	}
	for total := 0; total < contacts/4; {
		select {
		case total = <-relay.each:
		case <-time.After(20 * time.Second): // a hang guard, not a timing assertion
			t.Fatal("the relay got no letters")
		}
	}
	first.close(t)

	second := runNode(t, cfg)
	defer second.close(t)
	var got struct {
		Mailing struct {
			State       string
			Total, Sent int64
		}
	}
	// The API is polled, as a script would; the guard only stops a hang.
	guard := time.After(20 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		api(t, second.n, token, "GET", path, nil, &got)
		if got.Mailing.State == "done" {
			break
		}
		select {
		case <-tick.C:
		case <-guard:
			t.Fatalf("mailing stuck: %+v", got.Mailing)
		}
	}
	relay.mu.Lock()
	defer relay.mu.Unlock()
	for i := range contacts {
		if n := relay.got[fmt.Sprintf("kid%d@example.org", i)]; n != 1 {
			t.Errorf("kid%d got %d letters, want 1", i, n)
		}
	}
	if got.Mailing.Total != contacts {
		t.Errorf("mailing total %d, want %d", got.Mailing.Total, contacts)
	}
}

func TestPublicURL(t *testing.T) {
	tests := []struct {
		name string
		h    config.HTTP
		want string
	}{
		{"public url", config.HTTP{PublicURL: "https://moroz.example.org/desk/", Origins: []string{"https://a.example"}},
			"https://moroz.example.org/desk"},
		{"first origin", config.HTTP{Origins: []string{"https://a.example", "https://b.example"}}, "https://a.example"},
		{"listener", config.HTTP{}, "http://127.0.0.1:8080"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := publicURL(tt.h, "127.0.0.1:8080"); got != tt.want {
				t.Errorf("publicURL: got %q, want %q", got, tt.want)
			}
		})
	}
}
