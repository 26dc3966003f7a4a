package sip

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// Credentials gives the registrar the digest secret of a user (a
// helper's extension): HA1, the lower-case hex MD5 of
// "user:realm:password" (RFC 2617 §3.2.2.2; see HA1), so that no password
// is kept. The service layer implements it over its helpers; it must be
// safe for concurrent use. ok is false for an unknown user.
type Credentials interface {
	SIPHA1(ctx context.Context, user string) (ha1 string, ok bool, err error)
}

// HA1 is the digest secret of user in realm with password (RFC 2617
// §3.2.2.2), what Credentials returns.
func HA1(user, realm, password string) string {
	return md5hex(user + ":" + realm + ":" + password)
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Registrar defaults (Config.Registrar fields left zero).
const (
	DefaultRealm         = "moroz"
	DefaultNonceTTL      = 30 * time.Second
	DefaultMaxFailures   = 5
	DefaultFailureWindow = 5 * time.Minute
	DefaultBanFor        = 15 * time.Minute
	DefaultMinExpires    = 60 * time.Second
	DefaultMaxExpires    = time.Hour
)

// RegistrarConfig turns on REGISTER (RFC 3261 §10) with digest
// authentication (RFC 3261 §22.4, RFC 2617). Without Credentials the edge
// answers REGISTER 405.
type RegistrarConfig struct {
	// Credentials looks up users' passwords; nil disables the registrar.
	Credentials Credentials
	// Realm is the digest realm. Default DefaultRealm.
	Realm string
	// NonceTTL is how long a challenge's nonce may be answered. Default DefaultNonceTTL.
	NonceTTL time.Duration
	// MaxFailures failed authentications from one IP address within
	// FailureWindow ban that address for BanFor. Defaults DefaultMaxFailures,
	// DefaultFailureWindow, DefaultBanFor.
	MaxFailures   int
	FailureWindow time.Duration
	BanFor        time.Duration
	// MinExpires and MaxExpires bound a binding's lifetime; a shorter
	// request gets 423, a longer one is cut. Defaults DefaultMinExpires, DefaultMaxExpires.
	MinExpires, MaxExpires time.Duration
}

func (c RegistrarConfig) withDefaults() RegistrarConfig {
	if c.Realm == "" {
		c.Realm = DefaultRealm
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.NonceTTL, DefaultNonceTTL)
	def(&c.FailureWindow, DefaultFailureWindow)
	def(&c.BanFor, DefaultBanFor)
	def(&c.MinExpires, DefaultMinExpires)
	def(&c.MaxExpires, DefaultMaxExpires)
	if c.MaxFailures <= 0 {
		c.MaxFailures = DefaultMaxFailures
	}
	return c
}

// Binding is one registered contact of a user.
type Binding struct {
	// Contact is where to send requests for the user.
	Contact string
	// Source is the address the REGISTER came from, host:port, and
	// Transport its transport: behind NAT, the place to reach the phone.
	Source    string
	Transport string
	// Expires is when the binding lapses.
	Expires time.Time
	callID  string
	cseq    uint32
}

// nonce is one outstanding challenge, bound to the client's IP address.
type nonce struct {
	client  netip.Addr
	expires time.Time
}

type failures struct {
	count       int
	first       time.Time
	bannedUntil time.Time
}

// registrar authenticates REGISTERs and keeps the location store. It is
// safe for concurrent use.
type registrar struct {
	cfg RegistrarConfig
	now func() time.Time

	mu        sync.Mutex
	nonces    map[string]nonce              // guarded by mu
	fails     map[netip.Addr]*failures      // guarded by mu
	locations map[string]map[string]Binding // guarded by mu: user -> contact -> binding
	swept     time.Time                     // guarded by mu: last sweep of nonces and fails
}

// maxNonces bounds the outstanding challenges, so a flood of REGISTERs
// cannot grow memory without end; past it the oldest-looking go first.
const maxNonces = 1 << 16

func newRegistrar(cfg RegistrarConfig) *registrar {
	return &registrar{cfg: cfg.withDefaults(), now: time.Now, nonces: map[string]nonce{},
		fails: map[netip.Addr]*failures{}, locations: map[string]map[string]Binding{}}
}

// verdict is the registrar's answer to one REGISTER.
type verdict struct {
	code    int
	reason  string
	headers []sip.Header
	failed  bool // wrong credentials, or refused while banned
}

// handle decides a REGISTER from client.
func (r *registrar) handle(ctx context.Context, req *sip.Request, client netip.Addr) verdict {
	if r.banned(client) {
		return verdict{code: 403, reason: "Forbidden", failed: true}
	}
	user, ok, failed := r.authenticate(ctx, req, client)
	if !ok {
		v := r.challenge(client)
		v.failed = failed
		return v
	}
	if aor := req.To().Address.User; aor != user {
		return verdict{code: 403, reason: "Forbidden"} // RFC 3261 §10.3 step 6
	}
	return r.bind(req, user)
}

// challenge answers 401 with a fresh nonce. Unknown users, wrong
// passwords and missing credentials all get this same answer, so
// extensions cannot be enumerated.
func (r *registrar) challenge(client netip.Addr) verdict {
	n := r.newNonce(client)
	chal := digest.Challenge{Realm: r.cfg.Realm, Nonce: n, Algorithm: "MD5", QOP: []string{"auth"}}
	return verdict{code: 401, reason: "Unauthorized",
		headers: []sip.Header{sip.NewHeader("WWW-Authenticate", chal.String())}}
}

func (r *registrar) newNonce(client netip.Addr) string {
	b := make([]byte, 16)
	rand.Read(b)
	n := hex.EncodeToString(b)
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	r.sweepLocked(now)
	for k := range r.nonces {
		if len(r.nonces) < maxNonces {
			break
		}
		delete(r.nonces, k)
	}
	r.nonces[n] = nonce{client: client, expires: now.Add(r.cfg.NonceTTL)}
	return n
}

// sweepLocked drops expired nonces and stale failure records, at most
// once a second so a flood does not make every request scan them all.
func (r *registrar) sweepLocked(now time.Time) {
	if now.Sub(r.swept) < time.Second {
		return
	}
	r.swept = now
	for k, v := range r.nonces {
		if now.After(v.expires) {
			delete(r.nonces, k)
		}
	}
	for ip, f := range r.fails {
		if now.Sub(f.first) > r.cfg.FailureWindow && now.After(f.bannedUntil) {
			delete(r.fails, ip)
		}
	}
}

// takeNonce consumes a nonce: it is good once, before it expires, and
// only from the client it was issued to.
func (r *registrar) takeNonce(n string, client netip.Addr) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.nonces[n]
	if !ok {
		return false
	}
	delete(r.nonces, n)
	return v.client == client && !r.now().After(v.expires)
}

