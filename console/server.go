package console

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	softphoneweb "github.com/morozhq/moroz/softphone-web"

	"github.com/morozhq/moroz/console/hub"
	"github.com/morozhq/moroz/stats"
	"github.com/morozhq/moroz/store"
)

// Options configure a Server. Store and Logger are required.
type Options struct {
	Store  store.Store
	Logger *slog.Logger
	// Ready reports whether the node can take work (store reachable,
	// migrations done); nil means Store.Ping.
	Ready func(ctx context.Context) error
	// Live returns the live statistics; nil serves empty ones.
	Live func(ctx context.Context) (stats.Live, error)
	// Gatherer serves /metrics; nil means prometheus.DefaultGatherer.
	Gatherer prometheus.Gatherer
	// Origins are extra origins allowed for cookie-authenticated requests.
	Origins []string
	// InsecureCookies drops the Secure flag from the session cookie.
	InsecureCookies bool
	// SessionTTL is how long a login lasts; 0 means 12h.
	SessionTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Mounts are handlers of other packages served on this listener, by
	// ServeMux pattern (the web form, a webhook, the chat widget). They
	// authenticate their callers themselves. A pattern in CrossOrigin is
	// exempt from the cross-origin protection: it is meant to be called
	// from other sites (CORS is then the handler's business).
	Mounts      map[string]http.Handler
	CrossOrigin []string
	// Desk is the work service the websocket's requests go to; nil serves
	// no websocket (503).
	Desk Desk
	// Grace is how long a helper whose last socket dropped stays away
	// before being logged out; 0 means DefaultGrace.
	Grace time.Duration
	// Hub tunes the websocket fan-out; zero fields take the hub's defaults.
	Hub hub.Options
	// Web is the browser app served at /; nil means softphoneweb.FS.
	Web fs.FS
	// Softphone answers the browser softphone's signalling; nil refuses
	// it (softphone.go).
	Softphone Softphone
	// Typing carries helpers' typing indicators to chat visitors; nil
	// refuses them (typing.go).
	Typing Typing
	// Mailings runs the personalised mailings; nil serves their reads
	// only (mailings.go).
	Mailings Mailings
}

// Server serves the console and the API. Its Handler is safe for concurrent
// use.
type Server struct {
	opt      Options
	log      *slog.Logger
	limits   *loginLimits
	handler  http.Handler
	hub      *hub.Hub
	upgrader websocket.Upgrader
	presence *presence
	track    *tracker
	audit    *auditLog

	board       *throttle // the supervisors' wallboard
	queueCounts *throttle // the helpers' queue counts
	stopListen  func()
	closeOnce   sync.Once
}

// New returns a Server, or an error naming an option that is wrong.
func New(opt Options) (*Server, error) {
	if opt.Store == nil || opt.Logger == nil {
		return nil, fmt.Errorf("console: Store and Logger are required")
	}
	if opt.SessionTTL == 0 {
		opt.SessionTTL = 12 * time.Hour
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Gatherer == nil {
		opt.Gatherer = prometheus.DefaultGatherer
	}
	if opt.Ready == nil {
		opt.Ready = opt.Store.Ping
	}
	if opt.Web == nil {
		opt.Web = softphoneweb.FS
	}
	if opt.Hub.Logger == nil {
		opt.Hub.Logger = opt.Logger.With("component", "hub")
	}
	if opt.Hub.ReadLimit == 0 {
		opt.Hub.ReadLimit = maxRequest
	}
	s := &Server{opt: opt, log: opt.Logger, limits: newLoginLimits(), hub: hub.New(opt.Hub),
		track: newTracker(), audit: &auditLog{log: opt.Logger, now: opt.Now, st: opt.Store}}
	s.upgrader = websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 16384, CheckOrigin: s.checkOrigin}
	h, err := s.routes()
	if err != nil {
		return nil, err
	}
	s.handler = h
	if opt.Desk != nil {
		s.presence = newPresence(opt.Desk, opt.Grace, opt.Logger)
		s.board = newThrottle(boardEvery, s.publishBoard)
		s.queueCounts = newThrottle(boardEvery, s.publishQueues)
		s.stopListen = opt.Desk.Listen(s.onEvent)
	}
	return s, nil
}

