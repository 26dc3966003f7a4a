package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/morozhq/moroz/sip/media"
)

// InviteHandler runs one inbound call: it is called in its own goroutine
// for each new INVITE that passed validation, with a context that ends
// when the call ends or the server closes. The handler answers or rejects
// the call and drives it; the call lives as long as the handler: when it
// returns, an unanswered call is rejected (480) and an answered one is
// hung up.
type InviteHandler func(ctx context.Context, c *Call)

// Stats are the edge's counters since Start.
type Stats struct {
	Unparseable uint64 // UDP datagrams and TCP streams sipgo's parser refused
	RawRejected uint64 // of those, answered 400/416 from their raw headers
	Rejected    uint64 // parsed requests refused by validation
	Invites     uint64 // new INVITEs handed to the handler
	Answered    uint64 // calls answered
	AuthFailed  uint64 // REGISTERs with wrong credentials, or refused while banned
	ActiveCalls int    // calls in the dialog map now
}

// Server is the native SIP edge: a UAS on UDP and TCP. Create it with New,
// then Start; Drain refuses new calls; Close ends everything. Its methods
// are safe for concurrent use.
type Server struct {
	cfg      Config
	log      *slog.Logger
	plog     *peerLog
	handler  InviteHandler
	ports    *media.PortRange
	pacer    *media.Pacer // paces every call's playback
	mediaIP  netip.Addr
	publicIP netip.Addr // advertised in SDP and Contact: Config.PublicIP, else mediaIP
	stats    counters
	draining atomic.Bool
	dialogs  *dialogs
	reg      *registrar          // nil without Config.Registrar.Credentials
	allowed  []sip.RequestMethod // methods served, for Allow and 405

	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client

	ctx    context.Context // ends on Close: the parent of every call
	cancel context.CancelFunc
	wg     sync.WaitGroup // listeners and call handlers

	mu        sync.Mutex
	udpAddr   netip.AddrPort // guarded by mu
	tcpAddr   netip.AddrPort // guarded by mu
	listeners []func() error // guarded by mu: closers of the sockets
	started   bool           // guarded by mu
	closed    bool           // guarded by mu
}

// udpBuffer is the socket buffer size asked for the SIP UDP socket.
const udpBuffer = 4 << 20

// allowedMethods are the methods the edge serves without a registrar.
var allowedMethods = []sip.RequestMethod{sip.INVITE, sip.ACK, sip.CANCEL, sip.BYE, sip.OPTIONS}

