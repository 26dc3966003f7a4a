package voice_test

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/internal/baresiptest"
	"github.com/morozhq/moroz/sip"
	"github.com/morozhq/moroz/sip/media"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/voice"
	"github.com/morozhq/moroz/voicemail"
	"github.com/morozhq/moroz/work"
)

// harness is an in-process Moroz voice stack: a SQLite store in a
// temporary folder, the work service, the flow and a SIP server on
// loopback with free ports.
type harness struct {
	dir    string
	st     store.Store
	work   *work.Service
	srv    *sip.Server
	dialer *sip.Dialer
	*closures
	ended chan string         // Call-IDs of calls whose flow returned
	media chan netip.AddrPort // RTP addresses of new calls' legs

	statsMu  sync.Mutex
	legStats []media.LegStats // guarded by statsMu: of each ended call's leg
}

func testLogger() *slog.Logger {
	if os.Getenv("MOROZ_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newHarness(t *testing.T, tune func(*voice.Options)) *harness {
	t.Helper()
	return newHarnessWith(t, nil, tune)
}

// newHarnessWith is newHarness whose SIP server also runs reg, the
// registrar of desk phones, when it is set: Credentials there may be
// nil, for the helpers' stored secrets.
func newHarnessWith(t *testing.T, reg *sip.RegistrarConfig, tune func(*voice.Options)) *harness {
	t.Helper()
	h := &harness{dir: t.TempDir(), ended: make(chan string, 16), media: make(chan netip.AddrPort, 16)}
	log := testLogger()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{DataDir: h.dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h.st = st
	h.work, err = work.New(ctx, work.Options{Store: st, Logger: log, Router: acd.Config{Queues: work.DefaultQueues()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.work.Close() })
	h.closures = watchClosures(t, h.work)
	writeShortPrompts(t, filepath.Join(h.dir, "prompts"))
	vm, err := voicemail.New(voicemail.Options{Store: st, Work: h.work, Dir: h.dir, Min: time.Second, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	var flow *voice.Flow
	var registrar sip.RegistrarConfig
	if reg != nil {
		registrar = *reg
		if registrar.Credentials == nil {
			registrar.Credentials = storedSecrets{st}
		}
	}
	h.srv, err = sip.New(sip.Config{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", MediaIP: "127.0.0.1",
		RTPPortMin: 40000, RTPPortMax: 49998, Logger: log, Registrar: registrar}, func(ctx context.Context, c *sip.Call) {
		defer func() {
			h.statsMu.Lock()
			h.legStats = append(h.legStats, c.Media().Stats())
			h.statsMu.Unlock()
			h.ended <- c.ID()
		}()
		h.media <- c.Media().LocalAddr()
		voice.SIPHandler(flow)(ctx, c)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.srv.Close() })
	if h.dialer, err = h.srv.NewDialer(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.dialer.Close() })
	opt := voice.Options{Work: h.work, Store: st, Prompts: voice.NewPrompts(filepath.Join(h.dir, "prompts")),
		Voicemail: vm, Dialer: voice.SIPDialer(h.dialer), Logger: log, AnnounceEvery: 5 * time.Second}
	if tune != nil {
		tune(&opt)
	}
	if flow, err = voice.New(opt); err != nil {
		t.Fatal(err)
	}
	if err := h.srv.Start(ctx); err != nil { // after the flow is set: calls see it
		t.Fatal(err)
	}
	return h
}

// writeShortPrompts overrides the spoken prompts with 200 ms tones, so
// that a test call does not sit through seconds of speech. It also
// exercises the override folder.
func writeShortPrompts(t *testing.T, dir string) {
	t.Helper()
	for _, name := range []string{voice.PromptGreeting, voice.PromptAfterHours, voice.PromptPosition,
		voice.PromptWait, voice.PromptMenu, voice.PromptLeaveMessage, voice.PromptCallback,
		voice.PromptSaved, voice.PromptBeep} {
		p := filepath.Join(dir, "ru", name+".wav")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := media.WriteWAV(p, sine(440, 200*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
}

// addHelper makes a helper of the calls queue with status st and, if
// phone is set, a desk phone at that SIP URI.
func (h *harness) addHelper(t *testing.T, login, phone string, st acd.Status) int64 {
	t.Helper()
	ctx := context.Background()
	u, err := h.st.CreateUser(ctx, store.User{Login: login, Name: login, Role: store.RoleHelper})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.work.UpdateHelper(ctx, store.Helper{UserID: u.ID, Queues: []string{work.QueueCalls}, Extension: phone}); err != nil {
		t.Fatal(err)
	}
	if err := h.work.SetStatus(ctx, u.ID, st, "test"); err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// awaitEnd waits for the flow of one call to return.
func (h *harness) awaitEnd(t *testing.T) string {
	t.Helper()
	select {
	case id := <-h.ended:
		return id
	case <-time.After(time.Minute):
		t.Fatal("no call ended within a minute")
		return ""
	}
}

// needPeer finds a peer binary; a missing one skips the test unless
// MOROZ_REQUIRE_PEERS=1, when it fails.
func needPeer(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("MOROZ_REQUIRE_PEERS") == "1" {
		t.Fatalf("%s not found and MOROZ_REQUIRE_PEERS=1: install Debian's %s", name, pkg)
	}
	t.Skipf("%s not found: install Debian's %s to run this test", name, pkg)
	return ""
}

// sippDir is a folder for SIPp with pcap/caller.pcap (speech) and
// pcap/dtmf.pcap (the key 1) linked from sip-tester's captures, and the
// same under their own names for the built-in uac_pcap scenario.
func sippDir(t *testing.T) string {
	t.Helper()
	src := os.Getenv("MOROZ_SIPP_PCAP_DIR")
	if src == "" {
		src = "/usr/share/sip-tester"
	}
	if _, err := os.Stat(filepath.Join(src, "g711a.pcap")); err != nil {
		if os.Getenv("MOROZ_REQUIRE_PEERS") == "1" {
			t.Fatalf("sip-tester captures not in %s (set MOROZ_SIPP_PCAP_DIR)", src)
		}
		t.Skipf("sip-tester captures not in %s (set MOROZ_SIPP_PCAP_DIR)", src)
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "pcap"), 0o755); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{"caller.pcap": "g711a.pcap", "dtmf.pcap": "dtmf_2833_1.pcap",
		"g711a.pcap": "g711a.pcap", "dtmf_2833_1.pcap": "dtmf_2833_1.pcap"} // the last two for -sn uac_pcap
	for dst, from := range links {
		if err := os.Symlink(filepath.Join(src, from), filepath.Join(dir, "pcap", dst)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// sipp runs one SIPp call of scenario name (a file in testdata/sipp, or
// "builtin:NAME" for one of SIPp's own) against the harness, its audio
// address set to sink (the built-in scenarios use their own).
func (h *harness) sipp(t *testing.T, name, caller string, sink *rtpSink, extra ...string) {
	t.Helper()
	bin := needPeer(t, "sipp", "sip-tester")
	dir := sippDir(t)
	scen := []string{"-sn", strings.TrimPrefix(name, "builtin:")}
	if !strings.HasPrefix(name, "builtin:") {
		p, err := filepath.Abs(filepath.Join("testdata", "sipp", name))
		if err != nil {
			t.Fatal(err)
		}
		scen = []string{"-sf", p}
	}
	args := append(scen, "-m", "1", "-i", "127.0.0.1", "-p", freePort(t), "-timeout", "40s", "-timeout_error", "-nostdin")
	if scen[0] == "-sf" {
		args = append(args, "-set", "rtp_ip", "127.0.0.1", "-set", "rtp_port", sink.port(), "-set", "caller", caller)
	}
	args = append(args, extra...)
	args = append(args, h.srv.UDPAddr().String())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sipp %s: %v\n%s", name, err, tail(out, 3000))
	}
}

func tail(b []byte, n int) []byte {
	return b[max(0, len(b)-n):]
}

// freePort finds a UDP port for a peer that reads 0 as its default.
func freePort(t *testing.T) string { return baresiptest.FreePort(t) }

// rtpSink collects the RTP sent to it.
type rtpSink struct {
	conn  *net.UDPConn
	first chan netip.AddrPort // the source of the first packet, once
	wg    sync.WaitGroup
	mu    sync.Mutex
	pkts  []rtp.Packet // guarded by mu
}

func newSink(t *testing.T) *rtpSink {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := &rtpSink{conn: conn, first: make(chan netip.AddrPort, 1)}
	s.wg.Go(func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			select {
			case s.first <- from: // only the first fits
			default:
			}
			var p rtp.Packet
			if p.Unmarshal(buf[:n]) == nil {
				p.Payload = append([]byte(nil), p.Payload...)
				s.mu.Lock()
				s.pkts = append(s.pkts, p)
				s.mu.Unlock()
			}
		}
	})
	t.Cleanup(s.close)
	return s
}

// speak sends a freq tone as PCMA from the sink's socket to the address
// the next call's leg reports, every 20 ms, until the returned stop is
// called; the leg latches onto the sink, so the sink also hears what
// Moroz sends.
func (s *rtpSink) speak(h *harness, freq float64) (stop func()) {
	return s.speakTo(h.media, freq)
}

// speakBack is speak to whoever sent the sink its first packet: the
// far end of a leg Moroz placed.
func (s *rtpSink) speakBack(freq float64) (stop func()) {
	return s.speakTo(s.first, freq)
}

func (s *rtpSink) speakTo(dest <-chan netip.AddrPort, freq float64) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		var to netip.AddrPort
		select {
		case to = <-dest:
		case <-quit:
			return
		}
		tone := sine(freq, time.Second) // 50 whole periods: it loops without a click
		tick := time.NewTicker(media.FrameDuration)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-quit:
				return
			case <-tick.C:
			}
			off := (i * media.FrameSamples) % len(tone)
			p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: media.PCMA.PayloadType,
				SequenceNumber: uint16(i), Timestamp: uint32(i * media.FrameSamples), SSRC: 0x5eed},
				Payload: media.PCMA.Encode(nil, tone[off:off+media.FrameSamples])}
			b, _ := p.Marshal()
			if _, err := s.conn.WriteToUDPAddrPort(b, to); err != nil {
				return
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(quit) }); <-done }
}

func (s *rtpSink) port() string { return itoa(s.conn.LocalAddr().(*net.UDPAddr).Port) }

func (s *rtpSink) close() {
	s.conn.Close()
	s.wg.Wait()
}

// samples decodes what arrived as codec c.
func (s *rtpSink) samples(c media.Codec) []int16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int16
	for _, p := range s.pkts {
		if p.PayloadType == c.PayloadType {
			out = c.Decode(out, p.Payload)
		}
	}
	return out
}

func sine(freq float64, d time.Duration) []int16 {
	s := make([]int16, int(d*media.SampleRate/time.Second))
	for i := range s {
		s[i] = int16(8000 * math.Sin(2*math.Pi*freq*float64(i)/media.SampleRate))
	}
	return s
}

func rms(s []int16) float64 {
	var sum float64
	for _, v := range s {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(max(1, len(s))))
}

// goertzel returns the relative power of freq in s (RFC-free DSP: the
// Goertzel recurrence), normalised by the signal's energy, in 0..1.
func goertzel(s []int16, freq float64) float64 {
	if len(s) == 0 {
		return 0
	}
	k := 2 * math.Cos(2*math.Pi*freq/media.SampleRate)
	var s1, s2, energy float64
	for _, v := range s {
		x := float64(v)
		energy += x * x
		s0 := x + k*s1 - s2
		s2, s1 = s1, s0
	}
	power := s1*s1 + s2*s2 - k*s1*s2
	if energy == 0 {
		return 0
	}
	return power / (energy * float64(len(s)) / 2)
}

func itoa(n int) string { return strconv.Itoa(n) }
