package node

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pion/rtp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/config"
	"github.com/morozhq/moroz/console"
	"github.com/morozhq/moroz/internal/chrometest"
	"github.com/morozhq/moroz/sip"
	"github.com/morozhq/moroz/sip/ari"
	"github.com/morozhq/moroz/sip/ari/aritest"
	"github.com/morozhq/moroz/sip/media"
	"github.com/morozhq/moroz/softphone"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/work"
)

// Tones of the desk-phone monitoring tests; none is a harmonic of
// another.
const (
	monCallerHz = 600  // the caller, or the number a callback calls
	monDeskHz   = 800  // the helper's desk phone (baresip)
	monSuperHz  = 1300 // the supervisor's microphone (Chromium)
)

// monHeardDB is the level in the supervisor's analyser above which a
// tone counts as heard (softphone's tests measured the voices of a
// monitored call at -56 dB and louder, silence at -76 dB and below).
const monHeardDB = -62

// monFaint is the part of a 200 ms window's energy at which the
// supervisor's voice counts as heard beside a louder one: a microphone's
// tone comes through Chromium's noise suppression well below the phones'
// steady tones (softphone's tests measured peaks of 0.08 at the desk
// phone in whisper and 0.009 at the caller in barge, 0.00000 in listen).
const monFaint = 0.003

// A call a helper answers on their registered desk phone (baresip,
// answering at once and saying monDeskHz), from a SIPp caller whose audio
// (a Go RTP phone) says monCallerHz, while a supervisor in Chromium
// (their microphone saying monSuperHz) watches the wallboard: the node's
// wiring of voice.Options.Talking to softphone.Phone.AddDeskCall, end to
// end. The call is listed, marked a desk phone's, with its helper and
// queue; in listen the supervisor hears both sides and nobody hears
// them; in whisper the desk phone hears them and the caller does not; in
// barge both do. When the helper hangs up the call leaves the list and
// the monitor ends.
func TestDeskPhoneCallIsALiveCall(t *testing.T) {
	sippBin := needSIPp(t)
	page := superBrowser(t)
	cfg := testConfig(t)
	writeTonePrompts(t, filepath.Join(cfg.Data, "prompts")) // a short greeting
	n := serveNode(t, cfg)
	elf := deskHelper(t, n, work.QueueCalls)
	desk := startDesk(t, n)
	super := superLogin(t, page, n)

	phone := newRTPPhone(t, monCallerHz)
	talk := sippRun(t, sippBin, "talker.xml", freeUDPPort(t), phone, "-set", "caller", "+79990000010", n.Addr("sip"))

	lc := awaitDeskCall(t, n)
	if lc.Helper != elf || !strings.Contains(lc.From, "79990000010") || lc.Queue != work.QueueCalls || lc.ItemID == 0 ||
		lc.Callback || lc.Monitor != nil {
		t.Errorf("the desk call on the wallboard: got %+v, want elf's call from +79990000010 in %s, with its item, unmonitored", lc, work.QueueCalls)
	}
	phone.awaitTone(t, "the caller hears the desk phone", monDeskHz, 0)

	row := fmt.Sprintf(`#livecalls tr[data-call=%q]`, lc.Call)
	button := func(mode string) string { return row + fmt.Sprintf(` button[data-mode=%q]`, mode) }
	super.until("the wallboard lists the call, a desk phone's", fmt.Sprintf(`!!document.querySelector(%q)`, row+` [data-desk]`))
	super.until("the wallboard names its helper", fmt.Sprintf(`document.querySelector(%q).textContent.includes("Elf elf")`, row))

	super.click("listen", button("listen"))
	super.until("the supervisor hears the caller and the desk phone", superHears(monCallerHz, monDeskHz))
	if m := monitorOf(n, lc.Call); m == nil || m.Mode != softphone.ModeListen {
		t.Fatalf("the live call's monitor: got %+v, want listen", m)
	}
	from, dfrom := phone.samples(), desk.samples(t)
	if got := faintIn(phone.await(t, from, media.SampleRate), monSuperHz); got > 0 {
		t.Errorf("in listen the caller heard %d windows of the supervisor, want none", got)
	}
	if got := faintIn(desk.await(t, dfrom, media.SampleRate), monSuperHz); got > 0 {
		t.Errorf("in listen the desk phone heard %d windows of the supervisor, want none", got)
	}

	super.click("whisper", button("whisper"))
	dfrom = desk.samples(t)
	desk.awaitFaint(t, "the supervisor whispering", monSuperHz, dfrom)
	from = phone.samples()
	if got := faintIn(phone.await(t, from, media.SampleRate), monSuperHz); got > 0 {
		t.Errorf("in whisper the caller heard %d windows of the supervisor, want none", got)
	}

	super.click("barge", button("barge"))
	from, dfrom = phone.samples(), desk.samples(t)
	phone.awaitFaint(t, "the supervisor barging", monSuperHz, from)
	desk.awaitFaint(t, "the supervisor barging, at the desk phone", monSuperHz, dfrom)
	super.until("the supervisor still hears both", superHears(monCallerHz, monDeskHz))
	monitorShot(super, "desk-call-barge")

	desk.hangup(t)
	if err := talk(); err != nil {
		t.Fatalf("sipp: %v", err)
	}
	waitFor(t, func() bool { return len(deskCalls(n)) == 0 })
	super.until("the monitor ended with the call", `window.moroz.monitor.active === null`)
	super.until("the call left the wallboard", fmt.Sprintf(`!document.querySelector(%q)`, row))
}

