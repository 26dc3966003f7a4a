package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pion/sdp/v3"
)

// TestPublicIPInSDPAndContact checks that behind NAT the answer's SDP and
// the Contact name the public IP, with the media port of the leg.
func TestPublicIPInSDPAndContact(t *testing.T) {
	srv := testServerWithHandler(t, Config{PublicIP: "203.0.113.7"}, func(ctx context.Context, c *Call) {
		c.Answer()
		<-c.Done()
	})
	u := newUAC(t, srv, false)
	m := u.invite("sendrecv")
	if m.status() != 200 {
		t.Fatalf("invite: got %d, want 200", m.status())
	}
	u.request("ACK", 1, "")
	defer func() {
		u.request("BYE", 2, "")
		u.final()
	}()

	var sd sdp.SessionDescription
	if err := sd.Unmarshal([]byte(m.body)); err != nil {
		t.Fatalf("answer sdp: %v\n%s", err, m.body)
	}
	if got := sd.ConnectionInformation.Address.Address; got != "203.0.113.7" {
		t.Errorf("c= address: got %s, want 203.0.113.7", got)
	}
	if got := sd.Origin.UnicastAddress; got != "203.0.113.7" {
		t.Errorf("o= address: got %s, want 203.0.113.7", got)
	}
	if port := sd.MediaDescriptions[0].MediaName.Port.Value; port < 30000 || port > 39998 {
		t.Errorf("m= port: got %d, want the leg's port in 30000-39998", port)
	}
	if got := m.header("Contact"); !strings.Contains(got, "@203.0.113.7:") {
		t.Errorf("contact: got %q, want the public IP", got)
	}
}

func TestPublicIPConfig(t *testing.T) {
	tests := []struct {
		name, ip string
		wantErr  bool
	}{
		{"unset", "", false},
		{"ipv4", "203.0.113.7", false},
		{"ipv6", "2001:db8::7", false},
		{"a name", "moroz.example", true},
		{"unspecified", "0.0.0.0", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Config{MediaIP: "127.0.0.1", PublicIP: tt.ip}.withDefaults()
			if (err != nil) != tt.wantErr {
				t.Errorf("public ip %q: got error %v, want error %v", tt.ip, err, tt.wantErr)
			}
		})
	}
}

// TestPublicIPInVia checks that behind NAT the requests Moroz sends name
// the public IP in Via (RFC 3261 §18.1.1: responses go to its sent-by),
// with rport: the BYE of a call it hangs up, and the dialer's INVITE, ACK
// and BYE.
func TestPublicIPInVia(t *testing.T) {
	srv := testServerWithHandler(t, Config{PublicIP: "203.0.113.7"}, func(ctx context.Context, c *Call) {
		c.Answer() // the handler returns at once: the server hangs up after the ACK
	})
	u := newUAC(t, srv, false)
	if m := u.invite("sendrecv"); m.status() != 200 {
		t.Fatalf("invite: got %d, want 200", m.status())
	}
	u.request("ACK", 1, "")
	bye := u.read()
	if !strings.HasPrefix(bye.first, "BYE ") {
		t.Fatalf("after ack: got %q, want a BYE", bye.first)
	}
	u.replyOK(bye)
	checkVia(t, "bye", bye.header("Via"), srv.UDPAddr().Port())

	d, err := srv.NewDialer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	callee, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer callee.Close()
	dialed := make(chan error, 1)
	go func() {
		_, err := d.Dial(context.Background(), "sip:elf@"+callee.LocalAddr().String(), DialOptions{})
		dialed <- err
	}()
	inv := readRequest(t, callee, "INVITE", dialed)
	busy := "SIP/2.0 486 Busy Here\r\n"
	for _, h := range []string{"via", "from", "to", "call-id", "cseq"} {
		busy += h + ": " + inv.msg.header(h) + "\r\n"
	}
	if _, err := callee.WriteTo([]byte(busy+"Content-Length: 0\r\n\r\n"), inv.from); err != nil {
		t.Fatal(err)
	}
	if err := <-dialed; !errors.Is(err, ErrDialBusy) {
		t.Errorf("dial: got %v, want busy", err)
	}
	checkVia(t, "dialer's invite", inv.msg.header("Via"), d.Addr().Port())

	legs := make(chan *Outbound, 1)
	go func() {
		o, err := d.Dial(context.Background(), "sip:elf@"+callee.LocalAddr().String(), DialOptions{})
		if err != nil {
			t.Errorf("dial an answering callee: %v", err)
		}
		legs <- o
	}()
	inv = readRequest(t, callee, "INVITE", nil)
	sdpBody := fmt.Sprintf(testSDP, "sendrecv")
	ok := "SIP/2.0 200 OK\r\n"
	for _, h := range []string{"via", "from", "call-id", "cseq"} {
		ok += h + ": " + inv.msg.header(h) + "\r\n"
	}
	ok += "to: " + inv.msg.header("to") + ";tag=callee\r\nContact: <sip:elf@" + callee.LocalAddr().String() + ">\r\n"
	ok += fmt.Sprintf("Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s", len(sdpBody), sdpBody)
	if _, err := callee.WriteTo([]byte(ok), inv.from); err != nil {
		t.Fatal(err)
	}
	ack := readRequest(t, callee, "ACK", nil)
	o := <-legs
	if o == nil {
		return
	}
	go o.Hangup()
	hang := readRequest(t, callee, "BYE", nil)
	res := "SIP/2.0 200 OK\r\n"
	for _, h := range []string{"via", "from", "to", "call-id", "cseq"} {
		res += h + ": " + hang.msg.header(h) + "\r\n"
	}
	if _, err := callee.WriteTo([]byte(res+"Content-Length: 0\r\n\r\n"), hang.from); err != nil {
		t.Fatal(err)
	}
	<-o.Done()
	for _, m := range []received{ack, hang} {
		checkVia(t, "dialer's "+strings.Fields(m.msg.first)[0], m.msg.header("Via"), d.Addr().Port())
	}
}

// checkVia checks a Via's sent-by is the public IP with the port port.
func checkVia(t *testing.T, what, via string, port uint16) {
	t.Helper()
	want := fmt.Sprintf("SIP/2.0/UDP 203.0.113.7:%d;", port)
	if !strings.HasPrefix(via, want) || !strings.Contains(via, ";rport") {
		t.Errorf("%s via: got %q, want it to start %q and ask for rport", what, via, want)
	}
}

type received struct {
	msg  message
	from net.Addr
}

// readRequest reads the next SIP request of method sent to conn, passing
// over others; a dial that ends first fails the test.
func readRequest(t *testing.T, conn net.PacketConn, method string, dialed <-chan error) received {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 65535)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			select {
			case err := <-dialed:
				t.Fatalf("dial ended with %v before its invite arrived", err)
			default:
			}
			t.Fatalf("read sip: %v", err)
		}
		head, body, _ := strings.Cut(string(buf[:n]), "\r\n\r\n")
		lines := strings.Split(head, "\r\n")
		if !strings.HasPrefix(lines[0], method+" ") {
			continue
		}
		m := message{first: lines[0], headers: map[string][]string{}, body: body}
		for _, l := range lines[1:] {
			name, v, _ := strings.Cut(l, ":")
			k := strings.ToLower(strings.TrimSpace(name))
			m.headers[k] = append(m.headers[k], strings.TrimSpace(v))
		}
		return received{m, from}
	}
}
