package console

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

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
}

// Server serves the console and the API. Its Handler is safe for concurrent
// use.
type Server struct {
	opt     Options
	log     *slog.Logger
	limits  *loginLimits
	handler http.Handler
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
	s := &Server{opt: opt, log: opt.Logger, limits: newLoginLimits()}
	h, err := s.routes()
	if err != nil {
		return nil, err
	}
	s.handler = h
	return s, nil
}

// Handler returns the root handler.
func (s *Server) Handler() http.Handler { return s.handler }

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
	s.api(mux, "GET /api/v1/helpers", store.RoleHelper, s.listHelpers)
	s.api(mux, "GET /api/v1/calls", store.RoleSupervisor, s.listCalls)
	s.api(mux, "GET /api/v1/stats/live", store.RoleHelper, s.liveStats)
	s.api(mux, "GET /api/v1/users", store.RoleSupervisor, s.listUsers)
	s.api(mux, "POST /api/v1/users", store.RoleAdmin, s.createUser)
	s.api(mux, "PATCH /api/v1/users/{id}", store.RoleAdmin, s.updateUser)
	s.api(mux, "GET /api/v1/tokens", store.RoleAdmin, s.listTokens)
	s.api(mux, "POST /api/v1/tokens", store.RoleAdmin, s.createToken)
	s.api(mux, "DELETE /api/v1/tokens/{id}", store.RoleAdmin, s.deleteToken)
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