// A callback a helper accepts rings their desk phone (baresip, answering
// at once), then the number through the trunk (SIPp, its called person
// a Go RTP phone saying monCallerHz), and bridges the two: the node's
// wiring of voice.CallbackOptions.Talking. The bridge is one of the
// wallboard's live calls, with the callback's item and queue, and a
// supervisor in Chromium listening hears both sides; the call leaves the
// list when the helper hangs up, and the item is called back.
func TestDeskPhoneCallbackIsMonitored(t *testing.T) {
	sippBin := needSIPp(t)
	page := superBrowser(t)
	customer := newRTPPhone(t, monCallerHz)
	trunkPort := freeUDPPort(t)
	trunkDone := sippRun(t, sippBin, "customer.xml", trunkPort, customer)
	cfg := testConfig(t)
	cfg.SIP.Trunk.Target = "127.0.0.1:" + trunkPort
	n := serveNode(t, cfg)
	elf := deskHelper(t, n, work.QueueCallbacks)
	desk := startDesk(t, n)
	super := superLogin(t, page, n)

	ctx := context.Background()
	accepted := make(chan int64, 1)
	t.Cleanup(n.Work().Listen(func(e acd.Event) {
		if e.Type == acd.EventOffered && e.HelperID == elf && e.Channel == acd.Callback {
			select {
			case accepted <- e.ItemID:
			default:
			}
		}
	}))
	it, _, err := n.Work().Submit(ctx, store.Item{Channel: acd.Callback, Subject: "+79990000020",
		ExternalID: "callback:monitored"}, store.Event{Type: "missed"})
	if err != nil {
		t.Fatal(err)
	}
	if id := await(t, accepted, "callback offer"); id != it.ID {
		t.Fatalf("offered item %d, want the callback %d", id, it.ID)
	}
	if err := n.Work().Accept(ctx, it.ID, elf); err != nil {
		t.Fatal(err)
	}

	lc := awaitDeskCall(t, n)
	want := softphone.LiveCall{Call: fmt.Sprintf("callback-%d", it.ID), From: "+79990000020", Helper: elf,
		ItemID: it.ID, Queue: work.QueueCallbacks, Desk: true, Callback: true}
	if lc.Call != want.Call || lc.From != want.From || lc.Helper != want.Helper || lc.ItemID != want.ItemID ||
		lc.Queue != want.Queue || !lc.Callback || lc.Monitor != nil {
		t.Errorf("the callback on the wallboard: got %+v, want %+v", lc, want)
	}
	customer.awaitTone(t, "the called person hears the desk phone", monDeskHz, 0)

	row := fmt.Sprintf(`#livecalls tr[data-call=%q]`, lc.Call)
	super.until("the wallboard lists the callback, a desk phone's", fmt.Sprintf(`!!document.querySelector(%q)`, row+` [data-desk]`))
	super.until("the wallboard marks it a callback", fmt.Sprintf(`!!document.querySelector(%q)`, row+` [data-callback]`))
	super.click("listen", row+` button[data-mode="listen"]`)
	super.until("the supervisor hears the called person and the desk phone", superHears(monCallerHz, monDeskHz))
	if m := monitorOf(n, lc.Call); m == nil || m.Mode != softphone.ModeListen {
		t.Fatalf("the callback's monitor: got %+v, want listen", m)
	}
	dfrom := desk.samples(t)
	if got := faintIn(desk.await(t, dfrom, media.SampleRate), monSuperHz); got > 0 {
		t.Errorf("in listen the desk phone heard %d windows of the supervisor, want none", got)
	}
	monitorShot(super, "callback-listen")

	desk.hangup(t)
	if err := trunkDone(); err != nil {
		t.Fatalf("sipp trunk: %v", err)
	}
	waitFor(t, func() bool { return len(deskCalls(n)) == 0 })
	super.until("the monitor ended with the callback", `window.moroz.monitor.active === null`)
	waitFor(t, func() bool {
		got, err := n.Store().Item(ctx, it.ID)
		return err == nil && got.Outcome == acd.OutcomeCalledBack
	})
}

