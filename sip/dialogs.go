package sip

import (
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// dialogKey identifies a dialog (RFC 3261 §12): Call-ID, our tag, theirs.
type dialogKey struct {
	callID, localTag, remoteTag string
}

// keyOf returns the key of the dialog an in-dialog request from the caller
// belongs to: their From tag is the remote tag, their To tag ours.
func keyOf(req *sip.Request) (dialogKey, bool) {
	from, to, id := req.From(), req.To(), req.CallID()
	if from == nil || to == nil || id == nil {
		return dialogKey{}, false
	}
	local, ok := to.Params.Get("tag")
	if !ok {
		return dialogKey{}, false
	}
	remote, _ := from.Params.Get("tag")
	return dialogKey{callID: id.Value(), localTag: local, remoteTag: remote}, true
}

// inviteKey identifies the INVITE that created a call: a copy of it that
// sipgo's transaction layer did not absorb (its transaction already gone)
// must not start a second call.
type inviteKey struct {
	callID, remoteTag string
	cseq              uint32
}

// inviteLinger is how long an ended call's INVITE is still recognised:
// 64·T1, as long as a server transaction absorbs copies of its request
// (RFC 3261 §17.2.1 Timer H, RFC 6026 Timer L).
const inviteLinger = 64 * timerT1

// invite is what the dialog map keeps of an INVITE that made a call: the
// call while it lasts, then, for inviteLinger, the final response a copy
// gets again (none after a 2xx: copies are absorbed).
type invite struct {
	call  *Call
	final *sip.Response
}

// lingering is an ended call's INVITE, forgotten at its time.
type lingering struct {
	until time.Time
	key   inviteKey
	inv   *invite
}

// dialogs is the edge's own dialog map; safe for concurrent use.
type dialogs struct {
	mu      sync.Mutex
	calls   map[dialogKey]*Call   // guarded by mu
	invites map[inviteKey]*invite // guarded by mu
	ended   []lingering           // guarded by mu: in time order (inviteLinger is constant)
}

func newDialogs() *dialogs {
	return &dialogs{calls: map[dialogKey]*Call{}, invites: map[inviteKey]*invite{}}
}

func (c *Call) inviteKey() inviteKey {
	return inviteKey{callID: c.key.callID, remoteTag: c.key.remoteTag, cseq: c.invite.CSeq().SeqNo}
}

// add registers c, unless a call from the same INVITE exists or ended
// less than inviteLinger ago: then it returns that call (nil once ended)
// or the final response to send a copy again (nil: absorb it), and false.
func (d *dialogs) add(c *Call) (old *Call, final *sip.Response, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.forgetLocked(time.Now())
	if e := d.invites[c.inviteKey()]; e != nil {
		return e.call, e.final, false
	}
	d.calls[c.key] = c
	d.invites[c.inviteKey()] = &invite{call: c}
	return nil, nil, true
}

// remove ends c's dialog; its INVITE is kept for inviteLinger with final,
// the non-2xx response that refused it (nil when it was answered).
func (d *dialogs) remove(c *Call, final *sip.Response) {
	k := c.inviteKey()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.calls[c.key] == c {
		delete(d.calls, c.key)
	}
	e := d.invites[k]
	if e == nil || e.call != c {
		return
	}
	e.call, e.final = nil, final
	now := time.Now()
	d.ended = append(d.ended, lingering{until: now.Add(inviteLinger), key: k, inv: e})
	d.forgetLocked(now)
}

// forgetLocked drops the INVITEs of calls that ended inviteLinger ago.
func (d *dialogs) forgetLocked(now time.Time) {
	n := 0
	for n < len(d.ended) && now.After(d.ended[n].until) {
		if l := d.ended[n]; d.invites[l.key] == l.inv {
			delete(d.invites, l.key)
		}
		n++
	}
	if n > 0 {
		clear(d.ended[:n])
		d.ended = d.ended[n:]
	}
}

func (d *dialogs) get(k dialogKey) *Call {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls[k]
}

func (d *dialogs) lookup(req *sip.Request) *Call {
	k, ok := keyOf(req)
	if !ok {
		return nil
	}
	return d.get(k)
}

func (d *dialogs) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.calls)
}

func (d *dialogs) all() []*Call {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]*Call, 0, len(d.calls))
	for _, c := range d.calls {
		out = append(out, c)
	}
	return out
}
