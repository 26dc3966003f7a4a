// Command softphone measures bridged SIP↔browser calls: N callers on
// loopback UDP (what a SIP phone's RTP is to Moroz) each bridged through
// a media leg to a softphone leg, whose peer is a pion-based browser
// stand-in with DTLS-SRTP and ICE like Chromium's. Both ends send a PCMU
// frame every 20 ms and count what they receive. It reports the CPU time
// of the whole process per call (the callers and the stand-ins included),
// packet loss each way, the heap and the goroutines per call.
//
//	go run ./bench/softphone -calls 300 -for 30s
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/morozhq/moroz/sip/media"
	"github.com/morozhq/moroz/softphone"
)

func main() {
	n := flag.Int("calls", 300, "concurrent bridged calls")
	dur := flag.Duration("for", 30*time.Second, "how long to measure, after all calls are up")
	flag.Parse()
	if err := run(*n, *dur); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// counter counts one direction of one call's packets by sequence number.
type counter struct {
	mu          sync.Mutex
	first, last uint16
	extended    int64 // packets spanned from first to last, unwrapped
	got         int64
	started     bool
}

func (c *counter) add(seq uint16) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got++
	if !c.started {
		c.first, c.last, c.extended, c.started = seq, seq, 1, true
		return
	}
	if d := int16(seq - c.last); d > 0 {
		c.extended += int64(d)
		c.last = seq
	}
}

// reset starts counting afresh (after the ramp-up).
func (c *counter) reset() {
	c.mu.Lock()
	c.started, c.got, c.extended = false, 0, 0
	c.mu.Unlock()
}

func (c *counter) result() (got, lost int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.got, max(0, c.extended-c.got)
}

// call is one bridged call and its two simulated ends.
type call struct {
	id      string
	sock    *net.UDPConn // the caller's phone
	leg     *media.Leg   // Moroz's leg for the caller
	browser *webrtc.PeerConnection
	track   *webrtc.TrackLocalStaticRTP // the browser's microphone
	toB     counter                     // caller → browser, counted at the browser
	toC     counter                     // browser → caller, counted at the caller
	seqC    uint16                      // the speaker's own: next sequence numbers and frame
	seqB    uint16
	frames  int
}

func (c *call) ID() string     { return c.id }
func (c *call) Caller() string { return "+375290000000" }

// standIns answer the phone's rings as a browser would.
type standIns struct {
	api   *webrtc.API
	phone *softphone.Phone
	mu    sync.Mutex
	calls map[string]*call // by call id
}

func (s *standIns) SendSoftphone(_ int64, msg any) int {
	b, _ := json.Marshal(msg)
	var ev struct{ Event, Call string }
	json.Unmarshal(b, &ev)
	if ev.Event == "ring" {
		s.mu.Lock()
		c := s.calls[ev.Call]
		s.mu.Unlock()
		go s.answer(c)
	}
	return 1
}

func (s *standIns) Connected(int64) bool { return true }

// answer offers audio from the stand-in and applies the phone's answer.
func (s *standIns) answer(c *call) {
	err := func() error {
		pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			return err
		}
		c.browser = pc
		if _, err := pc.AddTrack(c.track); err != nil {
			return err
		}
		pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { go drain(t, &c.toB) })
		offer, err := pc.CreateOffer(nil)
		if err != nil {
			return err
		}
		if err := pc.SetLocalDescription(offer); err != nil {
			return err
		}
		<-webrtc.GatheringCompletePromise(pc)
		req, _ := json.Marshal(softphone.Request{Op: "answer", Call: c.id, SDP: pc.LocalDescription().SDP})
		res, err := s.phone.Signal(context.Background(), 1, req)
		if err != nil {
			return err
		}
		return pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer,
			SDP: res.(map[string]string)["sdp"]})
	}()
	if err != nil {
		fmt.Fprintln(os.Stderr, "stand-in", c.id, err)
	}
}