// Handler returns the root handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops listening to the desk, closes every websocket and stops the
// grace timers (helpers keep their status). Call it before closing the
// Desk. It is idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		if s.stopListen != nil {
			s.stopListen()
		}
		s.hub.Close()
		if s.opt.Desk != nil {
			s.board.close()
			s.queueCounts.close()
			s.presence.close()
		}
	})
	return nil
}

func (s *Server) routes() (http.Handler, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.opt.Gatherer, promhttp.HandlerOpts{}))

	mux.HandleFunc("POST /api/v1/session", s.login)
	mux.HandleFunc("DELETE /api/v1/session", s.logout)
	s.api(mux, "GET /api/v1/me", store.RoleHelper, s.me)
	s.api(mux, "GET /api/v1/items", store.RoleHelper, s.listItems)
	s.api(mux, "GET /api/v1/items/{id}", store.RoleHelper, s.getItem)
	s.api(mux, "GET /api/v1/items/{id}/history", store.RoleHelper, s.itemHistory)
	s.api(mux, "GET /api/v1/helpers", store.RoleHelper, s.listHelpers)
	s.api(mux, "GET /api/v1/calls", store.RoleSupervisor, s.listCalls)
	s.api(mux, "GET /api/v1/stats/live", store.RoleHelper, s.liveStats)
	s.api(mux, "GET /api/v1/users", store.RoleSupervisor, s.listUsers)
	s.api(mux, "POST /api/v1/users", store.RoleAdmin, s.createUser)
	s.api(mux, "PATCH /api/v1/users/{id}", store.RoleAdmin, s.updateUser)
	s.api(mux, "GET /api/v1/tokens", store.RoleAdmin, s.listTokens)
	s.api(mux, "POST /api/v1/tokens", store.RoleAdmin, s.createToken)
	s.api(mux, "DELETE /api/v1/tokens/{id}", store.RoleAdmin, s.deleteToken)
	s.api(mux, "PATCH /api/v1/me", store.RoleHelper, s.patchMe)
	s.api(mux, "GET /api/v1/contacts/{id}", store.RoleHelper, s.getContact)
	s.api(mux, "GET /api/v1/templates", store.RoleHelper, s.listTemplates)
	s.api(mux, "POST /api/v1/templates", store.RoleSupervisor, s.putTemplate)
	s.api(mux, "PUT /api/v1/templates/{id}", store.RoleSupervisor, s.putTemplate)
	s.api(mux, "DELETE /api/v1/templates/{id}", store.RoleSupervisor, s.deleteTemplate)
	s.api(mux, "GET /api/v1/audit", store.RoleSupervisor, s.listAudit)
	s.mailRoutes(mux)
	mux.HandleFunc("GET /api/v1/ws", s.websocket)
	mux.Handle("/", webHandler(s.opt.Web))
	for pattern, h := range s.opt.Mounts {
		mux.Handle(pattern, h)
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint")
	})

	cop := http.NewCrossOriginProtection()
	for _, o := range s.opt.Origins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("console: origin %q: %w", o, err)
		}
	}
	for _, pattern := range s.opt.CrossOrigin {
		cop.AddInsecureBypassPattern(pattern)
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, "cross-origin request refused")
	}))
	return cop.Handler(mux), nil
}

// api registers h at pattern for callers holding at least role.
func (s *Server) api(mux *http.ServeMux, pattern string, role store.Role, h func(http.ResponseWriter, *http.Request, Principal)) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if err != nil {
			writeError(w, http.StatusUnauthorized, "authentication required")
			return
		}
		if !p.Role.AtLeast(role) {
			writeError(w, http.StatusForbidden, "needs the "+string(role)+" role")
			return
		}
		h(w, r, p)
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.opt.Ready(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// webHandler serves the browser app with headers that keep it to its own
// origin: a strict content security policy, no framing, no sniffing.
func webHandler(web fs.FS) http.Handler {
	files := http.FileServerFS(web)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeError(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; connect-src 'self'; "+
			"frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
