package sip

import (
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// TestEndedInvitesAreForgotten: an ended call's INVITE is recognised for
// inviteLinger, then forgotten; a live call's stays.
func TestEndedInvitesAreForgotten(t *testing.T) {
	d := newDialogs()
	inv := func(id string) *Call {
		req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", Host: "x"})
		req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE})
		return &Call{invite: req, key: dialogKey{callID: id, localTag: "l", remoteTag: "r"}}
	}
	a, b := inv("a"), inv("b")
	for _, c := range []*Call{a, b} {
		if _, _, ok := d.add(c); !ok {
			t.Fatalf("add %s: refused", c.key.callID)
		}
	}
	d.remove(a, nil)
	d.mu.Lock()
	d.ended[0].until = time.Now().Add(-time.Second) // as if inviteLinger had passed
	d.mu.Unlock()
	if _, _, ok := d.add(inv("a")); !ok {
		t.Error("a copy of a's INVITE after inviteLinger: refused, want a new call")
	}
	if _, _, ok := d.add(inv("b")); ok {
		t.Error("a copy of b's INVITE while b lasts: accepted, want refused")
	}
}