// authenticate checks the request's digest credentials (RFC 2617 §3.2.2)
// and returns the user. Wrong credentials on a live nonce count against
// the client (failed); a missing, stale or foreign nonce only earns a new
// challenge.
func (r *registrar) authenticate(ctx context.Context, req *sip.Request, client netip.Addr) (user string, ok, failed bool) {
	h := req.GetHeader("Authorization")
	if h == nil {
		return "", false, false
	}
	cred, err := digest.ParseCredentials(h.Value())
	if err != nil {
		return "", false, false // an unknown scheme is answered with a challenge (RFC 4475 §3.4.7)
	}
	if !r.takeNonce(cred.Nonce, client) || cred.Realm != r.cfg.Realm {
		return "", false, false
	}
	ha1, known, err := r.cfg.Credentials.SIPHA1(ctx, cred.Username)
	if err != nil {
		return "", false, false
	}
	if !known || ha1 == "" {
		known, ha1 = false, HA1(cred.Username, r.cfg.Realm, "\x00unknown") // same work, same answer
	}
	want, err := expectedResponse(cred, string(req.Method), strings.ToLower(ha1))
	if err != nil || subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(cred.Response))) != 1 || !known {
		r.failed(client)
		return "", false, true
	}
	r.succeeded(client)
	return cred.Username, true, false
}

// expectedResponse is the digest response (RFC 2617 §3.2.2.1) a client
// knowing ha1 sends for cred: MD5 with qop auth or without qop, the
// algorithm and qop the challenge offers.
func expectedResponse(cred *digest.Credentials, method, ha1 string) (string, error) {
	if cred.Algorithm != "" && !strings.EqualFold(cred.Algorithm, "MD5") {
		return "", fmt.Errorf("digest algorithm %q: not offered", cred.Algorithm)
	}
	ha2 := md5hex(method + ":" + cred.URI)
	switch cred.QOP {
	case "":
		return md5hex(ha1 + ":" + cred.Nonce + ":" + ha2), nil
	case "auth":
		nc := fmt.Sprintf("%08x", cred.Nc)
		return md5hex(ha1 + ":" + cred.Nonce + ":" + nc + ":" + cred.Cnonce + ":auth:" + ha2), nil
	}
	return "", fmt.Errorf("digest qop %q: not offered", cred.QOP)
}

