package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/sdp/v3"

	"github.com/morozhq/moroz/sip/media"
)

// Errors of Dialer.Dial, for errors.Is; a *DialError wraps one of them.
var (
	// ErrDialBusy means the callee answered 486 Busy Here or 600 Busy Everywhere.
	ErrDialBusy = errors.New("callee busy")
	// ErrDialDeclined means the callee answered 603 Decline.
	ErrDialDeclined = errors.New("callee declined")
	// ErrDialNoAnswer means the callee rang out or could not be reached
	// (408, 480, 487 and the other failures).
	ErrDialNoAnswer = errors.New("callee did not answer")
)

// DialError is a final failure response to an outbound INVITE.
type DialError struct {
	Status int
	Reason string
	kind   error
}

func (e *DialError) Error() string { return fmt.Sprintf("%d %s: %v", e.Status, e.Reason, e.kind) }

// Unwrap returns ErrDialBusy, ErrDialDeclined or ErrDialNoAnswer.
func (e *DialError) Unwrap() error { return e.kind }

func dialError(res *sip.Response) *DialError {
	e := &DialError{Status: res.StatusCode, Reason: res.Reason, kind: ErrDialNoAnswer}
	switch res.StatusCode {
	case 486, 600:
		e.kind = ErrDialBusy
	case 603:
		e.kind = ErrDialDeclined
	}
	return e
}

// byeWait bounds the BYE an Outbound sends when it hangs up.
const byeWait = 5 * time.Second

// Dialer places outbound call legs (RFC 3261 §13.2: Moroz as the UAC), to
// ring a helper's desk phone. It has its own UDP socket on the media IP,
// so that the in-dialog requests of its legs (the callee's BYE) come back
// to it. Create it with Server.NewDialer; Close hangs up its legs. Its
// methods are safe for concurrent use.
type Dialer struct {
	srv    *Server
	log    *slog.Logger
	ua     *sipgo.UserAgent
	server *sipgo.Server
	client *sipgo.Client
	cache  *sipgo.DialogClientCache
	conn   net.PacketConn
	addr   netip.AddrPort
	wg     sync.WaitGroup // the serve loop and each leg's watcher

	mu     sync.Mutex
	legs   map[*Outbound]struct{} // guarded by mu: legs not yet ended
	closed bool                   // guarded by mu
}

// NewDialer opens the dialer's socket on the server's media IP (a free
// port) and serves it until Close.
func (s *Server) NewDialer() (*Dialer, error) {
	conn, err := net.ListenPacket("udp", netip.AddrPortFrom(s.mediaIP, 0).String())
	if err != nil {
		return nil, fmt.Errorf("new sip dialer: listen: %w", err)
	}
	d := &Dialer{srv: s, log: s.log, conn: conn,
		addr: conn.LocalAddr().(*net.UDPAddr).AddrPort(), legs: map[*Outbound]struct{}{}}
	if err := d.init(); err != nil {
		conn.Close()
		return nil, err
	}
	d.wg.Go(func() {
		if err := d.server.ServeUDP(conn); err != nil && !errors.Is(err, net.ErrClosed) {
			d.log.Debug("dialer serve loop ended", "error", err)
		}
	})
	if err := d.awaitServing(); err != nil {
		d.Close()
		return nil, err
	}
	d.log.Info("sip dialer listening", "udp", d.addr.String())
	return d, nil
}

// serveWait bounds the wait for the dialer's serve loop to take its socket.
const serveWait = 5 * time.Second

// awaitServing waits until sipgo's serve loop has put the dialer's socket
// in its pool: requests go out from that socket only then (before, sipgo
// would try to bind a second one to the same address). ServeUDP gives no
// ready signal, so the pool is looked at until it has the socket.
func (d *Dialer) awaitServing() error {
	pool := d.ua.TransportLayer().Pool("udp")
	deadline := time.Now().Add(serveWait)
	for {
		if c := pool.Get(d.addr.String()); c != nil {
			c.TryClose() // a listener's reference only; it stays open
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("new sip dialer: socket %s not served within %v", d.addr, serveWait)
		}
		time.Sleep(time.Millisecond)
	}
}