func drain(t *webrtc.TrackRemote, into *counter) {
	buf := make([]byte, 1500)
	var p rtp.Packet
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			return
		}
		if p.Unmarshal(buf[:n]) == nil {
			into.add(p.SequenceNumber)
		}
	}
}

func standInAPI() (*webrtc.API, error) {
	var me webrtc.MediaEngine
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{PayloadType: 0, RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1}}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{PayloadType: 126, RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: "audio/telephone-event", ClockRate: 8000}}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return webrtc.NewAPI(webrtc.WithMediaEngine(&me), webrtc.WithSettingEngine(se)), nil
}

func run(n int, dur time.Duration) error {
	api, err := standInAPI()
	if err != nil {
		return err
	}
	s := &standIns{api: api, calls: map[string]*call{}}
	phone, err := softphone.New(softphone.Options{Signal: s, Logger: slog.New(slog.DiscardHandler),
		Config: softphone.Config{Loopback: true}})
	if err != nil {
		return err
	}
	s.phone = phone
	defer phone.Close()

	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // before the wait: it ends the bridges and the speaker
	var memBefore runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&memBefore)
	goBefore := runtime.NumGoroutine()

	shards := make([]live, runtime.GOMAXPROCS(0))
	for i := range shards {
		wg.Add(1)
		go func() { defer wg.Done(); speak(ctx, &shards[i]) }()
	}
	calls, err := connect(ctx, &wg, s, phone, n, shards)
	if err != nil {
		return err
	}
	time.Sleep(2 * time.Second) // let every stream settle before counting
	for _, c := range calls {
		c.toB.reset()
		c.toC.reset()
	}
	var memAfter runtime.MemStats
	runtime.ReadMemStats(&memAfter)
	goAfter := runtime.NumGoroutine()
	cpu0 := cpuTime()
	t0 := time.Now()
	time.Sleep(dur)
	cpu := cpuTime() - cpu0
	wall := time.Since(t0)
	report(calls, cpu, wall, memAfter.HeapInuse-memBefore.HeapInuse, goAfter-goBefore)
	for _, c := range calls {
		c.browser.Close()
	}
	return nil
}

// connect rings and bridges n calls, a few at a time.
func connect(ctx context.Context, wg *sync.WaitGroup, s *standIns, phone *softphone.Phone, n int, shards []live) ([]*call, error) {
	calls := make([]*call, n)
	sem := make(chan struct{}, 8)
	errs := make(chan error, n)
	var ramp sync.WaitGroup
	for i := range calls {
		c, err := newCall(i)
		if err != nil {
			return nil, err
		}
		calls[i] = c
		s.mu.Lock()
		s.calls[c.id] = c
		s.mu.Unlock()
		shards[i%len(shards)].add(c)
		ramp.Add(1)
		sem <- struct{}{}
		go func() {
			defer ramp.Done()
			defer func() { <-sem }()
			leg, err := phone.Dial(ctx, softphone.Target(1), c)
			if err != nil {
				errs <- fmt.Errorf("call %d: %w", i, err)
				return
			}
			wg.Add(2)
			go func() { defer wg.Done(); c.leg.Bridge(ctx, leg.Media()) }()
			go func() { defer wg.Done(); listen(c) }()
		}()
	}
	ramp.Wait()
	close(errs)
	return calls, errors.Join(collect(errs)...)
}

func collect(ch <-chan error) []error {
	var out []error
	for e := range ch {
		out = append(out, e)
	}
	return out
}

func newCall(i int) (*call, error) {
	lo := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}
	legConn, err := net.ListenUDP("udp4", lo)
	if err != nil {
		return nil, err
	}
	sock, err := net.ListenUDP("udp4", lo)
	if err != nil {
		return nil, err
	}
	leg, err := media.NewLeg(legConn, media.LegConfig{Codec: media.PCMU, DTMFPayloadType: 101,
		Remote: sock.LocalAddr().(*net.UDPAddr).AddrPort(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU,
		ClockRate: 8000, Channels: 1}, "mic", fmt.Sprintf("browser-%d", i))
	if err != nil {
		return nil, err
	}
	return &call{id: fmt.Sprintf("bench-%d@loopback", i), sock: sock, leg: leg, track: track}, nil
}

