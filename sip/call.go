package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/morozhq/moroz/sip/media"
)

// Cause says why a call ended.
type Cause string

// Causes a call ends with. Hangup takes one; Call.Cause reports one.
const (
	CauseNormal       Cause = "normal"        // Moroz hung up
	CauseCallerHangup Cause = "caller_hangup" // the caller sent BYE
	CauseCanceled     Cause = "canceled"      // the caller sent CANCEL before the answer
	CauseBusy         Cause = "busy"          // rejected with 486 Busy Here
	CauseRejected     Cause = "rejected"      // rejected with 603 Decline
	CauseUnavailable  Cause = "unavailable"   // rejected with 480 Temporarily Unavailable
	CauseNoAck        Cause = "no_ack"        // the caller never acknowledged the answer
	CauseShutdown     Cause = "shutdown"      // the server closed
	CauseError        Cause = "error"         // signalling failed
)

// status is the SIP final response that refuses an unanswered call for c.
func (c Cause) status() (int, string) {
	switch c {
	case CauseBusy:
		return 486, "Busy Here"
	case CauseRejected:
		return 603, "Decline"
	case CauseShutdown:
		return 503, "Service Unavailable"
	}
	return 480, "Temporarily Unavailable"
}

// Errors of Call methods, for errors.Is.
var (
	// ErrCallEnded is returned by operations on a call that has ended.
	ErrCallEnded = errors.New("call ended")
	// ErrNotAnswered is returned by media operations before Answer.
	ErrNotAnswered = errors.New("call not answered")
	// ErrAnswered is returned by Ring, Answer and Reject after the answer.
	ErrAnswered = errors.New("call already answered")
)

type callState int

const (
	stateEarly callState = iota
	stateAnswered
	stateConfirmed
	stateEnded
)

// RFC 3261 §17.1.1.1 timers that pace 2xx retransmission (§13.3.1.4).
const (
	timerT1 = 500 * time.Millisecond
	timerT2 = 4 * time.Second
	// byeTimeout bounds how long Hangup waits for the BYE's response.
	byeTimeout = 8 * time.Second
)

// Call is one inbound call leg: its signalling (the INVITE dialog) and its
// media. The InviteHandler receives it; its methods are safe for
// concurrent use. A flow answers with Answer (or refuses with Reject),
// then plays, records, reads DTMF and bridges, and ends with Hangup or
// learns from Done that the caller left.
type Call struct {
	srv      *Server
	log      *slog.Logger
	invite   *sip.Request
	tx       sip.ServerTransaction
	leg      *media.Leg
	key      dialogKey
	from, to string
	codec    media.Codec // guarded by mu (set again by a late offer's answer)
	dtmfPT   uint8       // guarded by mu
	sessID   uint64
	ctx      context.Context // ends with the call
	cancel   context.CancelFunc

	final     chan struct{} // closed once the INVITE has its final response
	finalOnce sync.Once
	acked     chan struct{} // closed on ACK of the 2xx (or when giving up on it)
	ackOnce   sync.Once
	done      chan struct{} // closed when the call ended
	wg        sync.WaitGroup

	mu         sync.Mutex
	state      callState     // guarded by mu
	cause      Cause         // guarded by mu
	answer     *sip.Response // guarded by mu: the 2xx, for retransmission
	refusal    *sip.Response // guarded by mu: the final error response, for copies of the INVITE
	sdpVersion uint64        // guarded by mu
	localCSeq  uint32        // guarded by mu
	remoteCSeq uint32        // guarded by mu: highest CSeq of the caller's requests
	direction  string        // guarded by mu: our answer's direction
	lateOffer  bool          // guarded by mu: an INVITE had no SDP; Moroz offered in the 200
	offerCSeq  uint32        // guarded by mu: the CSeq of that INVITE, which its ACK repeats
}

