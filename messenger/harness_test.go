package messenger

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/logging"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/work"
)

// clock is a hand-moved clock for rate limits.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a real SQLite store, a real work.Service and a Messenger serving
// its routes on a loopback server.
type env struct {
	st     store.Store
	work   *work.Service
	m      *Messenger
	srv    *httptest.Server
	dir    string
	events chan acd.Event
	clock  *clock
}

// newEnv builds an env; adjust may change the options before New.
func newEnv(t testing.TB, adjust func(*Options)) *env {
	t.Helper()
	return newEnvOn(t, "", adjust)
}

// newEnvOn builds an env on the PostgreSQL database at db, or on SQLite
// when db is empty.
func newEnvOn(t testing.TB, db string, adjust func(*Options)) *env {
	t.Helper()
	return newEnvAt(t, t.TempDir(), db, adjust)
}

// newEnvAt builds an env whose data folder (and SQLite store, when db is
// empty) is dir, so that a test can stop one and start another on it.
func newEnvAt(t testing.TB, dir, db string, adjust func(*Options)) *env {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{DataDir: dir, DB: db})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ws, err := work.New(ctx, work.Options{Store: st, Logger: logging.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	e := &env{st: st, work: ws, dir: dir, events: make(chan acd.Event, 10000),
		clock: &clock{t: time.Date(2026, 12, 28, 12, 0, 0, 0, time.UTC)}}
	ws.Listen(func(ev acd.Event) {
		select {
		case e.events <- ev:
		default:
		}
	})
	opt := Options{Store: st, Work: ws, Logger: logging.Discard(), DataDir: dir, Now: e.clock.now}
	if adjust != nil {
		adjust(&opt)
	}
	e.m, err = New(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.m.Close() })
	mux := http.NewServeMux()
	for p, h := range e.m.Routes() {
		mux.Handle(p, h)
	}
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

// stop closes the env's server, Messenger, work service and store, as a
// shutdown of the process would.
func (e *env) stop() {
	e.srv.Close()
	e.m.Close()
	e.work.Close()
	e.st.Close()
}

// do sends a request to the env's server and returns the status, headers
// and body.
func (e *env) do(t *testing.T, method, path, ctype, body string, hdr map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// items returns every stored item of a channel.
func (e *env) items(t *testing.T, ch acd.Channel) []store.Item {
	t.Helper()
	its, err := e.st.ListItems(context.Background(), store.ItemFilter{Channel: ch})
	if err != nil {
		t.Fatal(err)
	}
	return its
}

// waitEvent reads router events until one of type typ for item id arrives.
func (e *env) waitEvent(t *testing.T, typ acd.EventType, id int64) acd.Event {
	t.Helper()
	timeout := time.After(20 * time.Second) // a hang guard, not a timing assertion
	for {
		select {
		case ev := <-e.events:
			if ev.Type == typ && (id == 0 || ev.ItemID == id) {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event for item %d", typ, id)
		}
	}
}

// helper makes a helper user.
func (e *env) helper(t *testing.T, login string) store.User {
	t.Helper()
	u, err := e.st.CreateUser(context.Background(), store.User{Login: login, Name: login, Role: store.RoleHelper, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	return u
}