// A call Asterisk (the fake ARI) sends into the app and a helper answers
// on their phone on Asterisk (PJSIP/helper7) is bridged by Moroz's media
// layer between the two external media legs, so it is listed and
// monitored as a native desk call: the caller saying monCallerHz, the
// phone monDeskHz, a supervisor in Chromium listens and hears both, then
// whispers and only the phone hears them. The caller's hangup takes the
// call off the list and ends the monitor.
func TestAsteriskDeskCallIsMonitored(t *testing.T) {
	page := superBrowser(t)
	fake := aritest.New(t, aritest.Options{})
	cfg := testConfig(t)
	cfg.SIP.Addr = "" // Asterisk mode alone
	cfg.ARI.URL = fake.URL()
	cfg.ARI.User, cfg.ARI.Password = fake.Credentials()
	writeTonePrompts(t, filepath.Join(cfg.Data, "prompts"))
	n := runARINode(t, fake, cfg)
	ctx := context.Background()
	u, err := console.AddUser(ctx, n.Store(), "elf", "Elf elf", store.RoleHelper, "password-elf")
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Work().UpdateHelper(ctx, store.Helper{UserID: u.ID, Queues: []string{work.QueueCalls},
		Extension: "PJSIP/helper7"}); err != nil {
		t.Fatal(err)
	}
	if err := n.Work().SetStatus(ctx, u.ID, acd.StatusAvailable, "test"); err != nil {
		t.Fatal(err)
	}
	super := superLogin(t, page, n)

	id := fake.NewCall("+375291234567", "100")
	var caller, phone *aritest.Endpoint
	waitFor(t, func() bool {
		for ch, ep := range fake.Originated() {
			if ep == "PJSIP/helper7" {
				phone, _ = fake.Media(ch)
			}
		}
		caller, _ = fake.Media(id)
		return caller != nil && phone != nil
	})
	speakCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { caller.Speak(speakCtx, ariSine(monCallerHz, time.Minute)) })
	wg.Go(func() { phone.Speak(speakCtx, ariSine(monDeskHz, time.Minute)) })
	t.Cleanup(func() { stop(); wg.Wait() })

	lc := awaitDeskCall(t, n)
	if lc.Call != id || lc.Helper != u.ID || lc.Queue != work.QueueCalls || lc.ItemID == 0 {
		t.Errorf("the Asterisk call on the wallboard: got %+v, want elf's call %s in %s, with its item", lc, id, work.QueueCalls)
	}
	row := fmt.Sprintf(`#livecalls tr[data-call=%q]`, lc.Call)
	super.until("the wallboard lists the call, a desk phone's", fmt.Sprintf(`!!document.querySelector(%q)`, row+` [data-desk]`))
	super.click("listen", row+` button[data-mode="listen"]`)
	super.until("the supervisor hears the caller and the phone", superHears(monCallerHz, monDeskHz))

	super.click("whisper", row+` button[data-mode="whisper"]`)
	from, pfrom := len(caller.Heard()), len(phone.Heard())
	waitFor(t, func() bool { return faintIn(phone.Heard()[pfrom:], monSuperHz) >= 3 })
	waitFor(t, func() bool { return len(caller.Heard()) >= from+media.SampleRate })
	if got := faintIn(caller.Heard()[from:], monSuperHz); got > 0 {
		t.Errorf("in whisper the caller heard %d windows of the supervisor, want none", got)
	}

	fake.Hangup(id, ari.CauseNormal)
	waitFor(t, func() bool { return len(deskCalls(n)) == 0 })
	super.until("the monitor ended with the call", `window.moroz.monitor.active === null`)
}