func newCall(s *Server, req *sip.Request, tx sip.ServerTransaction, leg *media.Leg, off offer) *Call {
	fromTag, _ := req.From().Params.Get("tag")
	c := &Call{
		srv: s, invite: req, tx: tx, leg: leg,
		key:   dialogKey{callID: req.CallID().Value(), localTag: sip.GenerateTagN(16), remoteTag: fromTag},
		from:  req.From().Address.String(),
		to:    req.To().Address.String(),
		codec: off.codec, dtmfPT: off.dtmfPT,
		sessID: rand.Uint64N(1 << 62), sdpVersion: 1, localCSeq: 1, remoteCSeq: req.CSeq().SeqNo,
		offerCSeq: req.CSeq().SeqNo,
		direction: answerDirection(off.direction),
		final:     make(chan struct{}), acked: make(chan struct{}), done: make(chan struct{}),
	}
	c.log = s.log.With("call_id", c.key.callID, "peer", req.Source())
	c.ctx, c.cancel = context.WithCancel(s.ctx)
	leg.SetSending(weSend(c.direction) && off.remote.IsValid())
	return c
}

// ID returns the Call-ID.
func (c *Call) ID() string { return c.key.callID }

// From returns the caller's URI (the From header's address).
func (c *Call) From() string { return c.from }

// To returns the called URI (the To header's address).
func (c *Call) To() string { return c.to }

// Source returns the address the INVITE came from, host:port.
func (c *Call) Source() string { return c.invite.Source() }

// Transport returns "UDP" or "TCP".
func (c *Call) Transport() string { return c.invite.Transport() }

// Media returns the call's RTP leg, for bridging to a leg that is not a
// SIP call (the console's WebRTC leg).
func (c *Call) Media() *media.Leg { return c.leg }

// Done is closed when the call has ended, whoever ended it.
func (c *Call) Done() <-chan struct{} { return c.done }

// Context returns a context that ends with the call.
func (c *Call) Context() context.Context { return c.ctx }

// Cause returns why the call ended; empty while it goes on.
func (c *Call) Cause() Cause {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause
}

// Held reports whether the caller has put the call on hold (a re-INVITE
// with sendonly, inactive or a zero address), during which nothing is sent.
func (c *Call) Held() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !weSend(c.direction)
}

// Ring sends 180 Ringing. It fails after the answer or the end.
func (c *Call) Ring() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.earlyLocked(); err != nil {
		return err
	}
	return c.tx.Respond(c.responseLocked(180, "Ringing", nil))
}

// earlyLocked reports whether the call still awaits its final response.
func (c *Call) earlyLocked() error {
	switch c.state {
	case stateEarly:
		return nil
	case stateEnded:
		return ErrCallEnded
	}
	return ErrAnswered
}

// responseLocked builds a response to the INVITE carrying our tag and Contact.
func (c *Call) responseLocked(code int, reason string, body []byte, hdrs ...sip.Header) *sip.Response {
	res := sip.NewResponseFromRequest(c.invite, code, reason, body)
	res.To().Params.Add("tag", c.key.localTag)
	res.AppendHeader(c.srv.contact(c.invite.Transport()))
	res.AppendHeader(sip.NewHeader("Server", c.srv.cfg.UserAgent))
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	return res
}

// Answer sends 200 OK with Moroz's SDP answer; media flows from then on.
// It returns once the 200 is sent; the ACK is awaited in the background
// (RFC 3261 §13.3.1.4: the 200 is resent until it comes, and the call
// ends with CauseNoAck if it never does).
func (c *Call) Answer() error {
	c.mu.Lock()
	if err := c.earlyLocked(); err != nil {
		c.mu.Unlock()
		return err
	}
	body, err := c.sdpLocked()
	if err != nil {
		c.mu.Unlock()
		return fmt.Errorf("answer %s: %w", c.key.callID, err)
	}
	res := c.responseLocked(200, "OK", body, allowHeader(c.srv.allowed), sip.NewHeader("Content-Type", "application/sdp"))
	c.state, c.answer = stateAnswered, res
	codec := c.codec.Name
	c.mu.Unlock()

	if err := c.tx.Respond(res); err != nil {
		c.finish(CauseError)
		return fmt.Errorf("answer %s: %w", c.key.callID, err)
	}
	c.closeFinal()
	c.srv.stats.answered.Add(1)
	c.log.Debug("call answered", "codec", codec)
	c.wg.Add(1)
	go c.awaitAck(res)
	return nil
}

func (c *Call) sdpLocked() ([]byte, error) {
	if c.lateOffer && c.state == stateEarly {
		return buildAnswer(offerParams(c.srv.advertised(c.leg.LocalAddr()), c.sessID))
	}
	return buildAnswer(answerParams{local: c.srv.advertised(c.leg.LocalAddr()), sessionID: c.sessID, version: c.sdpVersion,
		codec: c.codec, dtmfPT: c.dtmfPT, direction: c.direction})
}