// New checks cfg and prepares a server; nothing listens until Start.
// Close releases it, whether or not it was started.
func New(cfg Config, h InviteHandler) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if h == nil {
		return nil, errors.New("new sip server: nil invite handler")
	}
	ip := netip.MustParseAddr(cfg.MediaIP)
	ports, err := media.NewPortRange(ip, cfg.RTPPortMin, cfg.RTPPortMax)
	if err != nil {
		return nil, fmt.Errorf("sip config: %w", err)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, plog: newPeerLog(cfg.Logger), handler: h,
		ports: ports, pacer: media.NewPacer(), mediaIP: ip, publicIP: ip, dialogs: newDialogs(), allowed: allowedMethods}
	if cfg.PublicIP != "" {
		s.publicIP = netip.MustParseAddr(cfg.PublicIP) // checked by withDefaults
	}
	if cfg.Registrar.Credentials != nil {
		s.reg = newRegistrar(cfg.Registrar)
		s.allowed = append(append([]sip.RequestMethod(nil), allowedMethods...), sip.REGISTER)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.initSipgo(); err != nil {
		s.pacer.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) initSipgo() error {
	sl := newCountingSipgoLogger(s.log, &s.stats.unparseable)
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent(s.cfg.UserAgent),
		sipgo.WithUserAgentHostname(s.publicIP.String()),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(sl)),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(sl),
			sip.WithTransactionLayerUnhandledResponseHandler(func(*sip.Response) {})),
	)
	if err != nil {
		return fmt.Errorf("new sip server: user agent: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(sl))
	if err != nil {
		return fmt.Errorf("new sip server: %w", err)
	}
	client, err := sipgo.NewClient(ua, append(s.viaOptions(), sipgo.WithClientLogger(sl))...)
	if err != nil {
		return fmt.Errorf("new sip server: client: %w", err)
	}
	s.ua, s.srv, s.client = ua, srv, client
	s.route(sip.INVITE, s.onInvite)
	s.route(sip.ACK, s.onAck)
	s.route(sip.BYE, s.onBye)
	s.route(sip.CANCEL, s.onCancel)
	s.route(sip.OPTIONS, s.onOptions)
	if s.reg != nil {
		s.route(sip.REGISTER, s.onRegister)
	}
	srv.OnNoRoute(s.validated(func(*sip.Request, sip.ServerTransaction) {}))
	return nil
}

// viaOptions make the Via of the requests Moroz sends (BYE, CANCEL, the
// dialer's INVITEs) name the public IP: RFC 3261 §18.1.1 has the peer
// send its responses to the Via's sent-by, which behind a 1:1 NAT must
// be the outside address, not the media IP the sockets bind to. sipgo
// fills in only the port, from the socket. rport (RFC 3581) lets a peer
// that honours it answer the packet's source instead.
func (s *Server) viaOptions() []sipgo.ClientOption {
	return []sipgo.ClientOption{sipgo.WithClientHostname(s.publicIP.String()), sipgo.WithClientNAT()}
}

// route registers h behind validation.
func (s *Server) route(m sip.RequestMethod, h sipgo.RequestHandler) {
	s.srv.OnRequest(m, s.validated(h))
}

// validated answers what validation refuses and passes the rest to h.
func (s *Server) validated(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		if r := validateRequest(req, s.allowed); r != nil {
			s.stats.rejected.Add(1)
			s.plog.Warn("sip request refused", "peer", req.Source(), "method", truncate(string(req.Method), 20),
				"status", r.Code, "reason", r.Detail)
			if req.Method != sip.ACK { // RFC 3261 §17.1.1: an ACK is never answered
				s.respond(tx, req, r.Code, r.Reason, r.Headers...)
			}
			return
		}
		h(req, tx)
	}
}

// respond sends a response built from req; failures are logged at Debug
// (the peer went away, nothing to act on).
func (s *Server) respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string, hdrs ...sip.Header) {
	res := s.response(req, code, reason, nil, hdrs...)
	if err := tx.Respond(res); err != nil {
		s.log.Debug("sip respond failed", "call_id", callID(req), "status", code, "error", err)
	}
}

func (s *Server) response(req *sip.Request, code int, reason string, body []byte, hdrs ...sip.Header) *sip.Response {
	res := sip.NewResponseFromRequest(req, code, reason, body)
	res.AppendHeader(sip.NewHeader("Server", s.cfg.UserAgent))
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	return res
}

func callID(req *sip.Request) string {
	if id := req.CallID(); id != nil {
		return id.Value()
	}
	return ""
}

// Start listens on the configured addresses and serves until Close. It
// returns once every listener is up, or the first listen error (having
// closed what it opened). ctx is not kept: serving ends with Close, not
// with ctx.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		return errors.New("start sip server: already started or closed")
	}
	s.started = true
	if err := s.listenUDPLocked(); err != nil {
		s.closeListenersLocked()
		return err
	}
	if err := s.listenTCPLocked(); err != nil {
		s.closeListenersLocked()
		return err
	}
	s.log.Info("sip listening", "udp", s.udpAddr.String(), "tcp", s.tcpAddr.String(), "media_ip", s.mediaIP.String())
	return nil
}

func (s *Server) listenUDPLocked() error {
	if s.cfg.UDPAddr == disabled {
		return nil
	}
	pc, err := net.ListenPacket("udp", s.cfg.UDPAddr)
	if err != nil {
		return fmt.Errorf("start sip server: listen udp %s: %w", s.cfg.UDPAddr, err)
	}
	if u, ok := pc.(*net.UDPConn); ok {
		// Bursts of calls overflow the default buffer long before the CPU
		// is busy; the kernel caps these at net.core.[rw]mem_max.
		u.SetReadBuffer(udpBuffer)
		u.SetWriteBuffer(udpBuffer)
	}
	s.udpAddr = pc.LocalAddr().(*net.UDPAddr).AddrPort()
	conn := &screenedConn{PacketConn: pc, parser: sip.NewParser(), stats: &s.stats, plog: s.plog}
	s.listeners = append(s.listeners, pc.Close)
	s.serve("udp", func() error { return s.srv.ServeUDP(conn) })
	return nil
}

