package hub

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"
)

// server runs a hub behind an httptest server. Each connection registers
// with the member named by the query (?user=N&super=1&queue=Q) and runs
// before(c) first.
type server struct {
	hub    *Hub
	url    string
	before func(*Client)
	wg     sync.WaitGroup
	ready  chan *Client
}

func newServer(t *testing.T, opt Options) *server {
	t.Helper()
	s := &server{hub: New(opt), ready: make(chan *Client, 16)}
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		q := r.URL.Query()
		m := Member{UserID: int64(len(q.Get("user"))), Supervisor: q.Get("super") == "1"}
		if qq := q.Get("queue"); qq != "" {
			m.Queues = []string{qq}
		}
		c, err := s.hub.Register(conn, m)
		if err != nil {
			conn.Close()
			return
		}
		if s.before != nil {
			s.before(c)
		}
		s.ready <- c
		c.Serve(r.Context(), func([]byte) error { return nil })
	}))
	s.url = "ws" + strings.TrimPrefix(srv.URL, "http")
	t.Cleanup(func() {
		s.hub.Close()
		srv.Close()
	})
	return s
}

// dial connects with the member query q and waits until the server has
// registered the client.
func (s *server) dial(t *testing.T, q string) *websocket.Conn {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(s.url+"/?"+q, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	<-s.ready
	return conn
}

func read(t *testing.T, conn *websocket.Conn) string {
	t.Helper()
	_, b, err := conn.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

func TestQueuedMessagesShareOneFrame(t *testing.T) {
	s := newServer(t, Options{Gather: -1})
	s.before = func(c *Client) {
		s.hub.Publish(Audience{All: true}, []byte(`{"n":2}`))
		s.hub.Publish(Audience{All: true}, []byte(`{"n":3}`))
		c.SendFirst([]byte(`{"n":1}`))
	}
	conn := s.dial(t, "user=a")
	var got []map[string]int
	if err := json.Unmarshal([]byte(read(t, conn)), &got); err != nil {
		t.Fatalf("frame is not a JSON array: %v", err)
	}
	want := []map[string]int{{"n": 1}, {"n": 2}, {"n": 3}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("frame (-got +want):\n%s", diff)
	}
	s.hub.Publish(Audience{All: true}, []byte(`{"n":4}`))
	if got := read(t, conn); got != `{"n":4}` {
		t.Errorf("lone message frame %s, want it unwrapped", got)
	}
}

func TestAudience(t *testing.T) {
	s := newServer(t, Options{Gather: -1})
	conns := map[string]*websocket.Conn{
		"helper a":   s.dial(t, "user=a&queue=letters"),
		"helper b":   s.dial(t, "user=bb&queue=calls"),
		"supervisor": s.dial(t, "user=ccc&super=1&queue=letters"),
	}
	tests := []struct {
		name string
		a    Audience
		want int
	}{
		{"one user", Audience{Users: []int64{1}}, 1},
		{"supervisors", Audience{Supervisors: true}, 1},
		{"a queue", Audience{Queues: []string{"letters"}}, 2},
		{"parts overlap", Audience{Users: []int64{3}, Supervisors: true, Queues: []string{"letters"}}, 2},
		{"nobody", Audience{Queues: []string{"fax"}}, 0},
		{"all", Audience{All: true}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.hub.Publish(tt.a, []byte(strconv.Quote(tt.name))); got != tt.want {
				t.Errorf("delivered to %d clients, want %d", got, tt.want)
			}
		})
	}
	want := map[string][]string{
		"helper a":   {"one user", "a queue", "parts overlap", "all"},
		"helper b":   {"all"},
		"supervisor": {"supervisors", "a queue", "parts overlap", "all"},
	}
	for who, conn := range conns {
		if diff := cmp.Diff(readUntil(t, conn, "all"), want[who]); diff != "" {
			t.Errorf("%s received (-got +want):\n%s", who, diff)
		}
	}
}

// readUntil reads string messages, alone or packed in arrays, up to and
// including last.
func readUntil(t *testing.T, conn *websocket.Conn, last string) []string {
	t.Helper()
	var got []string
	for !slices.Contains(got, last) {
		frame := read(t, conn)
		var batch []string
		if err := json.Unmarshal([]byte(frame), &batch); err != nil {
			var one string
			if err := json.Unmarshal([]byte(frame), &one); err != nil {
				t.Fatalf("frame %s: %v", frame, err)
			}
			batch = []string{one}
		}
		got = append(got, batch...)
	}
	return got
}

func TestSlowClientIsDroppedOthersGoOn(t *testing.T) {
	s := newServer(t, Options{QueueLen: 4, Gather: -1})
	slow := s.dial(t, "user=a") // never reads
	fast := s.dial(t, "user=bb")
	big := []byte(`"` + strings.Repeat("x", 256<<10) + `"`)
	for i := 0; s.hub.Dropped() == 0; i++ {
		if i == 10000 {
			t.Fatal("a client that never reads was not dropped")
		}
		s.hub.Publish(Audience{Users: []int64{1}}, big)
	}
	if got := s.hub.Publish(Audience{All: true}, []byte(`{"after":1}`)); got != 1 {
		t.Errorf("after the drop, delivered to %d clients, want 1", got)
	}
	if got := read(t, fast); got != `{"after":1}` {
		t.Errorf("fast client got %s", got)
	}
	code := closeCode(t, slow)
	if code != CodeTooSlow {
		t.Errorf("slow client closed with %d, want %d", code, CodeTooSlow)
	}
}

// closeCode reads until the close frame and returns its code.
func closeCode(t *testing.T, conn *websocket.Conn) int {
	t.Helper()
	for {
		_, _, err := conn.ReadMessage()
		var ce *websocket.CloseError
		if err == nil {
			continue
		}
		if errors.As(err, &ce) {
			return ce.Code
		}
		t.Fatalf("read ended without a close frame: %v", err)
	}
}

func TestCloseUser(t *testing.T) {
	s := newServer(t, Options{Gather: -1})
	a1 := s.dial(t, "user=a")
	a2 := s.dial(t, "user=a")
	b := s.dial(t, "user=bb")
	if got := s.hub.CloseUser(1, CodeRevoked, "account disabled"); got != 2 {
		t.Errorf("closed %d sockets, want 2", got)
	}
	for i, conn := range []*websocket.Conn{a1, a2} {
		if code := closeCode(t, conn); code != CodeRevoked {
			t.Errorf("socket %d: close code %d, want %d", i, code, CodeRevoked)
		}
	}
	s.hub.Publish(Audience{All: true}, []byte(`1`))
	if got := read(t, b); got != `1` {
		t.Errorf("other user's socket got %s", got)
	}
}

func TestRegisterAfterClose(t *testing.T) {
	h := New(Options{})
	h.Close()
	h.Close()
	if _, err := h.Register(nil, Member{}); err != ErrClosed {
		t.Errorf("Register after Close: %v, want ErrClosed", err)
	}
}

func TestGatherPacksABusyStream(t *testing.T) {
	s := newServer(t, Options{Gather: time.Hour})
	conn := s.dial(t, "user=a")
	s.hub.Publish(Audience{All: true}, []byte(`"a"`))
	if got := read(t, conn); got != `"a"` {
		t.Fatalf("first message after a quiet spell: %s, want it alone and at once", got)
	}
	s.hub.Publish(Audience{All: true}, []byte(`"b"`)) // within the hour: waits
	s.hub.Publish(Audience{All: true}, []byte(`"c"`))
	s.hub.CloseUser(1, CodeRevoked, "bye") // closing sends what waits
	if got := read(t, conn); got != `["b","c"]` {
		t.Errorf("frame %s, want the waiting messages packed", got)
	}
	if code := closeCode(t, conn); code != CodeRevoked {
		t.Errorf("close code %d, want %d", code, CodeRevoked)
	}
}
