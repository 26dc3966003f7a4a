package sip

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// ackFormat is an ACK of the 2xx in the uac's dialog, with the Via given.
const ackFormat = "ACK sip:ded@127.0.0.1 SIP/2.0\r\nVia: %s\r\n" +
	"From: <sip:caller@127.0.0.1>;tag=%s\r\nTo: <sip:ded@127.0.0.1>;tag=%s\r\nCall-ID: %s\r\n" +
	"CSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"

// TestAckMatchingTheInviteTransaction: an ACK of the 2xx that sipgo's
// transaction layer matches to the INVITE's server transaction (it reuses
// the INVITE's branch, or has no RFC 3261 branch at all, as RFC 2543 peers
// send) is passed up through that transaction (RFC 6026 §7.1), not to the
// ACK handler. It still confirms the dialog: the server's next message is
// its BYE, not the 200 resent for want of an ACK.
func TestAckMatchingTheInviteTransaction(t *testing.T) {
	for _, tc := range []struct {
		name string
		via  func(local string) string // the INVITE's and the ACK's
	}{
		{"same branch", func(local string) string { return "SIP/2.0/UDP " + local + ";branch=z9hG4bKsame1;rport" }},
		{"rfc 2543 no branch", func(local string) string { return "SIP/2.0/UDP " + local }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testServer(t, func(ctx context.Context, c *Call) {
				if err := c.Answer(); err != nil {
					t.Errorf("answer: %v", err)
				}
				// Returning hangs up: a BYE once the ACK came.
			})
			u := newUAC(t, srv, false)
			via := tc.via(u.conn.LocalAddr().String())
			sdp := fmt.Sprintf(testSDP, "sendrecv")
			invite := "INVITE sip:ded@127.0.0.1 SIP/2.0\r\nVia: " + via + "\r\n" +
				"From: <sip:caller@127.0.0.1>;tag=" + u.fromTag + "\r\nTo: <sip:ded@127.0.0.1>\r\nCall-ID: " + u.callID + "\r\n" +
				"CSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContact: <sip:caller@" + u.conn.LocalAddr().String() + ">\r\n" +
				fmt.Sprintf("Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s", len(sdp), sdp)
			if _, err := u.conn.Write([]byte(invite)); err != nil {
				t.Fatal(err)
			}
			ok := u.final()
			if ok.status() != 200 {
				t.Fatalf("invite: got %d, want 200", ok.status())
			}
			_, tag, _ := strings.Cut(ok.header("To"), "tag=")
			u.toTag = strings.SplitN(tag, ";", 2)[0]
			if _, err := fmt.Fprintf(u.conn, ackFormat, via, u.fromTag, u.toTag, u.callID); err != nil {
				t.Fatal(err)
			}
			next := u.read()
			if !strings.HasPrefix(next.first, "BYE ") {
				t.Fatalf("after the ack: got %q (CSeq %q), want the server's BYE", next.first, next.header("CSeq"))
			}
			u.replyOK(next)
		})
	}
}

// TestLostAckGetsTheAnswerResent: a 2xx whose ACK does not come is sent
// again (RFC 3261 §13.3.1.4), the same response, until the ACK arrives;
// the ACK of the resent 200 confirms the dialog.
func TestLostAckGetsTheAnswerResent(t *testing.T) {
	srv := testServer(t, func(ctx context.Context, c *Call) {
		if err := c.Answer(); err != nil {
			t.Errorf("answer: %v", err)
		}
	})
	u := newUAC(t, srv, false)
	first := u.invite("sendrecv")
	if first.status() != 200 {
		t.Fatalf("invite: got %d, want 200", first.status())
	}
	// The caller's first ACK is lost: nothing is sent.
	again := u.read()
	if again.status() != 200 || again.header("To") != first.header("To") || again.header("CSeq") != "1 INVITE" {
		t.Fatalf("without an ack: got %q To %q CSeq %q, want the same 200 again", again.first, again.header("To"), again.header("CSeq"))
	}
	u.request("ACK", 1, "")
	next := u.read()
	for next.status() == 200 { // a resend already on its way when the ACK left
		next = u.read()
	}
	if !strings.HasPrefix(next.first, "BYE ") {
		t.Fatalf("after the ack: got %q, want the server's BYE", next.first)
	}
	u.replyOK(next)
}