func (d *Dialer) init() error {
	sl := newSipgoLogger(d.log)
	ua, err := sipgo.NewUA(sipgo.WithUserAgent(d.srv.cfg.UserAgent),
		sipgo.WithUserAgentHostname(d.srv.publicIP.String()),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(sl)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(sl),
			sip.WithTransactionLayerUnhandledResponseHandler(func(*sip.Response) {})))
	if err != nil {
		return fmt.Errorf("new sip dialer: %w", err)
	}
	server, err := sipgo.NewServer(ua, sipgo.WithServerLogger(sl))
	if err != nil {
		return fmt.Errorf("new sip dialer: %w", err)
	}
	// The INVITEs go out from the dialer's socket, so that the Via's port
	// is the one the responses and the callee's BYE come back to.
	client, err := sipgo.NewClient(ua, append(d.srv.viaOptions(), sipgo.WithClientLogger(sl),
		sipgo.WithClientConnectionAddr(d.addr.String()))...)
	if err != nil {
		return fmt.Errorf("new sip dialer: %w", err)
	}
	pub := d.srv.advertised(d.addr)
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "moroz",
		Host: pub.Addr().String(), Port: int(pub.Port())}}
	d.ua, d.server, d.client = ua, server, client
	d.cache = sipgo.NewDialogClientCache(client, contact)
	server.OnBye(d.onBye)
	server.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	return nil
}

// Addr returns the dialer's UDP address.
func (d *Dialer) Addr() netip.AddrPort { return d.addr }

// onBye ends the leg whose callee hung up (RFC 3261 §15.1.2).
func (d *Dialer) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if err := d.cache.ReadBye(req, tx); err != nil {
		tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
	}
}

// DialOptions say who the outbound call is from.
type DialOptions struct {
	// FromUser and FromName go in the From header: the caller's number
	// shows on the helper's phone. Default "moroz".
	FromUser, FromName string
	// OnRinging, if set, is called on 180 or 183.
	OnRinging func()
	// Username and Password, when set, answer a 401 or 407 challenge
	// with digest authentication (RFC 3261 §22.2): a trunk's account.
	Username, Password string
	// Codec, when valid, is the only codec offered: the leg this one is
	// bridged to has it, and the bridge does not transcode. Zero offers
	// PCMU and PCMA.
	Codec media.Codec
}

// Dial rings target (a sip: URI) offering PCMU, PCMA (or opt.Codec) and
// telephone-event, and returns the leg once the callee answered and the ACK is sent. A
// final failure is a *DialError; when ctx ends first the INVITE is
// cancelled (RFC 3261 §9.1) and ctx's error returned.
func (d *Dialer) Dial(ctx context.Context, target string, opt DialOptions) (*Outbound, error) {
	var uri sip.Uri
	if err := sip.ParseUri(target, &uri); err != nil || (uri.Scheme != "sip" && uri.Scheme != "") {
		return nil, fmt.Errorf("dial %q: want a sip: URI", target)
	}
	conn, err := d.srv.ports.Listen()
	if err != nil {
		return nil, fmt.Errorf("dial %s: rtp port: %w", target, err)
	}
	local := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	codecs := []media.Codec{media.PCMU, media.PCMA}
	if opt.Codec.Valid() {
		codecs = []media.Codec{opt.Codec}
	}
	body, err := buildOffer(d.srv.advertised(local), rand.Uint64N(1<<62), codecs...)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("dial %s: %w", target, err)
	}
	sess, err := d.invite(ctx, uri, body, opt)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("dial %s: %w", target, err)
	}
	o, err := d.answered(ctx, sess, conn, target)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", target, err)
	}
	return o, nil
}

