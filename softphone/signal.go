package softphone

import (
	"context"
	"encoding/json"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/morozhq/moroz/acd"
)

// Codes of failed signalling requests, as the console shows them.
const (
	codeBadRequest = "bad_request"
	codeNotFound   = "not_found"
	codeWrongState = "wrong_state"
)

// signalError is a request the browser got wrong; SignalCode says how.
type signalError struct {
	code string
	msg  string
}

func (e *signalError) Error() string { return e.code + ": " + e.msg }

// SignalCode is the error code the browser is told.
func (e *signalError) SignalCode() string { return e.code }

// Request is one softphone message from a helper's browser (the
// "softphone" field of the console's request; console/protocol.md).
type Request struct {
	// Op is config, list, answer, reject, hangup, hold, transfer or
	// candidate.
	Op string `json:"op"`
	// Call is the call id the op is about (all but config and list).
	Call string `json:"call"`
	// SDP is the browser's offer (answer).
	SDP string `json:"sdp"`
	// On holds (true) or resumes (false) the call (hold).
	On bool `json:"on"`
	// Candidate is a trickled ICE candidate (candidate).
	Candidate *webrtc.ICECandidateInit `json:"candidate"`
	// Queue and HelperID are where a transfer sends the caller.
	Queue    string `json:"queue"`
	HelperID int64  `json:"helper_id"`
}

// eventMsg is what the phone tells a browser: ring (a call is offered to
// the helper) or ended (the call or its ringing is over, with a reason).
type eventMsg struct {
	Event  string `json:"event"`
	Call   string `json:"call"`
	From   string `json:"from,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// callInfo is one of the helper's calls in a list result.
type callInfo struct {
	Call  string    `json:"call"`
	From  string    `json:"from"`
	State string    `json:"state"` // ringing or talking
	Held  bool      `json:"held"`
	Since time.Time `json:"since,omitzero"`
}

// configResult tells the browser how to build its peer connection.
type configResult struct {
	ICEServers []ICEServer `json:"ice_servers"`
}

// Signal runs one softphone message from helperID's browser and returns
// the result to send back. Errors whose SignalCode method says so are the
// browser's fault; others are the server's.
func (p *Phone) Signal(ctx context.Context, helperID int64, raw json.RawMessage) (any, error) {
	var r Request
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, &signalError{codeBadRequest, "softphone: malformed message"}
	}
	switch r.Op {
	case "config":
		return configResult{ICEServers: append([]ICEServer{}, p.opt.Config.ICEServers...)}, nil
	case "list":
		calls := []callInfo{}
		for _, l := range p.Legs(helperID) {
			calls = append(calls, l.info())
		}
		return map[string]any{"calls": calls}, nil
	}
	l, err := p.leg(helperID, r.Call)
	if err != nil {
		return nil, err
	}
	return l.signal(ctx, r)
}

func (l *Leg) signal(ctx context.Context, r Request) (any, error) {
	switch r.Op {
	case "answer":
		sdp, err := l.answer(ctx, r.SDP)
		if err != nil {
			return nil, err
		}
		return map[string]string{"sdp": sdp}, nil
	case "reject":
		return nil, l.reject()
	case "hangup":
		return nil, l.Hangup()
	case "hold":
		return nil, l.SetHold(r.On)
	case "transfer":
		return nil, l.transferTo(acd.Target{Queue: r.Queue, Helper: r.HelperID})
	case "candidate":
		if r.Candidate == nil {
			return nil, &signalError{codeBadRequest, "candidate: missing"}
		}
		return nil, l.addCandidate(*r.Candidate)
	}
	return nil, &signalError{codeBadRequest, "softphone: unknown op " + r.Op}
}
