package sip

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/morozhq/moroz/sip/media"
	"github.com/pion/rtp"
)

// uac is a hand-written SIP caller over UDP or TCP for signalling tests.
type uac struct {
	t       *testing.T
	conn    net.Conn
	r       *bufio.Reader // TCP only
	tcp     bool
	callID  string
	fromTag string
	toTag   string
	branchN int
}

func newUAC(t *testing.T, srv *Server, tcp bool) *uac {
	t.Helper()
	var conn net.Conn
	var err error
	if tcp {
		conn, err = net.Dial("tcp", srv.TCPAddr().String())
	} else {
		conn, err = net.Dial("udp", srv.UDPAddr().String())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	u := &uac{t: t, conn: conn, tcp: tcp, callID: fmt.Sprintf("%s-%d@test", t.Name(), time.Now().UnixNano()), fromTag: "uac1"}
	if tcp {
		u.r = bufio.NewReader(conn)
	}
	return u
}

const testSDP = "v=0\r\no=t 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=%s\r\n"

// request sends a request in the uac's dialog. cseq names the number and method.
func (u *uac) request(method string, cseq int, body string, extra ...string) {
	u.t.Helper()
	u.branchN++
	proto := "UDP"
	if u.tcp {
		proto = "TCP"
	}
	local := u.conn.LocalAddr().String()
	to := "<sip:ded@127.0.0.1>"
	if u.toTag != "" {
		to += ";tag=" + u.toTag
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s sip:ded@127.0.0.1 SIP/2.0\r\n", method)
	fmt.Fprintf(&b, "Via: SIP/2.0/%s %s;branch=z9hG4bK%s%d;rport\r\n", proto, local, u.fromTag, u.branchN)
	if method == "CANCEL" || (method == "ACK" && u.toTag == "") {
		// CANCEL and the ACK of an error share the INVITE's branch (RFC 3261 §9.1, §17.1.1.3).
		u.branchN--
		b.Reset()
		fmt.Fprintf(&b, "%s sip:ded@127.0.0.1 SIP/2.0\r\n", method)
		fmt.Fprintf(&b, "Via: SIP/2.0/%s %s;branch=z9hG4bK%s%d;rport\r\n", proto, local, u.fromTag, u.branchN)
	}
	fmt.Fprintf(&b, "From: <sip:caller@127.0.0.1>;tag=%s\r\nTo: %s\r\nCall-ID: %s\r\n", u.fromTag, to, u.callID)
	fmt.Fprintf(&b, "CSeq: %d %s\r\nMax-Forwards: 70\r\nContact: <sip:caller@%s>\r\n", cseq, method, local)
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	if body != "" {
		b.WriteString("Content-Type: application/sdp\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	if _, err := u.conn.Write([]byte(b.String())); err != nil {
		u.t.Fatal(err)
	}
}

// message is a received SIP message, split.
type message struct {
	first   string
	headers map[string][]string // lowercased names
	body    string
}

func (m message) status() int {
	code, _ := statusOf([]byte(m.first + "\r\n"))
	return code
}

func (m message) header(name string) string {
	if v := m.headers[strings.ToLower(name)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// read returns the next message; the deadline only stops a hung test.
func (u *uac) read() message {
	u.t.Helper()
	u.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var raw string
	if u.tcp {
		raw = u.readTCP()
	} else {
		buf := make([]byte, 65535)
		n, err := u.conn.Read(buf)
		if err != nil {
			u.t.Fatalf("read sip: %v", err)
		}
		raw = string(buf[:n])
	}
	head, body, _ := strings.Cut(raw, "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	m := message{first: lines[0], headers: map[string][]string{}, body: body}
	for _, l := range lines[1:] {
		name, v, _ := strings.Cut(l, ":")
		k := strings.ToLower(strings.TrimSpace(name))
		m.headers[k] = append(m.headers[k], strings.TrimSpace(v))
	}
	return m
}

func (u *uac) readTCP() string {
	var head strings.Builder
	length := 0
	for {
		line, err := u.r.ReadString('\n')
		if err != nil {
			u.t.Fatalf("read sip over tcp: %v", err)
		}
		if line == "\r\n" {
			if head.Len() == 0 {
				continue // keep-alive
			}
			break
		}
		head.WriteString(line)
		if name, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(name), "content-length") {
			fmt.Sscan(strings.TrimSpace(v), &length)
		}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(u.r, body); err != nil {
		u.t.Fatalf("read sip body: %v", err)
	}
	return strings.TrimSuffix(head.String(), "\r\n") + "\r\n\r\n" + string(body)
}

// final reads until a final response and returns it.
func (u *uac) final() message {
	u.t.Helper()
	for {
		m := u.read()
		if strings.HasPrefix(m.first, "SIP/2.0") && m.status() >= 200 {
			return m
		}
	}
}

// invite sends an INVITE and returns its final response, remembering the To tag.
func (u *uac) invite(dir string) message {
	u.t.Helper()
	u.request("INVITE", 1, fmt.Sprintf(testSDP, dir))
	m := u.final()
	if _, tag, ok := strings.Cut(m.header("To"), "tag="); ok {
		u.toTag = strings.SplitN(tag, ";", 2)[0]
	}
	return m
}

func TestOptionsAndDrain(t *testing.T) {
	srv := testServer(t, func(ctx context.Context, c *Call) { c.Answer(); <-ctx.Done() })
	u := newUAC(t, srv, false)
	u.request("OPTIONS", 1, "")
	if got := u.final().status(); got != 200 {
		t.Fatalf("options: got %d, want 200", got)
	}

	// A call in progress when the drain starts goes on.
	call := newUAC(t, srv, false)
	if got := call.invite("sendrecv").status(); got != 200 {
		t.Fatalf("invite before drain: got %d, want 200", got)
	}
	call.request("ACK", 1, "")
	srv.Drain()

	u.request("OPTIONS", 2, "")
	m := u.final()
	if m.status() != 503 {
		t.Errorf("options while draining: got %d, want 503", m.status())
	}
	late := newUAC(t, srv, false)
	m = late.invite("sendrecv")
	if m.status() != 503 || m.header("Retry-After") != "30" {
		t.Errorf("invite while draining: got %d Retry-After %q, want 503 with 30", m.status(), m.header("Retry-After"))
	}
	if n := srv.ActiveCalls(); n != 1 {
		t.Errorf("active calls while draining: got %d, want 1", n)
	}
	call.request("BYE", 2, "")
	if got := call.final().status(); got != 200 {
		t.Errorf("bye of the drained call: got %d, want 200", got)
	}
}

func TestCancelBeforeAnswer(t *testing.T) {
	causes := make(chan Cause, 1)
	srv := testServer(t, func(ctx context.Context, c *Call) {
		c.Ring()
		<-c.Done()
		causes <- c.Cause()
	})
	u := newUAC(t, srv, false)
	u.request("INVITE", 1, fmt.Sprintf(testSDP, "sendrecv"))
	for m := u.read(); m.status() != 180; m = u.read() {
	}
	u.request("CANCEL", 1, "")
	got := map[string]int{}
	for len(got) < 2 {
		m := u.final()
		got[strings.Fields(m.header("CSeq"))[1]] = m.status()
	}
	if diff := cmp.Diff(map[string]int{"CANCEL": 200, "INVITE": 487}, got); diff != "" {
		t.Errorf("responses by method (-want +got):\n%s", diff)
	}
	if c := <-causes; c != CauseCanceled {
		t.Errorf("cause: got %q, want %q", c, CauseCanceled)
	}
}

func TestReinviteHold(t *testing.T) {
	calls := make(chan *Call, 1)
	srv := testServer(t, func(ctx context.Context, c *Call) {
		c.Answer()
		calls <- c
		<-c.Done()
	})
	u := newUAC(t, srv, false)
	if got := u.invite("sendrecv").status(); got != 200 {
		t.Fatalf("invite: got %d, want 200", got)
	}
	u.request("ACK", 1, "")
	call := <-calls
	tests := []struct {
		offer, want string
		held        bool
	}{
		{"sendonly", "recvonly", true},
		{"inactive", "inactive", true},
		{"sendrecv", "sendrecv", false},
	}
	for i, tt := range tests {
		t.Run(tt.offer, func(t *testing.T) {
			u.request("INVITE", 2+i, fmt.Sprintf(testSDP, tt.offer))
			m := u.final()
			if m.status() != 200 {
				t.Fatalf("re-invite: got %d, want 200", m.status())
			}
			u.request("ACK", 2+i, "")
			if !strings.Contains(m.body, "a="+tt.want+"\r\n") {
				t.Errorf("answer to %s: got\n%s\nwant a=%s", tt.offer, m.body, tt.want)
			}
			if got := call.Held(); got != tt.held {
				t.Errorf("held after %s: got %v, want %v", tt.offer, got, tt.held)
			}
		})
	}
	u.request("BYE", 9, "")
	if got := u.final().status(); got != 200 {
		t.Errorf("bye: got %d, want 200", got)
	}
}

func TestByeForUnknownDialog(t *testing.T) {
	srv := testServer(t, func(ctx context.Context, c *Call) {})
	u := newUAC(t, srv, false)
	u.toTag = "nosuchdialog"
	u.request("BYE", 1, "")
	if got := u.final().status(); got != 481 {
		t.Errorf("bye: got %d, want 481", got)
	}
}

func TestInviteWithoutCommonCodec(t *testing.T) {
	srv := testServer(t, func(ctx context.Context, c *Call) { t.Error("handler ran for an unusable offer") })
	u := newUAC(t, srv, false)
	sdp := "v=0\r\no=t 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 9 18\r\n"
	u.request("INVITE", 1, sdp)
	if got := u.final().status(); got != 488 {
		t.Errorf("invite with G.722 and G.729 only: got %d, want 488", got)
	}
}

func TestHangupOverTCPSendsBye(t *testing.T) {
	srv := testServer(t, func(ctx context.Context, c *Call) {
		if err := c.Answer(); err != nil {
			t.Errorf("answer: %v", err)
			return
		}
		// The handler returns at once: the server hangs up, after the ACK.
	})
	u := newUAC(t, srv, true)
	m := u.invite("sendrecv")
	if m.status() != 200 {
		t.Fatalf("invite over tcp: got %d, want 200", m.status())
	}
	if !strings.Contains(m.header("Contact"), "transport=tcp") {
		t.Errorf("contact: got %q, want transport=tcp", m.header("Contact"))
	}
	u.request("ACK", 1, "")
	bye := u.read()
	if !strings.HasPrefix(bye.first, "BYE ") {
		t.Fatalf("after ack: got %q, want a BYE", bye.first)
	}
	if !strings.Contains(bye.header("From"), "tag="+u.toTag) || !strings.Contains(bye.header("To"), "tag="+u.fromTag) {
		t.Errorf("bye tags: From %q To %q, want ours swapped", bye.header("From"), bye.header("To"))
	}
	u.replyOK(bye)
}

// replyOK answers a request from the server with 200.
func (u *uac) replyOK(req message) {
	u.t.Helper()
	res := "SIP/2.0 200 OK\r\n"
	for _, h := range []string{"via", "from", "to", "call-id", "cseq"} {
		for _, v := range req.headers[h] {
			res += h + ": " + v + "\r\n"
		}
	}
	res += "Content-Length: 0\r\n\r\n"
	if _, err := u.conn.Write([]byte(res)); err != nil {
		u.t.Fatal(err)
	}
}

func TestCloseEndsCallsAndHandlers(t *testing.T) {
	ended := make(chan Cause, 1)
	calls := make(chan *Call, 1)
	srv := testServer(t, func(ctx context.Context, c *Call) {
		c.Answer()
		calls <- c
		<-ctx.Done()
		<-c.Done()
		ended <- c.Cause()
	})
	u := newUAC(t, srv, false)
	if got := u.invite("sendrecv").status(); got != 200 {
		t.Fatalf("invite: got %d, want 200", got)
	}
	u.request("ACK", 1, "")
	<-(<-calls).acked // Close sends BYE only on confirmed dialogs
	done := make(chan error, 1)
	go func() { done <- srv.Close() }()
	bye := u.read()
	if !strings.HasPrefix(bye.first, "BYE ") {
		t.Fatalf("on close: got %q, want a BYE", bye.first)
	}
	u.replyOK(bye)
	<-done
	if c := <-ended; c != CauseShutdown {
		t.Errorf("cause: got %q, want %q", c, CauseShutdown)
	}
	if n := srv.ActiveCalls(); n != 0 {
		t.Errorf("active calls after close: got %d, want 0", n)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

func TestByeInEarlyDialog(t *testing.T) {
	causes := make(chan Cause, 1)
	srv := testServer(t, func(ctx context.Context, c *Call) {
		c.Ring()
		<-c.Done()
		causes <- c.Cause()
	})
	u := newUAC(t, srv, false)
	u.request("INVITE", 1, fmt.Sprintf(testSDP, "sendrecv"))
	m := u.read()
	for m.status() != 180 {
		m = u.read()
	}
	_, tag, _ := strings.Cut(m.header("To"), "tag=")
	u.toTag = tag
	u.request("BYE", 2, "")
	got := map[string]int{}
	for len(got) < 2 {
		m := u.final()
		got[strings.Fields(m.header("CSeq"))[1]] = m.status()
	}
	if diff := cmp.Diff(map[string]int{"BYE": 200, "INVITE": 487}, got); diff != "" {
		t.Errorf("responses by method (-want +got):\n%s", diff)
	}
	if c := <-causes; c != CauseCallerHangup {
		t.Errorf("cause: got %q, want %q", c, CauseCallerHangup)
	}
}

func TestLateOfferAnswerInAck(t *testing.T) {
	rtpConn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rtpConn.Close()
	srv := testServer(t, func(ctx context.Context, c *Call) {
		if err := c.Answer(); err != nil {
			t.Errorf("answer: %v", err)
			return
		}
		c.Play(ctx, media.Silence())
	})
	u := newUAC(t, srv, false)
	u.request("INVITE", 1, "")
	m := u.final()
	if m.status() != 200 {
		t.Fatalf("invite without sdp: got %d, want 200", m.status())
	}
	if !strings.Contains(m.body, " 0 8 101\r\n") {
		t.Fatalf("offer in the 200: got\n%s\nwant PCMU, PCMA and telephone-event", m.body)
	}
	_, tag, _ := strings.Cut(m.header("To"), "tag=")
	u.toTag = tag
	port := rtpConn.LocalAddr().(*net.UDPAddr).Port
	u.request("ACK", 1, fmt.Sprintf("v=0\r\no=t 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP 8\r\na=sendrecv\r\n", port))

	// The first packet shows the answer took: PCMA, to the ACK's address.
	buf := make([]byte, 1500)
	rtpConn.SetReadDeadline(time.Now().Add(10 * time.Second)) // only stops a hung test
	n, err := rtpConn.Read(buf)
	if err != nil {
		t.Fatalf("no rtp at the answer's address: %v", err)
	}
	var pkt rtp.Packet
	if err := pkt.Unmarshal(buf[:n]); err != nil {
		t.Fatal(err)
	}
	if pkt.PayloadType != media.PCMA.PayloadType {
		t.Errorf("payload type: got %d, want %d (PCMA, as answered)", pkt.PayloadType, media.PCMA.PayloadType)
	}
	u.request("BYE", 2, "")
	if got := u.final().status(); got != 200 {
		t.Errorf("bye: got %d, want 200", got)
	}
}

func TestUnparseableTCPStreamCounted(t *testing.T) {
	srv := testServer(t, func(ctx context.Context, c *Call) {})
	conn, err := net.Dial("tcp", srv.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("HELLO SNOWMAN\r\nX: y\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second)) // only stops a hung test
	if _, err := io.ReadAll(conn); err != nil {
		t.Fatalf("want the server to close the stream: %v", err)
	}
	if got := srv.Stats().Unparseable; got != 1 {
		t.Errorf("unparseable: got %d, want 1", got)
	}
}

func TestInDialogCSeqMustRise(t *testing.T) {
	srv := testServer(t, func(ctx context.Context, c *Call) { c.Answer(); <-c.Done() })
	u := newUAC(t, srv, false)
	if got := u.invite("sendrecv").status(); got != 200 {
		t.Fatalf("invite: got %d, want 200", got)
	}
	u.request("ACK", 1, "")
	u.request("BYE", 1, "") // the INVITE's own CSeq: not higher
	if got := u.final().status(); got != 500 {
		t.Errorf("bye with an old cseq: got %d, want 500", got)
	}
	u.request("BYE", 2, "")
	if got := u.final().status(); got != 200 {
		t.Errorf("bye with a higher cseq: got %d, want 200", got)
	}
}

func TestReinviteWithoutOfferTakesAnswerFromAck(t *testing.T) {
	calls := make(chan *Call, 1)
	srv := testServer(t, func(ctx context.Context, c *Call) {
		c.Answer()
		calls <- c
		<-c.Done()
	})
	u := newUAC(t, srv, false)
	if got := u.invite("sendrecv").status(); got != 200 {
		t.Fatalf("invite: got %d, want 200", got)
	}
	u.request("ACK", 1, "")
	call := <-calls
	u.request("INVITE", 2, "")
	m := u.final()
	if m.status() != 200 || !strings.Contains(m.body, " 0 8 101\r\n") {
		t.Fatalf("re-invite without sdp: got %d with\n%s\nwant 200 with an offer", m.status(), m.body)
	}
	u.request("ACK", 2, fmt.Sprintf(testSDP, "sendonly")) // the caller holds
	// The ACK has no response to wait for; yield until its handler ran.
	// The deadline only stops a broken server from hanging the test.
	for deadline := time.Now().Add(10 * time.Second); !call.Held(); runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatal("held: still false after an answer of sendonly in the ACK")
		}
	}
	u.request("BYE", 3, "")
	if got := u.final().status(); got != 200 {
		t.Errorf("bye: got %d, want 200", got)
	}
}

func TestDuplicateInviteMakesNoSecondCall(t *testing.T) {
	srv := testServer(t, func(ctx context.Context, c *Call) { c.Answer(); <-c.Done() })
	u := newUAC(t, srv, false)
	first := u.invite("sendrecv")
	if first.status() != 200 {
		t.Fatalf("invite: got %d, want 200", first.status())
	}
	// The same INVITE again under a new branch, as if its transaction were gone.
	tag := u.toTag
	u.toTag = ""
	u.request("INVITE", 1, fmt.Sprintf(testSDP, "sendrecv"))
	again := u.final()
	u.toTag = tag
	if again.status() != 200 || again.header("To") != first.header("To") {
		t.Errorf("duplicate: got %d To %q, want the same 200 (To %q)", again.status(), again.header("To"), first.header("To"))
	}
	if st := srv.Stats(); st.Invites != 1 || st.ActiveCalls != 1 {
		t.Errorf("stats: got %d invites, %d active calls, want 1 and 1", st.Invites, st.ActiveCalls)
	}
	u.request("ACK", 1, "")
	u.request("BYE", 2, "")
	if got := u.final().status(); got != 200 {
		t.Errorf("bye: got %d, want 200", got)
	}
}

// TestCopyOfRefusedInviteMakesNoSecondCall: a copy of an INVITE whose
// call was refused and has ended (sipgo's transaction for it gone, as
// when its own 100 Trying timer overwrote the final response it keeps,
// or after the call's dialog was removed) gets the same final response
// again rather than starting a second call (RFC 3261 §17.2.1 has copies
// answered with the last response for 64·T1).
func TestCopyOfRefusedInviteMakesNoSecondCall(t *testing.T) {
	srv := testServer(t, func(ctx context.Context, c *Call) { c.Reject(486, "Busy Here") })
	u := newUAC(t, srv, false)
	u.request("INVITE", 1, fmt.Sprintf(testSDP, "sendrecv"))
	first := u.final()
	if first.status() != 486 {
		t.Fatalf("invite: got %d, want 486", first.status())
	}
	u.request("ACK", 1, "") // the INVITE's branch: ends its transaction's resends
	for deadline := time.Now().Add(10 * time.Second); srv.ActiveCalls() != 0; runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatal("the refused call is still active") // only stops a hung test
		}
	}
	// The same INVITE again under a new branch, as if its transaction were gone.
	u.request("INVITE", 1, fmt.Sprintf(testSDP, "sendrecv"))
	again := u.final()
	if again.status() != 486 || again.header("To") != first.header("To") {
		t.Errorf("copy: got %d To %q, want the same 486 (To %q)", again.status(), again.header("To"), first.header("To"))
	}
	if got := srv.Stats().Invites; got != 1 {
		t.Errorf("invites handed to the handler: got %d, want 1", got)
	}
}
