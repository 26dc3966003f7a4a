package console

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/morozhq/moroz/store"
)

// CookieName is the console's session cookie.
const CookieName = "moroz_session"

// Principal is who makes a request: a logged-in user or an API token.
type Principal struct {
	UserID  int64 // 0 for a token
	TokenID int64 // 0 for a user
	Login   string
	Name    string
	Role    store.Role
	Lang    string
}

var errUnauthenticated = errors.New("unauthenticated")

// authenticate finds the principal of r from its bearer token or its
// session cookie, re-reading the user each time so that a role change or a
// disabled account takes effect at once.
func (s *Server) authenticate(r *http.Request) (Principal, error) {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		secret, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || !strings.HasPrefix(secret, TokenPrefix) {
			return Principal{}, errUnauthenticated
		}
		t, err := s.opt.Store.TokenByHash(ctx, digest(secret))
		if err != nil {
			return Principal{}, errUnauthenticated
		}
		return Principal{TokenID: t.ID, Login: "token:" + t.Name, Name: t.Name, Role: t.Role}, nil
	}
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return Principal{}, errUnauthenticated
	}
	sess, err := s.opt.Store.SessionByHash(ctx, digest(c.Value), s.opt.Now())
	if err != nil {
		return Principal{}, errUnauthenticated
	}
	return s.userPrincipal(ctx, sess.UserID)
}

func (s *Server) userPrincipal(ctx context.Context, id int64) (Principal, error) {
	u, err := s.opt.Store.User(ctx, id)
	if err != nil || u.Disabled {
		return Principal{}, errUnauthenticated
	}
	return Principal{UserID: u.ID, Login: u.Login, Name: u.Name, Role: u.Role, Lang: u.Lang}, nil
}

type loginRequest struct {
	Login    string `json:"login"`
	Password string `json:"password"`
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	addr := clientAddr(r)
	if wait, ok := s.limits.allow(addr, req.Login, s.opt.Now()); !ok {
		w.Header().Set("Retry-After", wait)
		writeError(w, http.StatusTooManyRequests, "too many login attempts; try again later")
		return
	}
	u, err := s.opt.Store.UserByLogin(r.Context(), req.Login)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Error("login: read user", "login", req.Login, "err", err)
		writeError(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	hash := dummyHash
	if err == nil {
		hash = u.PasswordHash
	}
	if !CheckPassword(hash, req.Password) || err != nil || u.Disabled {
		s.log.Warn("login failed", "login", req.Login, "peer", addr)
		writeError(w, http.StatusUnauthorized, "wrong login or password")
		return
	}
	secret := newSecret(32)
	now := s.opt.Now()
	sess := store.Session{Hash: digest(secret), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(s.opt.SessionTTL)}
	if err := s.opt.Store.CreateSession(r.Context(), sess); err != nil {
		s.log.Error("login: store session", "login", u.Login, "err", err)
		writeError(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    secret,
		Path:     "/",
		Expires:  sess.ExpiresAt,
		HttpOnly: true,
		Secure:   s.secureCookie(r),
		SameSite: http.SameSiteStrictMode,
	})
	s.log.Info("login", "helper", u.Login, "peer", addr)
	writeJSON(w, http.StatusOK, map[string]any{"user": userJSON(u)})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
		if err := s.opt.Store.DeleteSession(r.Context(), digest(c.Value)); err != nil {
			writeError(w, http.StatusServiceUnavailable, "store unavailable")
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: s.secureCookie(r), SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

// secureCookie says whether the session cookie gets the Secure flag: always
// over TLS and on non-loopback hosts unless configured off. Browsers treat
// loopback as a secure context, but plain-HTTP tests and tools do not.
func (s *Server) secureCookie(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if s.opt.InsecureCookies {
		return false
	}
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Login limits: a client address gets loginPerAddr attempts a minute, an
// account loginPerAccount, each with that many at once.
const (
	loginPerAddr    = 20
	loginPerAccount = 10
	limitsMax       = 10000 // entries before idle ones are dropped
)

// loginLimits rate-limits logins per client address and per account.
type loginLimits struct {
	mu       sync.Mutex
	addrs    map[string]*rate.Limiter // guarded by mu
	accounts map[string]*rate.Limiter // guarded by mu
}

func newLoginLimits() *loginLimits {
	return &loginLimits{addrs: map[string]*rate.Limiter{}, accounts: map[string]*rate.Limiter{}}
}

// allow takes one attempt for addr and account; when refused it returns
// the seconds to wait, for Retry-After.
func (l *loginLimits) allow(addr, account string, now time.Time) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := limiterLocked(l.addrs, addr, loginPerAddr, now)
	b := limiterLocked(l.accounts, strings.ToLower(account), loginPerAccount, now)
	ra, rb := a.ReserveN(now, 1), b.ReserveN(now, 1)
	if ra.DelayFrom(now) == 0 && rb.DelayFrom(now) == 0 {
		return "", true
	}
	wait := max(ra.DelayFrom(now), rb.DelayFrom(now))
	ra.CancelAt(now)
	rb.CancelAt(now)
	return strconvSeconds(wait), false
}

func limiterLocked(m map[string]*rate.Limiter, key string, perMinute int, now time.Time) *rate.Limiter {
	if l, ok := m[key]; ok {
		return l
	}
	if len(m) >= limitsMax {
		for k, l := range m {
			if l.TokensAt(now) >= float64(l.Burst()) {
				delete(m, k)
			}
		}
	}
	l := rate.NewLimiter(rate.Every(time.Minute/time.Duration(perMinute)), perMinute)
	m[key] = l
	return l
}

func strconvSeconds(d time.Duration) string {
	return strconv.Itoa(int(d/time.Second) + 1)
}