func (s *Server) listenTCPLocked() error {
	if s.cfg.TCPAddr == disabled {
		return nil
	}
	l, err := net.Listen("tcp", s.cfg.TCPAddr)
	if err != nil {
		return fmt.Errorf("start sip server: listen tcp %s: %w", s.cfg.TCPAddr, err)
	}
	s.tcpAddr = l.Addr().(*net.TCPAddr).AddrPort()
	s.listeners = append(s.listeners, l.Close)
	s.serve("tcp", func() error { return s.srv.ServeTCP(l) })
	return nil
}

// serve runs one sipgo serve loop, owned by the server's WaitGroup.
func (s *Server) serve(network string, run func() error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := run(); err != nil && !errors.Is(err, net.ErrClosed) && s.ctx.Err() == nil {
			s.log.Error("sip listener stopped", "network", network, "error", err)
		}
	}()
}

func (s *Server) closeListenersLocked() {
	for _, c := range s.listeners {
		c()
	}
	s.listeners = nil
}

// UDPAddr returns the bound UDP address (with the chosen port when the
// configured port was 0); zero before Start or when UDP is off.
func (s *Server) UDPAddr() netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.udpAddr
}

// TCPAddr returns the bound TCP address, as UDPAddr.
func (s *Server) TCPAddr() netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tcpAddr
}

// Drain stops taking calls: from now on a new INVITE gets 503 with
// Retry-After and OPTIONS gets 503 (a load balancer's probe then moves
// traffic away), while calls in progress go on. It is idempotent.
func (s *Server) Drain() {
	if !s.draining.Swap(true) {
		s.log.Info("sip draining", "active_calls", s.dialogs.count())
	}
}

// Draining reports whether Drain was called.
func (s *Server) Draining() bool { return s.draining.Load() }

// ActiveCalls returns the number of calls in progress.
func (s *Server) ActiveCalls() int { return s.dialogs.count() }

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	return Stats{
		Unparseable: s.stats.unparseable.Load(), RawRejected: s.stats.rawRejected.Load(),
		Rejected: s.stats.rejected.Load(), Invites: s.stats.invites.Load(),
		Answered: s.stats.answered.Load(), AuthFailed: s.stats.authFailed.Load(), ActiveCalls: s.dialogs.count(),
	}
}

// Close hangs up every call, stops the listeners and waits for every
// handler and serve loop to return. It is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()

	s.cancel()
	var hangups sync.WaitGroup
	for _, c := range s.dialogs.all() {
		hangups.Add(1)
		go func() {
			defer hangups.Done()
			c.Hangup(CauseShutdown)
		}()
	}
	hangups.Wait()
	s.mu.Lock()
	s.closeListenersLocked()
	s.mu.Unlock()
	err := s.ua.Close()
	s.wg.Wait()
	s.pacer.Close()
	return err
}

func retryAfter(d time.Duration) sip.Header {
	return sip.NewHeader("Retry-After", strconv.Itoa(max(1, int(d/time.Second))))
}

func (s *Server) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	if s.Draining() {
		s.respond(tx, req, 503, "Service Unavailable", retryAfter(s.cfg.RetryAfter))
		return
	}
	s.respond(tx, req, 200, "OK", allowHeader(s.allowed), sip.NewHeader("Accept", "application/sdp"))
}

// onRegister runs the registrar (RFC 3261 §10.3).
func (s *Server) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	v := s.reg.handle(s.ctx, req, clientAddr(req))
	if v.failed {
		s.stats.authFailed.Add(1)
		s.plog.Warn("sip register refused", "peer", req.Source(), "status", v.code)
	}
	s.respond(tx, req, v.code, v.reason, v.headers...)
}

// Locations returns the live bindings of a registered user (a helper's
// desk phone), for ringing it; none without a registrar.
func (s *Server) Locations(user string) []Binding {
	if s.reg == nil {
		return nil
	}
	return s.reg.lookup(user)
}

// Target returns the SIP URI that rings the phone user registered most
// recently (Binding.Target), or "" when user has no live binding.
func (s *Server) Target(user string) string {
	var newest Binding
	for _, b := range s.Locations(user) {
		if b.Expires.After(newest.Expires) {
			newest = b
		}
	}
	if newest.Contact == "" {
		return ""
	}
	return newest.Target()
}
