package node

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/morozhq/moroz/internal/baresiptest"
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

// A call in progress when the node drains goes on to its end: Run returns
// only after the caller hung up, while new calls are refused meanwhile.
func TestDrainWaitsForLiveCall(t *testing.T) {
	bin, err := exec.LookPath("sipp")
	if err != nil {
		if os.Getenv("MOROZ_REQUIRE_PEERS") == "1" {
			t.Fatal("sipp not found and MOROZ_REQUIRE_PEERS=1: install Debian's sip-tester")
		}
		t.Skip("sipp not found: install Debian's sip-tester to run this test")
	}
	n, err := New(context.Background(), testConfig(t), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(context.Background()) }()

	scen, err := filepath.Abs(filepath.Join("..", "voice", "testdata", "sipp", "hangup.xml"))
	if err != nil {
		t.Fatal(err)
	}
	sink, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	_, rtpPort, _ := net.SplitHostPort(sink.LocalAddr().String())
	cmd := exec.Command(bin, "-sf", scen, "-m", "1", "-d", "3000", "-i", "127.0.0.1", "-p", freeUDPPort(t),
		"-set", "rtp_ip", "127.0.0.1", "-set", "rtp_port", rtpPort, "-set", "caller", "+79990000009",
		"-timeout", "30s", "-timeout_error", "-nostdin", n.Addr("sip"))
	cmd.Dir = t.TempDir()
	caller := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { caller <- cmd.Wait() }()

	waitFor(t, func() bool { return n.sip.ActiveCalls() == 1 })
	n.Drain()
	if got := options(t, n.Addr("sip")); !strings.Contains(got, " 503 ") {
		t.Errorf("options while draining: got %q, want 503", got)
	}
	select {
	case err := <-done:
		t.Fatalf("run returned (%v) while a call was live", err)
	case err := <-caller:
		if err != nil {
			t.Fatalf("the live call failed during the drain: %v", err)
		}
	}
	if err := <-done; err != nil {
		t.Errorf("run after the drain: %v", err)
	}
}

// waitFor polls cond for up to 10 s; it guards a start-up, it times nothing.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	limit := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-limit:
			t.Fatal("condition not met within 10s")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func freeUDPPort(t *testing.T) string { return baresiptest.FreePort(t) }