// invite sends the INVITE and waits for its final response.
func (d *Dialer) invite(ctx context.Context, uri sip.Uri, body []byte, opt DialOptions) (*sipgo.DialogClientSession, error) {
	if opt.FromUser == "" {
		opt.FromUser = "moroz"
	}
	from := &sip.FromHeader{DisplayName: opt.FromName, Params: sip.NewParams(),
		Address: sip.Uri{Scheme: "sip", User: opt.FromUser, Host: d.srv.advertised(d.addr).Addr().String(), Port: int(d.addr.Port())}}
	from.Params.Add("tag", sip.GenerateTagN(16))
	sess, err := d.cache.Invite(ctx, uri, body, from, sip.NewHeader("Content-Type", "application/sdp"),
		sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS"))
	if err != nil {
		return nil, err
	}
	err = d.waitAnswer(ctx, sess, opt)
	var resErr *sipgo.ErrDialogResponse
	switch {
	case err == nil:
		return sess, nil
	case errors.As(err, &resErr):
		sess.Close()
		return nil, dialError(resErr.Res)
	case ctx.Err() != nil:
		d.dropLateAnswer(sess)
		return nil, ctx.Err()
	}
	sess.Close()
	return nil, &DialError{Status: 408, Reason: err.Error(), kind: ErrDialNoAnswer}
}

// waitAnswer waits for the final response until ctx ends. Ending ctx
// sends CANCEL once the callee sent a provisional response (RFC 3261
// §9.1); before one, a CANCEL may not be sent, and rather than wait out
// Timer B (32 s) the transaction is abandoned at once.
func (d *Dialer) waitAnswer(ctx context.Context, sess *sipgo.DialogClientSession, opt DialOptions) error {
	var provisional atomic.Bool
	wctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	stop := context.AfterFunc(ctx, func() {
		if provisional.Load() {
			cancel(ctx.Err())
			return
		}
		cancel(sipgo.WaitAnswerForceCancelErr)
	})
	defer stop()
	return sess.WaitAnswer(wctx, sipgo.AnswerOptions{Username: opt.Username, Password: opt.Password, OnResponse: func(res *sip.Response) error {
		if res.IsProvisional() {
			provisional.Store(true)
		}
		if (res.StatusCode == 180 || res.StatusCode == 183) && opt.OnRinging != nil {
			opt.OnRinging()
		}
		return nil
	}})
}

// dropLateAnswer ends a call the callee answered while it was being
// cancelled: the 2xx crossed the CANCEL, so it is acknowledged and hung up.
func (d *Dialer) dropLateAnswer(sess *sipgo.DialogClientSession) {
	if res := sess.InviteResponse; res != nil && res.IsSuccess() {
		ctx, cancel := context.WithTimeout(context.Background(), byeWait)
		defer cancel()
		if sess.Ack(ctx) == nil {
			sess.Bye(ctx)
		}
	}
	sess.Close()
}

// answered takes the callee's SDP answer, starts the media leg and ACKs.
func (d *Dialer) answered(ctx context.Context, sess *sipgo.DialogClientSession, conn *net.UDPConn, target string) (*Outbound, error) {
	ans, err := parseOffer(sess.InviteResponse.Body())
	if err != nil {
		conn.Close()
		sess.Ack(ctx)
		d.bye(sess)
		return nil, fmt.Errorf("answer sdp: %w", err)
	}
	leg, err := media.NewLeg(conn, media.LegConfig{Codec: ans.codec, DTMFPayloadType: ans.dtmfPT,
		Remote: ans.remote, Logger: d.log.With("peer", target)})
	if err != nil {
		sess.Ack(ctx)
		d.bye(sess)
		return nil, err
	}
	if err := sess.Ack(ctx); err != nil {
		leg.Close()
		d.bye(sess)
		return nil, fmt.Errorf("ack: %w", err)
	}
	o := &Outbound{d: d, sess: sess, leg: leg, done: make(chan struct{})}
	if !d.track(o) {
		o.Hangup()
		return nil, errors.New("dialer closed")
	}
	d.wg.Go(o.watch)
	return o, nil
}

func (d *Dialer) bye(sess *sipgo.DialogClientSession) {
	ctx, cancel := context.WithTimeout(context.Background(), byeWait)
	defer cancel()
	sess.Bye(ctx)
	sess.Close()
}

func (d *Dialer) track(o *Outbound) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return false
	}
	d.legs[o] = struct{}{}
	return true
}

