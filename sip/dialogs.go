package sip

import (
	"sync"

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

// dialogs is the edge's own dialog map; safe for concurrent use.
type dialogs struct {
	mu      sync.Mutex
	calls   map[dialogKey]*Call // guarded by mu
	invites map[inviteKey]*Call // guarded by mu
}

func newDialogs() *dialogs {
	return &dialogs{calls: map[dialogKey]*Call{}, invites: map[inviteKey]*Call{}}
}

func (c *Call) inviteKey() inviteKey {
	return inviteKey{callID: c.key.callID, remoteTag: c.key.remoteTag, cseq: c.invite.CSeq().SeqNo}
}

// add registers c, unless a call from the same INVITE exists: then it
// returns that one and false.
func (d *dialogs) add(c *Call) (*Call, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if old := d.invites[c.inviteKey()]; old != nil {
		return old, false
	}
	d.calls[c.key] = c
	d.invites[c.inviteKey()] = c
	return c, true
}

func (d *dialogs) remove(c *Call) {
	d.mu.Lock()
	if d.calls[c.key] == c {
		delete(d.calls, c.key)
	}
	if d.invites[c.inviteKey()] == c {
		delete(d.invites, c.inviteKey())
	}
	d.mu.Unlock()
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