// takeAnswer applies the SDP answer the ACK (CSeq cseq) of our offer
// carries (RFC 3264 §6): the codec the caller chose of ours, its address and
// direction.
func (c *Call) takeAnswer(cseq uint32, body []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.lateOffer || cseq != c.offerCSeq {
		return nil // not the ACK of our offer (a late ACK of an earlier INVITE)
	}
	if len(body) == 0 {
		return errors.New("ack without the sdp answer to our offer")
	}
	ans, err := parseOffer(body)
	if err != nil {
		return err
	}
	if ans.codec.PayloadType != media.PCMU.PayloadType && ans.codec.PayloadType != media.PCMA.PayloadType {
		return fmt.Errorf("%w: answer chose payload type %d we did not offer", errNoCodec, ans.codec.PayloadType)
	}
	c.codec, c.dtmfPT = ans.codec, 0
	if ans.dtmfPT == lateOfferDTMF {
		c.dtmfPT = lateOfferDTMF
	}
	c.direction = answerDirection(ans.direction)
	c.leg.SetFormat(c.codec, c.dtmfPT)
	c.leg.SetRemote(ans.remote)
	c.leg.SetSending(weSend(c.direction) && ans.remote.IsValid())
	c.lateOffer = false
	return nil
}

// awaitAck resends the 2xx over UDP at T1, 2·T1 ... capped at T2, until
// the ACK arrives, the call ends, or 64·T1 pass (RFC 3261 §13.3.1.4).
//
// The ACK of a 2xx is a transaction of its own and normally reaches
// onAck, but sipgo matches one that shares the INVITE's server
// transaction key (the INVITE's branch reused, or an RFC 2543 peer's
// request without an RFC 3261 branch) to the INVITE's transaction, which
// in its Accepted state passes it up on tx.Acks() (RFC 6026 §7.1) and not
// to any handler: it is taken from there too, or the call would wait 64·T1
// for an ACK that came.
func (c *Call) awaitAck(res *sip.Response) {
	defer c.wg.Done()
	reliable := c.invite.Transport() != "UDP"
	giveUp := time.NewTimer(64 * timerT1)
	defer giveUp.Stop()
	interval := timerT1
	resend := time.NewTimer(interval)
	defer resend.Stop()
	for {
		select {
		case <-c.acked:
			return
		case req := <-c.tx.Acks():
			c.takeAck(req)
			return
		case <-c.done:
			return
		case <-giveUp.C:
			c.log.Warn("call never acknowledged", "waited", 64*timerT1)
			c.gotAck()
			c.finish(CauseNoAck)
			c.wg.Add(1)
			go func() { defer c.wg.Done(); c.sendBye() }()
			return
		case <-resend.C:
			if !reliable {
				if err := c.srv.srv.WriteResponse(res); err != nil {
					c.log.Debug("resend 2xx failed", "error", err)
				}
			}
			interval = min(2*interval, timerT2)
			resend.Reset(interval)
		}
	}
}

// gotAck records the ACK of the 2xx.
func (c *Call) gotAck() {
	c.ackOnce.Do(func() { close(c.acked) })
	c.mu.Lock()
	if c.state == stateAnswered {
		c.state = stateConfirmed
	}
	c.mu.Unlock()
}

// Reject refuses an unanswered call with a final status (>= 300).
func (c *Call) Reject(code int, reason string) error {
	if code < 300 || code > 699 {
		return fmt.Errorf("reject %s: status %d is not a final error", c.key.callID, code)
	}
	return c.refuse(code, reason, CauseRejected)
}

func (c *Call) refuse(code int, reason string, cause Cause) error {
	c.mu.Lock()
	if err := c.earlyLocked(); err != nil {
		c.mu.Unlock()
		return err
	}
	res := c.responseLocked(code, reason, nil)
	c.refusal = res
	c.mu.Unlock()
	err := c.tx.Respond(res)
	c.closeFinal()
	c.finish(cause)
	if err != nil {
		return fmt.Errorf("reject %s: %w", c.key.callID, err)
	}
	return nil
}