func (r *registrar) banned(client netip.Addr) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.fails[client]
	return f != nil && r.now().Before(f.bannedUntil)
}

func (r *registrar) failed(client netip.Addr) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	f := r.fails[client]
	if f == nil || now.Sub(f.first) > r.cfg.FailureWindow {
		f = &failures{first: now}
		r.fails[client] = f
	}
	f.count++
	if f.count >= r.cfg.MaxFailures {
		f.bannedUntil = now.Add(r.cfg.BanFor)
	}
}

func (r *registrar) succeeded(client netip.Addr) {
	r.mu.Lock()
	delete(r.fails, client)
	r.mu.Unlock()
}

// bind applies the REGISTER's contacts (RFC 3261 §10.3 steps 7-8).
func (r *registrar) bind(req *sip.Request, user string) verdict {
	def, err := headerExpires(req)
	if err != nil {
		return verdict{code: 400, reason: "Bad Expires"}
	}
	contacts := req.GetHeaders("Contact")
	if len(contacts) == 1 && strings.TrimSpace(contacts[0].Value()) == "*" {
		if def != 0 {
			return verdict{code: 400, reason: "Bad Wildcard"}
		}
		r.mu.Lock()
		delete(r.locations, user)
		r.mu.Unlock()
		return verdict{code: 200, reason: "OK"}
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, h := range contacts {
		ct, ok := h.(*sip.ContactHeader)
		if !ok {
			return verdict{code: 400, reason: "Bad Contact"}
		}
		exp := def
		if v, ok := ct.Params.Get("expires"); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return verdict{code: 400, reason: "Bad Contact Expires"}
			}
			exp = time.Duration(n) * time.Second
		}
		uri := ct.Address.String()
		if exp == 0 {
			delete(r.locations[user], uri)
			continue
		}
		if exp < r.cfg.MinExpires {
			return verdict{code: 423, reason: "Interval Too Brief",
				headers: []sip.Header{sip.NewHeader("Min-Expires", strconv.Itoa(int(r.cfg.MinExpires/time.Second)))}}
		}
		exp = min(exp, r.cfg.MaxExpires)
		if r.locations[user] == nil {
			r.locations[user] = map[string]Binding{}
		}
		r.locations[user][uri] = Binding{Contact: uri, Source: req.Source(), Transport: req.Transport(),
			Expires: now.Add(exp), callID: req.CallID().Value(), cseq: req.CSeq().SeqNo}
	}
	return verdict{code: 200, reason: "OK", headers: r.contactsLocked(user, now)}
}

// headerExpires is the Expires header (default 3600 s, RFC 3261 §10.2.1.1).
func headerExpires(req *sip.Request) (time.Duration, error) {
	h := req.GetHeader("Expires")
	if h == nil {
		return 3600 * time.Second, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(h.Value()))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("expires %q", h.Value())
	}
	return time.Duration(n) * time.Second, nil
}

// contactsLocked lists a user's current bindings for the 200 (RFC 3261 §10.3 step 8).
func (r *registrar) contactsLocked(user string, now time.Time) []sip.Header {
	var out []sip.Header
	for uri, b := range r.locations[user] {
		if now.After(b.Expires) {
			delete(r.locations[user], uri)
			continue
		}
		secs := int(b.Expires.Sub(now).Round(time.Second) / time.Second)
		out = append(out, sip.NewHeader("Contact", "<"+uri+">;expires="+strconv.Itoa(secs)))
	}
	return out
}

// lookup returns a user's live bindings.
func (r *registrar) lookup(user string) []Binding {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	var out []Binding
	for uri, b := range r.locations[user] {
		if now.After(b.Expires) {
			delete(r.locations[user], uri)
			continue
		}
		out = append(out, b)
	}
	return out
}

// clientAddr is the IP a request came from.
func clientAddr(req *sip.Request) netip.Addr {
	host, _, err := net.SplitHostPort(req.Source())
	if err != nil {
		return netip.Addr{}
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// Target is the URI that reaches the binding's phone: its Contact, with
// the host and port the REGISTER came from when they differ (a phone
// behind NAT registers a private address it cannot be reached on).
func (b Binding) Target() string {
	var uri sip.Uri
	if err := sip.ParseUri(b.Contact, &uri); err != nil {
		return b.Contact
	}
	host, port, err := net.SplitHostPort(b.Source)
	if err != nil {
		return b.Contact
	}
	p, err := strconv.Atoi(port)
	if err != nil || (uri.Host == host && uri.Port == p) {
		return b.Contact
	}
	uri.Host, uri.Port = host, p
	return uri.String()
}
