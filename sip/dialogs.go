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

// dialogs is the edge's own dialog map; safe for concurrent use.
type dialogs struct {
	mu    sync.Mutex
	calls map[dialogKey]*Call // guarded by mu
}

func newDialogs() *dialogs { return &dialogs{calls: map[dialogKey]*Call{}} }

func (d *dialogs) add(c *Call) {
	d.mu.Lock()
	d.calls[c.key] = c
	d.mu.Unlock()
}

func (d *dialogs) remove(c *Call) {
	d.mu.Lock()
	if d.calls[c.key] == c {
		delete(d.calls, c.key)
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
