package sip

import (
	"errors"

	"github.com/emiago/sipgo/sip"
	"github.com/morozhq/moroz/sip/media"
)

// onInvite starts a call, or updates one for a re-INVITE. It holds sipgo's
// goroutine until the INVITE has its final response: sipgo ends the
// transaction when the handler returns.
func (s *Server) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if _, inDialog := req.To().Params.Get("tag"); inDialog {
		s.onReinvite(req, tx)
		return
	}
	if s.Draining() || s.ctx.Err() != nil {
		s.respond(tx, req, 503, "Service Unavailable", retryAfter(s.cfg.RetryAfter))
		return
	}
	c, ok := s.newCallFor(req, tx)
	if !ok {
		return
	}
	if old, final, ok := s.dialogs.add(c); !ok {
		c.discard()
		s.answerCopy(old, final)
		return
	}
	s.respond(tx, req, 100, "Trying")
	if !tx.OnCancel(func(*sip.Request) { c.finish(CauseCanceled) }) {
		c.finish(CauseCanceled)
		return
	}
	s.stats.invites.Add(1)
	c.log.Debug("call arrived", "from", c.from, "to", c.to, "codec", c.codec.Name)

	s.wg.Add(1)
	go s.runCall(c)

	select {
	case <-c.final:
	case <-tx.Done():
		c.finish(CauseError) // the transaction failed before a final response
	}
}

// answerCopy answers a copy of an INVITE that made a call (its sipgo
// transaction gone): with the call's 2xx while it lasts, or the final
// error response that refused it; a copy of an answered call that ended
// is absorbed.
func (s *Server) answerCopy(live *Call, final *sip.Response) {
	if live != nil {
		live.resendFinal()
		return
	}
	if final != nil {
		if err := s.srv.WriteResponse(final); err != nil {
			s.log.Debug("resend final response failed", "error", err)
		}
	}
}

// newCallFor negotiates media for an INVITE; on failure it answers the
// INVITE itself and reports false.
func (s *Server) newCallFor(req *sip.Request, tx sip.ServerTransaction) (*Call, bool) {
	late := len(req.Body()) == 0
	var off offer
	if late {
		// No offer: Moroz offers in the 200 and learns the answer from the ACK.
		off = offer{codec: media.PCMU, dtmfPT: lateOfferDTMF, direction: dirSendRecv}
	} else {
		var err error
		if off, err = parseOffer(req.Body()); err != nil {
			s.refuseOffer(req, tx, err)
			return nil, false
		}
	}
	conn, err := s.ports.Listen()
	if err != nil {
		s.log.Error("no rtp port for a call", "call_id", callID(req), "error", err)
		s.respond(tx, req, 503, "Service Unavailable", retryAfter(s.cfg.RetryAfter))
		return nil, false
	}
	leg, err := media.NewLeg(conn, media.LegConfig{Codec: off.codec, DTMFPayloadType: off.dtmfPT,
		Remote: off.remote, Logger: s.log.With("call_id", callID(req)), Pacer: s.pacer})
	if err != nil {
		s.respond(tx, req, 500, "Server Internal Error")
		return nil, false
	}
	c := newCall(s, req, tx, leg, off)
	c.lateOffer = late
	return c, true
}

// refuseOffer answers an SDP that cannot be used: 488 when it shares no
// codec (RFC 3261 §13.3.1.3), 400 when it does not parse.
func (s *Server) refuseOffer(req *sip.Request, tx sip.ServerTransaction, err error) {
	s.plog.Warn("sdp offer refused", "call_id", callID(req), "peer", req.Source(), "error", truncate(err.Error(), 120))
	if errors.Is(err, errNoCodec) {
		s.respond(tx, req, 488, "Not Acceptable Here", sip.NewHeader("Warning", `305 moroz "incompatible media format"`))
		return
	}
	s.respond(tx, req, 400, "Bad SDP")
}

// runCall runs the handler for one call and cleans up after it.
func (s *Server) runCall(c *Call) {
	defer s.wg.Done()
	defer c.release()
	s.handler(c.ctx, c)
}

// onReinvite answers a re-INVITE in an existing dialog (hold, resume, a
// new address): 481 without the dialog, 488 for an unusable offer.
func (s *Server) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	c := s.dialogs.lookup(req)
	if c == nil {
		s.respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	if !c.inOrder(req.CSeq().SeqNo) {
		s.respond(tx, req, 500, "Server Internal Error")
		return
	}
	var body []byte
	var err error
	if len(req.Body()) == 0 {
		body, err = c.reoffer(req.CSeq().SeqNo) // the answer comes in the ACK
	} else {
		var off offer
		if off, err = parseOffer(req.Body()); err == nil {
			body, err = c.reinvite(off)
		}
	}
	if err != nil {
		s.refuseOffer(req, tx, err)
		return
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", body)
	res.AppendHeader(s.contact(req.Transport()))
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	if err := tx.Respond(res); err != nil {
		c.log.Debug("re-invite respond failed", "error", err)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		c.acksThrough(tx)
	}()
	c.log.Debug("call re-invited")
}

// acksThrough takes the ACK of a re-INVITE's 2xx that sipgo matched to
// the re-INVITE's transaction (see Call.awaitAck) until the call or the
// transaction ends.
func (c *Call) acksThrough(tx sip.ServerTransaction) {
	select {
	case req := <-tx.Acks():
		c.takeAck(req)
	case <-c.done:
	case <-tx.Done():
	}
}

// onAck confirms a dialog; an ACK for no dialog is ignored (RFC 3261 §17.2.3).
func (s *Server) onAck(req *sip.Request, _ sip.ServerTransaction) {
	if c := s.dialogs.lookup(req); c != nil {
		c.takeAck(req)
	}
}

// takeAck confirms the dialog with an ACK of a 2xx, however it arrived.
// After a late offer the ACK carries the caller's answer; one that cannot
// be used ends the call.
func (c *Call) takeAck(req *sip.Request) {
	s := c.srv
	if err := c.takeAnswer(req.CSeq().SeqNo, req.Body()); err != nil {
		s.plog.Warn("sdp answer in ack refused", "call_id", c.ID(), "peer", req.Source(), "error", truncate(err.Error(), 120))
		c.gotAck()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			c.Hangup(CauseError)
		}()
		return
	}
	c.gotAck()
}

// onBye ends a call at the caller's request (RFC 3261 §15.1.2).
func (s *Server) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c := s.dialogs.lookup(req)
	if c == nil {
		s.respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	if !c.inOrder(req.CSeq().SeqNo) {
		s.respond(tx, req, 500, "Server Internal Error")
		return
	}
	s.respond(tx, req, 200, "OK")
	// A BYE in an early dialog still leaves the INVITE to be answered
	// (RFC 3261 §15.1.2): 487, as if it were cancelled.
	if err := c.refuse(487, "Request Terminated", CauseCallerHangup); err == nil {
		return
	}
	c.gotAck() // a BYE implies the caller took the answer
	c.finish(CauseCallerHangup)
}

// onCancel sees only CANCELs that matched no INVITE transaction: sipgo
// answers the others (200, then 487 to the INVITE) and fires OnCancel.
func (s *Server) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	s.respond(tx, req, 481, "Call/Transaction Does Not Exist")
}
