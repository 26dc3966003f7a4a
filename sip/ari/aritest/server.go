package aritest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Server is a fake Asterisk ARI: REST resources and the events websocket
// on an httptest server. Every request is checked against the documents
// (method, path, parameters, allowed values) and a mismatch fails the
// test; every event it sends is built from its model in events.json.
// Its methods are safe for concurrent use.
type Server struct {
	t        testing.TB
	spec     *Spec
	http     *httptest.Server
	app      string
	user     string
	password string
	upgrader websocket.Upgrader
	wg       sync.WaitGroup // media endpoints' readers

	mu         sync.Mutex
	conns      []*wsConn                    // guarded by mu
	connected  chan struct{}                // guarded by mu: closed and replaced on each new connection
	nconns     int                          // guarded by mu: connections ever made
	channels   map[string]*fakeChannel      // guarded by mu
	bridges    map[string]map[string]bool   // guarded by mu: bridge → its channels
	fail       []failRule                   // guarded by mu
	requests   []string                     // guarded by mu: "METHOD nickname" of every request
	awaiting   map[string][]chan struct{}   // guarded by mu: waiters of the next request of a kind
	phones     func(endpoint string) Answer // guarded by mu
	seq        int                          // guarded by mu
	paused     bool                         // guarded by mu: the events websocket is refused
	startup    time.Time                    // guarded by mu: when "Asterisk" started
	recordings map[string]map[string]any    // guarded by mu: live recordings by name
	closed     bool                         // guarded by mu
}

// Answer is what a phone the fake is asked to ring does.
type Answer struct {
	// Cause is the Q.850 cause it fails with; 0 answers.
	Cause int
}

type failRule struct {
	method, path string
	status       int
	message      string
}

type wsConn struct {
	mu sync.Mutex
	ws *websocket.Conn
}

// Options of a fake server.
type Options struct {
	// App, User and Password are what requests must carry; defaults
	// "moroz", "moroz", "secret".
	App, User, Password string
}

// New starts a fake ARI server that checks requests against the
// documents of FindDocs; it skips the test when they are not found,
// unless MOROZ_REQUIRE_PEERS=1. Cleanup closes it.
func New(t testing.TB, opt Options) *Server {
	t.Helper()
	spec := needSpec(t)
	if opt.App == "" {
		opt.App = "moroz"
	}
	if opt.User == "" {
		opt.User, opt.Password = "moroz", "secret"
	}
	s := &Server{t: t, spec: spec, app: opt.App, user: opt.User, password: opt.Password,
		connected: make(chan struct{}), channels: map[string]*fakeChannel{}, startup: time.Now().UTC(),
		bridges: map[string]map[string]bool{}}
	s.http = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	t.Cleanup(s.Close)
	return s
}

func needSpec(t testing.TB) *Spec {
	t.Helper()
	dir, err := FindDocs()
	if err == nil {
		var spec *Spec
		if spec, err = LoadSpec(dir); err == nil {
			return spec
		}
	}
	if RequirePeers() {
		t.Fatalf("%v (MOROZ_REQUIRE_PEERS=1)", err)
	}
	t.Skipf("%v: set %s to the folder of Asterisk's ARI documents", err, DocsEnv)
	return nil
}

// URL is the base of ARI, e.g. http://127.0.0.1:34567/ari.
func (s *Server) URL() string { return s.http.URL + "/ari" }

// Spec is the documents the server checks against.
func (s *Server) Spec() *Spec { return s.spec }

// Credentials are the user and password requests must carry.
func (s *Server) Credentials() (user, password string) { return s.user, s.password }

// Close drops every websocket and media endpoint and stops the server;
// it is idempotent.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	conns, chans := s.conns, s.channels
	s.conns, s.channels = nil, map[string]*fakeChannel{}
	s.mu.Unlock()
	for _, c := range conns {
		c.ws.Close()
	}
	for _, ch := range chans {
		ch.closeMedia()
	}
	s.http.CloseClientConnections()
	s.http.Close()
	s.wg.Wait()
}

// Requests lists "METHOD nickname" of every request so far, in order.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// NextRequest returns a channel closed when the next request of kind
// ("METHOD nickname", such as "POST addChannel") has been served.
func (s *Server) NextRequest(kind string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := make(chan struct{})
	if s.awaiting == nil {
		s.awaiting = map[string][]chan struct{}{}
	}
	s.awaiting[kind] = append(s.awaiting[kind], c)
	return c
}

func (s *Server) noteRequest(kind string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, kind)
	for _, c := range s.awaiting[kind] {
		close(c)
	}
	delete(s.awaiting, kind)
}

// Fail makes the next request of method on path (below /ari, without
// the query) fail with status and ARI's message; a path ending in "*"
// matches every path it is a prefix of.
func (s *Server) Fail(method, path string, status int, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, failRule{method, path, status, message})
}

