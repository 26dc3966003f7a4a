package softphone_test

import (
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/sip"
	"github.com/morozhq/moroz/sip/media"
	"github.com/morozhq/moroz/softphone"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/voice"
	"github.com/morozhq/moroz/work"
)

// A helper with only the browser phone accepts a callback: their browser
// rings, they answer, and Moroz calls the number through the trunk
// (SIPp) and bridges it to the browser's leg; each side hears the
// other's tone, the wallboard lists it as a callback with its item, and
// when the called person hangs up the callback closes called-back.
func TestCallbackToTheBrowser(t *testing.T) {
	r := newRig(t)
	callee := newCallee(t)
	trunk := sippTrunk(t, callee)
	r.startCallbacks(t, trunk)
	helper := r.helper(t, "elf")
	ctx := context.Background()
	if err := r.work.UpdateHelper(ctx, store.Helper{UserID: helper, Queues: []string{work.QueueCallbacks}}); err != nil {
		t.Fatal(err)
	}
	p := newTab(t, browser(t))
	p.login(r.url, "elf")
	offered := make(chan int64, 1)
	t.Cleanup(r.work.Listen(func(e acd.Event) {
		if e.Type == acd.EventOffered && e.Channel == acd.Callback && e.HelperID == helper {
			select {
			case offered <- e.ItemID:
			default:
			}
		}
	}))
	it, _, err := r.work.Submit(ctx, store.Item{Channel: acd.Callback, Subject: "+375291112277",
		ExternalID: "callback:browser"}, store.Event{Type: "missed"})
	if err != nil {
		t.Fatal(err)
	}
	p.available()
	select {
	case id := <-offered:
		if err := r.work.Accept(ctx, id, helper); err != nil {
			t.Fatalf("accept the callback: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the callback was not offered to the helper")
	}

	p.until("the browser rings for the callback", `!!document.querySelector('#phone-answer')`)
	p.click("answer", `#phone-answer`)
	p.until("the browser hears the called person", hears(callerHz))
	p.shot("callback-talking")
	if lc := r.phone.LiveCalls(ctx); len(lc) != 1 || lc[0].ItemID != it.ID || lc[0].Queue != work.QueueCallbacks ||
		!lc[0].Callback || lc[0].Desk || lc[0].From != "+375291112277" {
		t.Errorf("live calls: got %+v, want the callback of item %d in %s, from its number", lc, it.ID, work.QueueCallbacks)
	}
	callee.awaitTone(t, browserHz)
	if err := trunk.wait(); err != nil {
		t.Errorf("trunk (sipp): %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := r.store.Item(ctx, it.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Outcome == acd.OutcomeCalledBack {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("callback after the talk: got state %s outcome %q, want closed called-back", got.State, got.Outcome)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startCallbacks dials accepted callbacks through trunk, ringing
// helpers' browsers, until the test ends.
func (r *rig) startCallbacks(t *testing.T, trunk *sippPeer) {
	t.Helper()
	log := testLogger()
	srv, err := sip.New(sip.Config{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", MediaIP: "127.0.0.1",
		RTPPortMin: 30000, RTPPortMax: 39998, Logger: log}, func(ctx context.Context, c *sip.Call) {
		c.Reject(480, "Temporarily Unavailable")
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	d, err := srv.NewDialer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	sipCB, err := voice.SIPCallbacks(d, voice.TrunkConfig{Target: trunk.addr, CallerID: "ded"})
	if err != nil {
		t.Fatal(err)
	}
	// Talking tells the browser's leg its item, as the node does.
	talking := func(it store.Item, _ int64, leg, _ voice.Leg) func() {
		if bl, ok := leg.(*softphone.Leg); ok {
			bl.SetCallback(it.ID, it.Queue)
		}
		return func() {}
	}
	cb, err := voice.NewCallbacks(voice.CallbackOptions{Work: r.work, Store: r.store,
		Dialer: r.phone.CallbackDialer(sipCB), Phone: r.phone.PhoneOf(nil), Talking: talking, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); cb.Run(ctx, nil) }()
	t.Cleanup(func() { cancel(); <-done })
}

// sippPeer is SIPp running testdata/sipp/trunk.xml once.
type sippPeer struct {
	addr string
	wait func() error
}

// sippTrunk starts SIPp as the trunk whose called person's audio is callee.
func sippTrunk(t *testing.T, callee *callee) *sippPeer {
	t.Helper()
	bin, err := exec.LookPath("sipp")
	if err != nil {
		if os.Getenv("MOROZ_REQUIRE_PEERS") == "1" {
			t.Fatal("sipp is required (MOROZ_REQUIRE_PEERS=1) but not installed: Debian's sip-tester")
		}
		t.Skip("sipp not installed (Debian's sip-tester)")
	}
	scen, err := filepath.Abs(filepath.Join("testdata", "sipp", "trunk.xml"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.LocalAddr().(*net.UDPAddr).Port)
	l.Close() // SIPp binds it next
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-sf", scen, "-m", "1", "-i", "127.0.0.1", "-p", port,
		"-timeout", "90s", "-timeout_error", "-nostdin",
		"-set", "rtp_ip", "127.0.0.1", "-set", "rtp_port", strconv.Itoa(callee.port()))
	cmd.Dir = t.TempDir()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var werr error
	done := make(chan struct{})
	go func() { werr = cmd.Wait(); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &sippPeer{addr: "127.0.0.1:" + port, wait: func() error { <-done; return werr }}
}

// callee is the called person's phone: a socket that keeps the PCMU it
// gets and, from the first packet on, speaks callerHz back to its sender.
type callee struct {
	conn    *net.UDPConn
	mu      sync.Mutex
	heard   []int16 // guarded by mu
	changed chan struct{}
}

func newCallee(t *testing.T) *callee {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	c := &callee{conn: conn, changed: make(chan struct{}, 1)}
	first := make(chan netip.AddrPort, 1)
	var wg sync.WaitGroup
	wg.Go(func() { c.listen(first) })
	quit := make(chan struct{})
	wg.Go(func() { c.speak(first, quit) })
	t.Cleanup(func() { close(quit); conn.Close(); wg.Wait() })
	return c
}

func (c *callee) port() int { return c.conn.LocalAddr().(*net.UDPAddr).Port }

func (c *callee) listen(first chan<- netip.AddrPort) {
	buf := make([]byte, 1500)
	for {
		n, from, err := c.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		var p rtp.Packet
		if p.Unmarshal(buf[:n]) != nil || p.PayloadType != media.PCMU.PayloadType {
			continue
		}
		select {
		case first <- from:
		default:
		}
		c.mu.Lock()
		c.heard = media.PCMU.Decode(c.heard, p.Payload)
		c.mu.Unlock()
		select {
		case c.changed <- struct{}{}:
		default:
		}
	}
}

func (c *callee) speak(first <-chan netip.AddrPort, quit <-chan struct{}) {
	var to netip.AddrPort
	select {
	case to = <-first:
	case <-quit:
		return
	}
	tone := sine(callerHz, time.Second)
	tick := time.NewTicker(media.FrameDuration)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-quit:
			return
		case <-tick.C:
		}
		off := (i * media.FrameSamples) % len(tone)
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: media.PCMU.PayloadType,
			SequenceNumber: uint16(i), Timestamp: uint32(i * media.FrameSamples), SSRC: 0xca11},
			Payload: media.PCMU.Encode(nil, tone[off:off+media.FrameSamples])}
		b, _ := p.Marshal()
		if _, err := c.conn.WriteToUDPAddrPort(b, to); err != nil {
			return
		}
	}
}

// awaitTone waits until the called person heard 10 windows of freq.
func (c *callee) awaitTone(t *testing.T, freq float64) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		c.mu.Lock()
		got := toneWindows(c.heard, freq)
		c.mu.Unlock()
		if got >= 10 {
			return
		}
		select {
		case <-c.changed:
		case <-deadline:
			t.Fatalf("the called person heard %d windows of 200 ms at %.0f Hz, want 10", got, freq)
		}
	}
}