// listen counts what the caller's phone receives.
func listen(c *call) {
	buf := make([]byte, 1500)
	var h rtp.Header
	for {
		n, _, err := c.sock.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if _, err := h.Unmarshal(buf[:n]); err == nil {
			c.toC.add(h.SequenceNumber)
		}
	}
}

// live is the calls that speak.
type live struct {
	mu    sync.Mutex
	calls []*call // guarded by mu
}

func (l *live) add(c *call) {
	l.mu.Lock()
	l.calls = append(l.calls, c)
	l.mu.Unlock()
}

func (l *live) all() []*call {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls
}

// speak sends one frame from every caller and every stand-in of a shard
// each 20 ms, from one goroutine per CPU (as a shared pacer would). A
// late tick sends every frame that fell due, so the offered load stays
// at 50 packets a second each way however starved the process is.
func speak(ctx context.Context, l *live) {
	payload := make([]byte, media.FrameSamples)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	buf := make([]byte, 0, 200)
	tick := time.NewTicker(media.FrameDuration)
	defer tick.Stop()
	start := time.Now()
	for {
		select {
		case <-ctx.Done():
			for _, c := range l.all() {
				c.sock.Close()
				c.leg.Close()
			}
			return
		case <-tick.C:
		}
		due := int(time.Since(start) / media.FrameDuration)
		for _, c := range l.all() {
			if c.frames == 0 {
				c.frames = due // joined now: start at the current slot
			}
			for ; c.frames < due; c.frames++ {
				ts := uint32(c.frames * media.FrameSamples)
				h := rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: c.seqC, Timestamp: ts, SSRC: 0xca11}
				b, _ := h.MarshalTo(buf[:cap(buf)])
				c.sock.WriteToUDPAddrPort(append(buf[:b], payload...), c.leg.LocalAddr())
				c.seqC++
				c.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: c.seqB, Timestamp: ts},
					Payload: payload})
				c.seqB++
			}
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func report(calls []*call, cpu, wall time.Duration, heap uint64, goroutines int) {
	var gotB, lostB, gotC, lostC int64
	for _, c := range calls {
		g, l := c.toB.result()
		gotB, lostB = gotB+g, lostB+l
		g, l = c.toC.result()
		gotC, lostC = gotC+g, lostC+l
	}
	n := len(calls)
	pct := func(lost, got int64) float64 { return 100 * float64(lost) / float64(max(1, lost+got)) }
	fmt.Printf("calls %d, measured %v\n", n, wall.Round(time.Millisecond))
	nominal := float64(n) * 50 * wall.Seconds()
	fmt.Printf("sent %.1f%% of the nominal 50 packets/s per direction (the senders' own pace)\n",
		100*float64(gotB+lostB+gotC+lostC)/(2*nominal))
	fmt.Printf("caller→browser: %d packets, lost %d (%.3f%%)\n", gotB, lostB, pct(lostB, gotB))
	fmt.Printf("browser→caller: %d packets, lost %d (%.3f%%)\n", gotC, lostC, pct(lostC, gotC))
	fmt.Printf("CPU %.2f cores in all, %.2f ms of CPU per call per second\n",
		cpu.Seconds()/wall.Seconds(), 1000*cpu.Seconds()/wall.Seconds()/float64(n))
	fmt.Printf("CPU %.1f µs per packet relayed (both ways)\n", float64(cpu.Microseconds())/float64(max(1, gotB+gotC)))
	fmt.Printf("heap %.1f KiB and %d goroutines per call\n", float64(heap)/1024/float64(n), goroutines/n)
}