// takeFailure returns and removes the rule the request matches.
func (s *Server) takeFailure(method, path string) (failRule, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.fail {
		prefix, wild := strings.CutSuffix(f.path, "*")
		if f.method == method && (path == f.path || wild && strings.HasPrefix(path, prefix)) {
			s.fail = append(s.fail[:i], s.fail[i+1:]...)
			return f, true
		}
	}
	return failRule{}, false
}

// serveHTTP checks a request against the documents, then serves it.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, "/ari")
	if !ok {
		s.reject(w, r, http.StatusNotFound, "not below /ari")
		return
	}
	if u, p, ok := r.BasicAuth(); !ok || u != s.user || p != s.password {
		s.t.Errorf("ari fake: %s %s without the right basic auth", r.Method, r.URL.Path)
		writeError(w, http.StatusUnauthorized, "Authentication required")
		return
	}
	op, vars, err := s.spec.match(r.Method, path)
	if err != nil {
		s.reject(w, r, http.StatusNotFound, err.Error())
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if bad := op.check(r.URL.Query(), len(body) > 0); len(bad) > 0 {
		s.reject(w, r, http.StatusBadRequest, op.nickname+": "+strings.Join(bad, "; "))
		return
	}
	if len(body) > 0 && !json.Valid(body) {
		s.reject(w, r, http.StatusBadRequest, op.nickname+": body is not JSON")
		return
	}
	defer s.noteRequest(r.Method + " " + op.nickname) // once served
	if f, ok := s.takeFailure(r.Method, path); ok {
		writeError(w, f.status, f.message)
		return
	}
	s.route(w, r, op, vars)
}

// reject fails the test: Moroz made a request the documents do not allow.
func (s *Server) reject(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.t.Errorf("ari fake: %s %s: %s", r.Method, r.URL.RequestURI(), msg)
	writeError(w, status, msg)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// serveEvents upgrades the events websocket of the app.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	if app := r.URL.Query().Get("app"); app != s.app {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("app %q is not %q", app, s.app))
		return
	}
	s.mu.Lock()
	paused := s.paused
	s.mu.Unlock()
	if paused {
		writeError(w, http.StatusServiceUnavailable, "Asterisk is starting")
		return
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &wsConn{ws: ws}
	s.mu.Lock()
	s.conns = append(s.conns, c)
	s.nconns++
	close(s.connected)
	s.connected = make(chan struct{})
	s.mu.Unlock()
	s.wg.Go(func() { s.drain(c) })
}

// drain reads (and drops) what the client sends, so closes are seen.
func (s *Server) drain(c *wsConn) {
	for {
		if _, _, err := c.ws.ReadMessage(); err != nil {
			s.mu.Lock()
			for i, x := range s.conns {
				if x == c {
					s.conns = append(s.conns[:i], s.conns[i+1:]...)
					break
				}
			}
			s.mu.Unlock()
			c.ws.Close()
			return
		}
	}
}

// Connections returns how many websockets were ever opened and a channel
// closed at the next one.
func (s *Server) Connections() (int, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nconns, s.connected
}

// DropEvents closes every events websocket, as a network fault would.
func (s *Server) DropEvents() {
	s.mu.Lock()
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for _, c := range conns {
		c.ws.Close()
	}
}

// Pause refuses events websockets (503) until Resume, as an Asterisk
// that is down would; REST requests are still served.
func (s *Server) Pause() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paused = true
}

// Resume accepts events websockets again.
func (s *Server) Resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paused = false
}

// Send builds an event of type typ from its model, with fields set, and
// sends it on every websocket; a build error fails the test.
func (s *Server) Send(typ string, fields map[string]any) {
	ev, err := s.spec.BuildEvent(typ, s.app, fields)
	if err != nil {
		s.t.Errorf("ari fake: %v", err)
		return
	}
	data, _ := json.Marshal(ev)
	s.mu.Lock()
	conns := append([]*wsConn(nil), s.conns...)
	s.mu.Unlock()
	for _, c := range conns {
		c.mu.Lock()
		c.ws.WriteMessage(websocket.TextMessage, data)
		c.mu.Unlock()
	}
}

// SendRaw sends data as it is on every websocket (a malformed message).
func (s *Server) SendRaw(data []byte) {
	s.mu.Lock()
	conns := append([]*wsConn(nil), s.conns...)
	s.mu.Unlock()
	for _, c := range conns {
		c.mu.Lock()
		c.ws.WriteMessage(websocket.TextMessage, data)
		c.mu.Unlock()
	}
}

// RequirePeers reports whether MOROZ_REQUIRE_PEERS=1: then what a test
// needs must be there, and its absence fails instead of skipping.
func RequirePeers() bool { return os.Getenv("MOROZ_REQUIRE_PEERS") == "1" }

func itoa(n int) string { return strconv.Itoa(n) }