// Hangup ends the call: an unanswered call is refused with the status for
// cause (486 busy, 603 rejected, 503 shutdown, else 480); an answered one
// gets a BYE once its ACK came (RFC 3261 §15: not before). It blocks until
// the BYE is answered or times out, and is a no-op on an ended call.
func (c *Call) Hangup(cause Cause) error {
	c.mu.Lock()
	state := c.state
	c.mu.Unlock()
	switch state {
	case stateEnded:
		return nil
	case stateEarly:
		code, reason := cause.status()
		err := c.refuse(code, reason, cause)
		if errors.Is(err, ErrAnswered) {
			return c.Hangup(cause)
		}
		if errors.Is(err, ErrCallEnded) {
			return nil
		}
		return err
	}
	if cause == CauseShutdown {
		// Closing: send BYE only where the dialog is confirmed.
		select {
		case <-c.acked:
		default:
			c.finish(cause)
			return nil
		}
	}
	// The dialog stays in the map until the ACK comes, so it can be matched.
	wait := time.NewTimer(64 * timerT1)
	defer wait.Stop()
	select {
	case <-c.acked:
	case <-c.done:
	case <-wait.C:
	}
	if !c.finish(cause) {
		return nil
	}
	return c.sendBye()
}

// sendBye sends BYE within the dialog (RFC 3261 §15.1.1).
func (c *Call) sendBye() error {
	req := c.byeRequest()
	ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
	defer cancel()
	res, err := c.srv.client.Do(ctx, req)
	if err == nil && res == nil {
		// sipgo's Do returns neither when the transaction ended without
		// an error of its own (its transport closed under it: a stop).
		err = errors.New("transaction ended without a response")
	}
	if err != nil {
		c.log.Debug("bye failed", "error", err)
		return fmt.Errorf("hangup %s: bye: %w", c.key.callID, err)
	}
	if res.StatusCode >= 300 {
		c.log.Debug("bye refused", "status", res.StatusCode)
	}
	return nil
}

func (c *Call) byeRequest() *sip.Request {
	inv := c.invite
	target := inv.Recipient
	if ct := inv.Contact(); ct != nil {
		target = ct.Address
	}
	req := sip.NewRequest(sip.BYE, *target.Clone())
	from := &sip.FromHeader{DisplayName: inv.To().DisplayName, Address: inv.To().Address, Params: sip.NewParams()}
	from.Params.Add("tag", c.key.localTag)
	to := &sip.ToHeader{DisplayName: inv.From().DisplayName, Address: inv.From().Address, Params: inv.From().Params.Clone()}
	id := sip.CallIDHeader(c.key.callID)
	c.mu.Lock()
	c.localCSeq++
	cseq := &sip.CSeqHeader{SeqNo: c.localCSeq, MethodName: sip.BYE}
	c.mu.Unlock()
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&id)
	req.AppendHeader(cseq)
	req.AppendHeader(&mf)
	// RFC 3261 §12.1.1: the route set is the Record-Route, in order.
	for _, rr := range inv.GetHeaders("Record-Route") {
		req.AppendHeader(sip.NewHeader("Route", rr.Value()))
	}
	req.AppendHeader(sip.NewHeader("User-Agent", c.srv.cfg.UserAgent))
	req.SetTransport(inv.Transport())
	req.SetDestination(inv.Source())
	return req
}

// finish ends the call locally once: stops media, removes the dialog and
// closes Done. It reports whether this call ended it.
func (c *Call) finish(cause Cause) bool {
	c.mu.Lock()
	if c.state == stateEnded {
		c.mu.Unlock()
		return false
	}
	c.state, c.cause = stateEnded, cause
	refusal := c.refusal
	c.mu.Unlock()

	c.closeFinal()
	c.srv.dialogs.remove(c, refusal)
	c.cancel()
	c.leg.Close()
	close(c.done)
	c.log.Debug("call ended", "cause", string(cause))
	return true
}

func (c *Call) closeFinal() { c.finalOnce.Do(func() { close(c.final) }) }

// Play sends src to the caller until it ends, ctx ends, another Play
// replaces it or the call ends (see media.Leg.Play). Switching sources
// keeps the RTP stream continuous.
func (c *Call) Play(ctx context.Context, src media.Source) error {
	if err := c.answered(); err != nil {
		return err
	}
	return c.leg.Play(ctx, src)
}