func needSIPp(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("sipp")
	if err != nil {
		if os.Getenv("MOROZ_REQUIRE_PEERS") == "1" {
			t.Fatal("sipp not found and MOROZ_REQUIRE_PEERS=1: install Debian's sip-tester")
		}
		t.Skip("sipp not found: install Debian's sip-tester to run this test")
	}
	return bin
}

// serveNode runs a node of cfg until the test ends.
func serveNode(t *testing.T, cfg config.Config) *Node {
	t.Helper()
	r := runNode(t, cfg)
	t.Cleanup(func() { r.close(t) })
	return r.n
}

// deskHelper adds the helper elf, with the desk phone 201 and a console
// password, working queue; they are made available once their phone
// registered (startDesk).
func deskHelper(t *testing.T, n *Node, queue string) int64 {
	t.Helper()
	ctx := context.Background()
	u, err := console.AddUser(ctx, n.Store(), "elf", "Elf elf", store.RoleHelper, "password-elf")
	if err != nil {
		t.Fatal(err)
	}
	if err := n.store.PutHelper(ctx, store.Helper{UserID: u.ID, Queues: []string{queue}, Extension: "201",
		SIPHA1: sip.HA1("201", n.cfg.SIP.Realm, "desk-secret")}); err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// deskPhone is elf's desk phone: baresip registered as 201, answering at
// once, saying monDeskHz, writing what it hears to a WAV file (baresip's
// sndfile module, in dir) and taking key presses on a UDP console (its
// cons module, at keys).
type deskPhone struct {
	dir  string
	keys string
}

// startDesk starts elf's desk phone, waits for its registration and
// makes elf available.
func startDesk(t *testing.T, n *Node) *deskPhone {
	t.Helper()
	dir := t.TempDir()
	if err := media.WriteWAV(filepath.Join(dir, "tone.wav"), ariSine(monDeskHz, 90*time.Second)); err != nil {
		t.Fatal(err)
	}
	d := &deskPhone{dir: filepath.Join(dir, "heard"), keys: "127.0.0.1:" + freeUDPPort(t)}
	if err := os.Mkdir(d.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	baresip(t, "<sip:201@"+n.Addr("sip")+">;auth_pass=desk-secret;regint=60;answermode=auto",
		"module aufile.so", "module aubridge.so", "module sndfile.so", "snd_path "+d.dir,
		"module menu.so", "module cons.so", "cons_listen "+d.keys,
		"audio_player aubridge,nil", "audio_alert aubridge,nil",
		"audio_source aufile,"+filepath.Join(dir, "tone.wav"))
	waitFor(t, func() bool { return len(n.sip.Locations("201")) > 0 })
	u, err := n.Store().HelperByExtension(context.Background(), "201")
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Work().SetStatus(context.Background(), u.UserID, acd.StatusAvailable, ""); err != nil {
		t.Fatal(err)
	}
	return d
}

// hangup hangs up the phone's call, as the helper presses its hang-up
// key (menu's "b").
func (d *deskPhone) hangup(t *testing.T) {
	t.Helper()
	c, err := net.Dial("udp", d.keys)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("b")); err != nil {
		t.Fatal(err)
	}
}

// heard returns what the phone heard on its call so far: the samples of
// sndfile's file of the decoded stream ("…-dec.wav"), nil before one.
func (d *deskPhone) heard(t *testing.T) []int16 {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(d.dir, "*dec.wav"))
	if len(files) == 0 {
		return nil
	}
	b, err := os.ReadFile(files[len(files)-1])
	if err != nil {
		t.Fatal(err)
	}
	// The file is written as the call goes: its header's sizes are not
	// final, so the data chunk runs to the end of what was written.
	i := strings.Index(string(b[:min(len(b), 512)]), "data")
	if i < 0 || len(b) < i+8 {
		return nil
	}
	b = b[i+8:]
	s := make([]int16, len(b)/2)
	for i := range s {
		s[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return s
}

func (d *deskPhone) samples(t *testing.T) int { return len(d.heard(t)) }

// await waits until the phone heard n samples since from and returns
// them.
func (d *deskPhone) await(t *testing.T, from, n int) []int16 {
	t.Helper()
	var s []int16
	waitFor(t, func() bool { s = d.heard(t); return len(s) >= from+n })
	return s[from:]
}

// awaitFaint waits until the phone heard three 200 ms windows carrying
// freq, faint or not, since sample from.
func (d *deskPhone) awaitFaint(t *testing.T, what string, freq float64, from int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := d.heard(t)
		got := faintIn(s[min(from, len(s)):], freq)
		if got >= 3 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the desk phone heard %d windows with %.0f Hz in them, want 3", what, got, freq)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// rtpPhone is the audio of a SIPp call: a socket that answers whoever
// sends it RTP first (Moroz's media leg) with a PCMA tone every 20 ms and
// keeps what it hears.
type rtpPhone struct {
	conn *net.UDPConn
	freq float64
	wg   sync.WaitGroup

	mu    sync.Mutex
	heard []int16 // guarded by mu: every PCMA sample received
}

func newRTPPhone(t *testing.T, freq float64) *rtpPhone {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	p := &rtpPhone{conn: conn, freq: freq}
	first := make(chan netip.AddrPort, 1)
	quit := make(chan struct{})
	p.wg.Go(func() { p.listen(first) })
	p.wg.Go(func() { p.speak(first, quit) })
	t.Cleanup(func() { close(quit); conn.Close(); p.wg.Wait() })
	return p
}

func (p *rtpPhone) port() string { return fmt.Sprint(p.conn.LocalAddr().(*net.UDPAddr).Port) }

func (p *rtpPhone) listen(first chan<- netip.AddrPort) {
	buf := make([]byte, 1500)
	for {
		n, from, err := p.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		select {
		case first <- from:
		default:
		}
		var pkt rtp.Packet
		if pkt.Unmarshal(buf[:n]) != nil || pkt.PayloadType != media.PCMA.PayloadType {
			continue
		}
		p.mu.Lock()
		p.heard = media.PCMA.Decode(p.heard, pkt.Payload)
		p.mu.Unlock()
	}
}

func (p *rtpPhone) speak(first <-chan netip.AddrPort, quit <-chan struct{}) {
	var to netip.AddrPort
	select {
	case to = <-first:
	case <-quit:
		return
	}
	tone := ariSine(p.freq, time.Second) // whole periods: it loops without a click
	tick := time.NewTicker(media.FrameDuration)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-quit:
			return
		case <-tick.C:
		}
		off := (i * media.FrameSamples) % len(tone)
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: media.PCMA.PayloadType,
			SequenceNumber: uint16(i), Timestamp: uint32(i * media.FrameSamples), SSRC: 0x5eed},
			Payload: media.PCMA.Encode(nil, tone[off:off+media.FrameSamples])}
		b, _ := pkt.Marshal()
		if _, err := p.conn.WriteToUDPAddrPort(b, to); err != nil {
			return
		}
	}
}

