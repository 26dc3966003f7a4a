package node

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/morozhq/moroz/logging"
)

// options sends a SIP OPTIONS over UDP to addr and returns the status line.
func options(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	local := c.LocalAddr().String()
	msg := strings.Join([]string{
		"OPTIONS sip:moroz@" + addr + " SIP/2.0",
		"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK" + fmt.Sprint(time.Now().UnixNano()) + ";rport",
		"From: <sip:probe@" + local + ">;tag=probe",
		"To: <sip:moroz@" + addr + ">",
		"Call-ID: probe-" + fmt.Sprint(time.Now().UnixNano()),
		"CSeq: 1 OPTIONS",
		"Max-Forwards: 70",
		"Content-Length: 0", "", ""}, "\r\n")
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("options %s: %v", addr, err)
	}
	line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
	return line
}

// The node answers SIP on the address it reports, and refuses with 503
// once draining.
func TestSIPServesAndDrains(t *testing.T) {
	n, err := New(context.Background(), testConfig(t), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	addr := n.Addr("sip")
	if addr == "" || strings.HasSuffix(addr, ":0") {
		t.Fatalf("sip address: got %q, want the bound address", addr)
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(context.Background()) }()
	if got := options(t, addr); !strings.Contains(got, " 200 ") {
		t.Errorf("options before drain: got %q, want 200", got)
	}
	n.sip.Drain() // what Node.Drain starts with; Run then returns at once, no calls being live
	if got := options(t, addr); !strings.Contains(got, " 503 ") {
		t.Errorf("options while draining: got %q, want 503", got)
	}
	n.Drain()
	if err := <-done; err != nil {
		t.Errorf("run after drain: %v", err)
	}
}

// A taken SIP port fails New with an error naming the key.
func TestSIPPortTaken(t *testing.T) {
	taken, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := testConfig(t)
	cfg.SIP.Addr = taken.LocalAddr().String()
	n, err := New(context.Background(), cfg, logging.Discard())
	if err == nil {
		n.Close()
		t.Fatal("new: got no error with the sip port taken")
	}
	if !strings.Contains(err.Error(), "sip.addr") {
		t.Errorf("error %q does not name sip.addr", err)
	}
}

// With sip.addr empty the node runs without SIP.
func TestSIPOff(t *testing.T) {
	cfg := testConfig(t)
	cfg.SIP.Addr = ""
	n, err := New(context.Background(), cfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if got := n.Addr("sip"); got != "" {
		t.Errorf("sip address: got %q, want none", got)
	}
}