// DTMF delivers the caller's key presses (RFC 4733), each once.
func (c *Call) DTMF() <-chan media.DTMF { return c.leg.DTMF() }

// Record writes the caller's audio to a WAV file at path until max, ctx
// or the end of the call (see media.Leg.Record).
func (c *Call) Record(ctx context.Context, path string, max time.Duration) (media.RecordInfo, error) {
	if err := c.answered(); err != nil {
		return media.RecordInfo{}, err
	}
	return c.leg.Record(ctx, path, max)
}

// Bridge relays media between this call and other until ctx ends or
// either call ends (see media.Leg.Bridge).
func (c *Call) Bridge(ctx context.Context, other *Call) error {
	if err := c.answered(); err != nil {
		return err
	}
	if err := other.answered(); err != nil {
		return err
	}
	return c.leg.Bridge(ctx, other.leg)
}

func (c *Call) answered() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.state {
	case stateEarly:
		return ErrNotAnswered
	case stateEnded:
		return ErrCallEnded
	}
	return nil
}

// reinvite applies a re-INVITE's offer (hold and resume, RFC 3264 §8.4)
// and returns the new answer body.
func (c *Call) reinvite(off offer) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateEnded {
		return nil, ErrCallEnded
	}
	if off.codec.Name != c.codec.Name {
		return nil, fmt.Errorf("%w: re-invite changes codec %s to %s", errNoCodec, c.codec.Name, off.codec.Name)
	}
	c.direction = answerDirection(off.direction)
	if !off.remote.IsValid() && c.direction == dirSendRecv {
		c.direction = dirRecvOnly // RFC 2543 hold: c=0.0.0.0
	}
	if off.remote.IsValid() {
		c.leg.SetRemote(off.remote)
	}
	c.leg.SetSending(weSend(c.direction))
	c.sdpVersion++
	return c.sdpLocked()
}

// inOrder records the CSeq of a new in-dialog request from the caller and
// reports whether it is higher than every earlier one, as RFC 3261
// §12.2.2 requires (a lower one is answered 500).
func (c *Call) inOrder(cseq uint32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cseq <= c.remoteCSeq {
		return false
	}
	c.remoteCSeq = cseq
	return true
}

// reoffer answers a re-INVITE without SDP with a fresh offer of ours
// (RFC 3261 §14.2); the caller's answer arrives in the ACK (takeAnswer).
func (c *Call) reoffer(cseq uint32) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateEnded {
		return nil, ErrCallEnded
	}
	c.sdpVersion++
	c.lateOffer, c.offerCSeq = true, cseq
	p := offerParams(c.srv.advertised(c.leg.LocalAddr()), c.sessID)
	p.version = c.sdpVersion
	return buildAnswer(p)
}

// discard drops a call that never started (a duplicate INVITE).
func (c *Call) discard() {
	c.cancel()
	c.leg.Close()
}

// resendFinal answers a copy of the INVITE that made this call with the
// 2xx it already got, if any (a provisional state needs nothing: the
// caller retransmits until the final response).
func (c *Call) resendFinal() {
	c.mu.Lock()
	res := c.answer
	c.mu.Unlock()
	if res != nil {
		if err := c.srv.srv.WriteResponse(res); err != nil {
			c.log.Debug("resend 2xx failed", "error", err)
		}
	}
}

// release runs when the handler returns: the call may not outlive it.
func (c *Call) release() {
	c.Hangup(CauseNormal)
	c.wg.Wait()
}

// advertised is local as peers must reach it: the port of local on
// Config.PublicIP when Moroz is behind NAT, else local itself.
func (s *Server) advertised(local netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(s.publicIP, local.Port())
}

// contact is the Contact header for the transport a dialog runs on, on
// the public IP.
func (s *Server) contact(transport string) sip.Header {
	addr := s.UDPAddr()
	if transport == "TCP" {
		addr = s.TCPAddr()
	}
	uri := sip.Uri{Scheme: "sip", User: "moroz", Host: s.publicIP.String(), Port: int(addr.Port()), UriParams: sip.NewParams()}
	if transport == "TCP" {
		uri.UriParams.Add("transport", "tcp")
	}
	return &sip.ContactHeader{Address: uri}
}