func (p *rtpPhone) samples() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.heard)
}

func (p *rtpPhone) since(from int) []int16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int16(nil), p.heard[min(from, len(p.heard)):]...)
}

// await waits until the phone heard n samples since from and returns
// them.
func (p *rtpPhone) await(t *testing.T, from, n int) []int16 {
	t.Helper()
	waitFor(t, func() bool { return p.samples() >= from+n })
	return p.since(from)
}

// awaitTone waits until the phone heard a second (five windows of
// 200 ms) mostly of freq since sample from.
func (p *rtpPhone) awaitTone(t *testing.T, what string, freq float64, from int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for toneWindows(p.since(from), freq) < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("%s: heard %d windows of %.0f Hz, want 5", what, toneWindows(p.since(from), freq), freq)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// awaitFaint waits until the phone heard three 200 ms windows carrying
// freq, faint or not, since sample from.
func (p *rtpPhone) awaitFaint(t *testing.T, what string, freq float64, from int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for faintIn(p.since(from), freq) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%s: the SIPp phone heard %d windows with %.0f Hz in them, want 3", what, faintIn(p.since(from), freq), freq)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sippRun runs one call of SIPp's scenario name (testdata/sipp) on port
// with its audio at phone and extra arguments; it returns a wait for
// SIPp's end.
func sippRun(t *testing.T, bin, name, port string, phone *rtpPhone, extra ...string) (wait func() error) {
	t.Helper()
	scen, err := filepath.Abs(filepath.Join("testdata", "sipp", name))
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-sf", scen, "-m", "1", "-i", "127.0.0.1", "-p", port, "-set", "rtp_ip", "127.0.0.1",
		"-set", "rtp_port", phone.port(), "-timeout", "90s", "-timeout_error", "-nostdin"}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, append(args, extra...)...)
	cmd.Dir = t.TempDir()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var werr error
	done := make(chan struct{})
	go func() { werr = cmd.Wait(); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return func() error {
		select {
		case <-done:
			return werr
		case <-time.After(90 * time.Second):
			return fmt.Errorf("sipp %s did not end", name)
		}
	}
}

// superBrowser starts Chromium whose fake microphone says monSuperHz and
// which may reach the softphone's loopback candidates.
func superBrowser(t *testing.T) context.Context {
	t.Helper()
	chrometest.Path(t) // skips before any work when Chromium is missing
	mic := filepath.Join(t.TempDir(), "mic.wav")
	if err := media.WriteWAV(mic, ariSine(monSuperHz, time.Minute)); err != nil {
		t.Fatal(err)
	}
	return chrometest.Start(t, 1280, 800,
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-audio-capture", mic),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"))
}