func (d *Dialer) untrack(o *Outbound) {
	d.mu.Lock()
	delete(d.legs, o)
	d.mu.Unlock()
}

// Close hangs up every leg, stops serving and waits for its goroutines.
// It is idempotent.
func (d *Dialer) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	legs := make([]*Outbound, 0, len(d.legs))
	for o := range d.legs {
		legs = append(legs, o)
	}
	d.mu.Unlock()

	for _, o := range legs {
		o.Hangup()
	}
	d.conn.Close()
	err := d.ua.Close()
	d.wg.Wait()
	return err
}

// Outbound is an answered outbound leg: its dialog and its media.
type Outbound struct {
	d    *Dialer
	sess *sipgo.DialogClientSession
	leg  *media.Leg
	done chan struct{}
	once sync.Once
}

// Media returns the leg's RTP endpoint, to bridge with a caller's.
func (o *Outbound) Media() *media.Leg { return o.leg }

// Done is closed when the leg ended, whoever ended it.
func (o *Outbound) Done() <-chan struct{} { return o.done }

// watch ends the leg when the dialog ends (the callee's BYE) or the media
// leg closes.
func (o *Outbound) watch() {
	select {
	case <-o.sess.Context().Done():
	case <-o.leg.Done():
	case <-o.done:
	}
	o.end()
}

func (o *Outbound) end() bool {
	first := false
	o.once.Do(func() {
		first = true
		close(o.done)
		o.leg.Close()
		o.d.untrack(o)
	})
	return first
}

// Hangup sends BYE (unless the callee already hung up) and ends the leg.
// It blocks until the BYE is answered or byeWait passes; it is a no-op
// on an ended leg.
func (o *Outbound) Hangup() error {
	hungUp := o.sess.Context().Err() != nil
	if !o.end() || hungUp {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), byeWait)
	defer cancel()
	err := o.sess.Bye(ctx)
	o.sess.Close()
	if err != nil {
		return fmt.Errorf("hangup outbound: bye: %w", err)
	}
	return nil
}

// buildOffer writes Moroz's SDP offer (RFC 3264 §5): PCMU, PCMA and
// telephone-event 101 (events 0-16).
func buildOffer(local netip.AddrPort, sessID uint64, codecs ...media.Codec) ([]byte, error) {
	addrType := "IP4"
	if local.Addr().Is6() {
		addrType = "IP6"
	}
	ip := local.Addr().String()
	sd := sdp.SessionDescription{
		Origin: sdp.Origin{Username: "moroz", SessionID: sessID, SessionVersion: 1,
			NetworkType: "IN", AddressType: addrType, UnicastAddress: ip},
		SessionName:           "moroz",
		ConnectionInformation: &sdp.ConnectionInformation{NetworkType: "IN", AddressType: addrType, Address: &sdp.Address{Address: ip}},
		TimeDescriptions:      []sdp.TimeDescription{{}},
		MediaDescriptions: []*sdp.MediaDescription{{
			MediaName: sdp.MediaName{Media: "audio", Port: sdp.RangedPort{Value: int(local.Port())},
				Protos: []string{"RTP", "AVP"}},
		}},
	}
	m := sd.MediaDescriptions[0]
	for _, c := range codecs {
		pt := strconv.Itoa(int(c.PayloadType))
		m.MediaName.Formats = append(m.MediaName.Formats, pt)
		m.Attributes = append(m.Attributes, sdp.Attribute{Key: "rtpmap", Value: pt + " " + c.Name + "/8000"})
	}
	dtmf := strconv.Itoa(offerDTMFPT)
	m.MediaName.Formats = append(m.MediaName.Formats, dtmf)
	m.Attributes = append(m.Attributes, sdp.Attribute{Key: "rtpmap", Value: dtmf + " telephone-event/8000"},
		sdp.Attribute{Key: "fmtp", Value: dtmf + " 0-16"}, sdp.Attribute{Key: "ptime", Value: "20"},
		sdp.Attribute{Key: dirSendRecv})
	return sd.Marshal()
}

// offerDTMFPT is the telephone-event payload type Moroz offers.
const offerDTMFPT = 101
