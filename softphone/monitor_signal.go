package softphone

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/pion/webrtc/v4"
)

// MonitorRequest is one message of a supervisor's wallboard about live
// calls (the "monitor" field of the console's request;
// console/protocol.md, "Supervisor listen, whisper and barge").
type MonitorRequest struct {
	// Op is calls, start, mode, leave or candidate.
	Op string `json:"op"`
	// Call is the call id the op is about (all but calls).
	Call string `json:"call"`
	// SDP is the wallboard's offer (start).
	SDP string `json:"sdp"`
	// Mode is listen, whisper or barge (start, mode); start defaults to
	// listen.
	Mode Mode `json:"mode"`
	// Candidate is a trickled ICE candidate (candidate).
	Candidate *webrtc.ICECandidateInit `json:"candidate"`
}

// LiveCall is a talking call of a helper's browser or desk phone, as the
// wallboard lists it.
type LiveCall struct {
	Call     string       `json:"call"`
	From     string       `json:"from"`
	Helper   int64        `json:"helper_id"`
	ItemID   int64        `json:"item_id,omitempty"`
	Queue    string       `json:"queue,omitempty"`
	Since    time.Time    `json:"since"`
	Held     bool         `json:"held"`
	Desk     bool         `json:"desk,omitempty"`     // taken on a desk phone
	Callback bool         `json:"callback,omitempty"` // a callback: From is the number called
	Monitor  *MonitorInfo `json:"monitor"`
}

// LiveCalls returns the talking calls of every helper's browser and the
// listed desk-phone calls ([Phone.AddDeskCall]), oldest first, with their
// item and queue when Options.Describe knows them.
func (p *Phone) LiveCalls(ctx context.Context) []LiveCall {
	out := []LiveCall{}
	for _, l := range p.Legs(0) {
		ci := l.info()
		if ci.State != "talking" {
			continue
		}
		lc := LiveCall{Call: ci.Call, From: ci.From, Helper: l.helper, Since: ci.Since, Held: ci.Held,
			Callback: l.isCallback()}
		if m := l.Monitor(); m != nil {
			lc.Monitor = m.info()
		}
		lc.ItemID, lc.Queue = l.describe(ctx)
		out = append(out, lc)
	}
	for _, d := range p.deskCalls() {
		out = append(out, d.liveCall(ctx))
	}
	slices.SortFunc(out, func(a, b LiveCall) int {
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		return strings.Compare(a.Call, b.Call)
	})
	return out
}

// describe returns the call's item and queue, asking Options.Describe
// until it knows them (a call keeps its item; a transfer ends the leg).
func (l *Leg) describe(ctx context.Context) (int64, string) {
	l.mu.Lock()
	item, queue := l.itemID, l.queue
	l.mu.Unlock()
	if item != 0 || l.p.opt.Describe == nil {
		return item, queue
	}
	item, queue = l.p.opt.Describe(ctx, l.callID)
	if item == 0 {
		return 0, ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.itemID == 0 { // SetCallback may have named it meanwhile
		l.itemID, l.queue = item, queue
	}
	return l.itemID, l.queue
}

// Monitor runs one monitoring message of a supervisor's wallboard and
// returns the result to send back; errors are as Signal's. Who may send
// it is the console's to check (supervisors and admins).
func (p *Phone) Monitor(ctx context.Context, supervisor int64, raw json.RawMessage) (any, error) {
	var r MonitorRequest
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, &signalError{codeBadRequest, "monitor: malformed message"}
	}
	if r.Op == "calls" {
		return map[string]any{"calls": p.LiveCalls(ctx)}, nil
	}
	var l monitoredCall
	if d := p.desk(r.Call); d != nil && r.Call != "" {
		l = d
	} else if bl, err := p.anyLeg(r.Call); err != nil {
		return nil, err
	} else {
		l = bl
	}
	if r.Op == "start" {
		if r.Mode == "" {
			r.Mode = ModeListen
		}
		_, sdp, err := l.startMonitor(ctx, supervisor, r.SDP, r.Mode)
		if err != nil {
			return nil, err
		}
		return map[string]string{"sdp": sdp}, nil
	}
	m := l.Monitor()
	if m == nil || m.supervisor != supervisor {
		return nil, &signalError{codeWrongState, "monitor: you do not monitor this call"}
	}
	switch r.Op {
	case "mode":
		return nil, m.SetMode(r.Mode)
	case "leave":
		m.Leave()
		return nil, nil
	case "candidate":
		if r.Candidate == nil {
			return nil, &signalError{codeBadRequest, "candidate: missing"}
		}
		return nil, m.addCandidate(*r.Candidate)
	}
	return nil, &signalError{codeBadRequest, "monitor: unknown op " + r.Op}
}

// monitoredCall is a call a supervisor may monitor: a browser's leg or
// a desk-phone call.
type monitoredCall interface {
	startMonitor(ctx context.Context, supervisor int64, sdpOffer string, mode Mode) (*Monitor, string, error)
	Monitor() *Monitor
}

// anyLeg returns the leg of a call, whichever helper has it.
func (p *Phone) anyLeg(callID string) (*Leg, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.legs[callID]
	if !ok || callID == "" {
		return nil, &signalError{codeNotFound, "no such call: " + callID}
	}
	return l, nil
}

func (m *Monitor) addCandidate(c webrtc.ICECandidateInit) error {
	m.mu.Lock()
	pc := m.pc
	m.mu.Unlock()
	if err := pc.AddICECandidate(c); err != nil {
		return &signalError{codeBadRequest, "candidate: " + err.Error()}
	}
	return nil
}