// superLogin adds the supervisor ded and logs them in to the node's
// wallboard in page.
func superLogin(t *testing.T, page context.Context, n *Node) *ariTab {
	t.Helper()
	if _, err := console.AddUser(context.Background(), n.Store(), "ded", "Ded Moroz", store.RoleSupervisor, "password-ded"); err != nil {
		t.Fatal(err)
	}
	b := &ariTab{t: t, ctx: page}
	b.run("log in", chromedp.Navigate("http://"+n.Addr("http")+"/"), chromedp.WaitVisible(chromedp.CSS(`#login-submit`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=login]`), "ded"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "password-ded"),
		chromedp.Click(chromedp.CSS(`#login-submit`)), chromedp.WaitVisible(chromedp.CSS(`#livecalls`)))
	b.until("phone ready", `!!(window.moroz && window.moroz.phone && window.moroz.phone.ready)`)
	return b
}

// monitorShot saves a screenshot of the supervisor's wallboard.
func monitorShot(b *ariTab, name string) {
	if buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100)); err == nil {
		os.WriteFile(filepath.Join(chrometest.Artifacts(b.t), "node-monitor-"+name+".png"), buf, 0o644)
	}
}

// superHears is a JavaScript test that the supervisor hears every freq.
func superHears(freqs ...float64) string {
	js := "true"
	for _, f := range freqs {
		js += fmt.Sprintf(" && window.moroz.monitor.levelAt(%f) > %d", f, monHeardDB)
	}
	return js
}

// deskCalls returns the node's live calls taken on desk phones.
func deskCalls(n *Node) []softphone.LiveCall {
	var out []softphone.LiveCall
	for _, lc := range n.phone.LiveCalls(context.Background()) {
		if lc.Desk {
			out = append(out, lc)
		}
	}
	return out
}

// awaitDeskCall waits until the node lists one desk-phone call and
// returns it.
func awaitDeskCall(t *testing.T, n *Node) softphone.LiveCall {
	t.Helper()
	var calls []softphone.LiveCall
	waitFor(t, func() bool { calls = deskCalls(n); return len(calls) == 1 })
	return calls[0]
}

// monitorOf is the monitor of the node's live call id, nil if none.
func monitorOf(n *Node, id string) *softphone.MonitorInfo {
	for _, lc := range n.phone.LiveCalls(context.Background()) {
		if lc.Call == id {
			return lc.Monitor
		}
	}
	return nil
}

// faintIn counts the loud 200 ms windows of s with at least monFaint of
// their energy at freq.
func faintIn(s []int16, freq float64) int { return windowsAt(s, freq, monFaint) }

// With native SIP and Asterisk mode at once, a helper whose desk phone
// registered with Moroz's own SIP edge (baresip as 201) is rung there for
// an Asterisk caller, not as PJSIP/201 on Asterisk (where no such phone
// is), and the two talk: the phone hears the caller's ariCallerHz and
// the caller the phone's monDeskHz. A callback of that helper dialled
// through Asterisk rings the same phone.
func TestBothModesRingOwnEdgeDeskPhone(t *testing.T) {
	fake := aritest.New(t, aritest.Options{})
	cfg := testConfig(t)
	cfg.ARI.URL, cfg.ARI.Trunk, cfg.ARI.CallerID = fake.URL(), "trunk", "+375170000000"
	cfg.ARI.User, cfg.ARI.Password = fake.Credentials()
	writeTonePrompts(t, filepath.Join(cfg.Data, "prompts"))
	n := runARINode(t, fake, cfg)
	elf := deskHelper(t, n, work.QueueCalls)
	desk := startDesk(t, n)
	ctx := context.Background()

	caller := fakeCall(t, fake)
	desk.awaitFaint(t, "the Asterisk caller", ariCallerHz, 0)
	caller.awaitTone(t, monDeskHz)
	for ch, ep := range fake.Originated() {
		t.Errorf("Asterisk was asked to ring %s (channel %s); the phone is Moroz's own", ep, ch)
	}
	if lc := awaitDeskCall(t, n); lc.Helper != elf || lc.ItemID == 0 {
		t.Errorf("the desk call on the wallboard: got %+v, want elf's with its item", lc)
	}
	desk.hangup(t)
	rec := awaitRecord(t, n.Store(), caller.id)
	if rec.Outcome != acd.OutcomeAnswered || rec.HelperID != elf {
		t.Errorf("call record %+v; want answered by %d", rec, elf)
	}
	waitFor(t, func() bool { return len(deskCalls(n)) == 0 })

	h, err := n.Store().Helper(ctx, elf)
	if err != nil {
		t.Fatal(err)
	}
	h.Queues = []string{work.QueueCallbacks}
	if err := n.Work().UpdateHelper(ctx, h); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Work().Listen(func(e acd.Event) { // elf accepts, as in the console
		if e.Type == acd.EventOffered && e.HelperID == elf && e.Channel == acd.Callback {
			go n.Work().Accept(context.Background(), e.ItemID, elf)
		}
	}))
	it, _, err := n.Work().Submit(ctx, store.Item{Channel: acd.Callback, Subject: "+375 29 111-22-33",
		ExternalID: "callback:both-modes"}, store.Event{Type: "missed"})
	if err != nil {
		t.Fatal(err)
	}
	var number string
	waitFor(t, func() bool {
		for id, ep := range fake.Originated() {
			if ep == "PJSIP/+375291112233@trunk" {
				number = id
			}
		}
		_, bridged := fake.Media(number)
		return number != "" && bridged
	})
	if lc := awaitDeskCall(t, n); lc.Call != fmt.Sprintf("callback-%d", it.ID) || lc.Helper != elf {
		t.Errorf("the callback on the wallboard: got %+v, want callback-%d of elf", lc, it.ID)
	}
	for ch, ep := range fake.Originated() {
		if ch != number {
			t.Errorf("Asterisk was asked to ring %s (channel %s) for the callback; the phone is Moroz's own", ep, ch)
		}
	}
	fake.Hangup(number, ari.CauseNormal)
	waitFor(t, func() bool {
		got, err := n.Store().Item(ctx, it.ID)
		return err == nil && got.State == acd.StateClosed && got.Outcome == acd.OutcomeCalledBack
	})
}
