// Command softphone measures bridged SIP↔browser calls: N callers on
// loopback UDP (what a SIP phone's RTP is to Moroz) each bridged through
// a media leg to a softphone leg, whose peer is a pion-based browser
// stand-in with DTLS-SRTP and ICE like Chromium's. Both ends send a PCMU
// frame every 20 ms and count what they receive by sequence number.
//
// Moroz's side (the callers' media legs, the softphone and its bridges)
// runs in a child process of its own, so its CPU time (getrusage) is the
// server's alone; the callers' sockets and the browser stand-ins run in
// this process and signal to the server over the child's stdin and
// stdout, as a browser would over the console's websocket. It reports
// the server's CPU per call and per relayed packet, packet loss each way,
// and the server's heap, resident memory and goroutines per call.
//
//	go run ./bench/softphone -calls 300 -for 30s
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/morozhq/moroz/bench/internal/sysstat"
	"github.com/morozhq/moroz/sip/media"
)

func main() {
	n := flag.Int("calls", 300, "concurrent bridged calls")
	dur := flag.Duration("for", 30*time.Second, "how long to measure, after all calls are up")
	burst := flag.Int("max-burst", 0, "frames a late speaker sends at once, skipping older ones (0: all that fell due)")
	cpuProfile := flag.String("cpuprofile", "", "write the server process's CPU profile of the window to this file")
	server := flag.Bool("serve", false, "internal: run as the server process")
	flag.Parse()
	if *server {
		if err := serve(*cpuProfile); err != nil {
			fmt.Fprintln(os.Stderr, "server:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*n, *dur, *burst, *cpuProfile); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// counter counts one direction of one call's packets by the sender's
// own sequence number, which the payload carries through Moroz unchanged
// (Moroz renumbers the RTP header, so a packet lost on the way in would
// leave no gap there).
type counter struct {
	mu       sync.Mutex
	last     uint32
	extended int64 // packets spanned from the first to the last
	got      int64
	started  bool
}

func (c *counter) add(payload []byte) {
	if len(payload) < 4 {
		return
	}
	seq := binary.BigEndian.Uint32(payload)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got++
	if !c.started {
		c.last, c.extended, c.started = seq, 1, true
		return
	}
	if d := int32(seq - c.last); d > 0 {
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

// call is one bridged call's two simulated ends.
type call struct {
	id      string
	sock    *net.UDPConn   // the caller's phone
	to      netip.AddrPort // Moroz's media leg for the caller
	browser *webrtc.PeerConnection
	track   *webrtc.TrackLocalStaticRTP // the browser's microphone
	legAt   chan string                 // the leg's address, from the server
	sdp     chan msg                    // the server's answer to the stand-in's offer
	toB     counter                     // caller → browser, counted at the browser
	toC     counter                     // browser → caller, counted at the caller
	seqC    uint32                      // the speaker's own: next sequence numbers and frame
	seqB    uint32
	frames  int
}

// load is this process: the callers, the stand-ins and the pipe to the
// server.
type load struct {
	api     *webrtc.API
	out     io.Writer // the server's stdin, written by one goroutine at a time
	outMu   sync.Mutex
	calls   []*call
	byID    map[string]*call
	bridged chan error // one per call: nil once bridged
	control chan msg   // started and report
}

func (l *load) send(m msg) {
	b, _ := json.Marshal(m)
	l.outMu.Lock()
	defer l.outMu.Unlock()
	l.out.Write(append(b, '\n'))
}

// dispatch reads the server's messages until its stdout closes.
func (l *load) dispatch(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		var m msg
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		switch m.Op {
		case "leg":
			l.calls[m.I].legAt <- m.Addr
		case "ring":
			go l.answer(l.byID[m.Call])
		case "answered":
			l.byID[m.Call].sdp <- m
		case "bridged":
			l.bridged <- nil
		case "failed":
			l.bridged <- fmt.Errorf("call %d: %s", m.I, m.Err)
		default:
			l.control <- m
		}
	}
	close(l.control)
}

// answer offers audio from the stand-in and applies the server's answer.
func (l *load) answer(c *call) {
	err := func() error {
		pc, err := l.api.NewPeerConnection(webrtc.Configuration{})
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
		l.send(msg{Op: "answer", Call: c.id, SDP: pc.LocalDescription().SDP})
		res := <-c.sdp
		if res.Err != "" {
			return errors.New(res.Err)
		}
		return pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: res.SDP})
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
			into.add(p.Payload)
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

// startServer runs this program again as the server process.
func startServer(cpuProfile string) (*exec.Cmd, io.WriteCloser, io.Reader, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, nil, err
	}
	cmd := exec.Command(exe, "-serve", "-cpuprofile", cpuProfile)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	return cmd, in, out, cmd.Start()
}

func run(n int, dur time.Duration, maxBurst int, cpuProfile string) error {
	api, err := standInAPI()
	if err != nil {
		return err
	}
	cmd, in, out, err := startServer(cpuProfile)
	if err != nil {
		return err
	}
	l := &load{api: api, out: in, byID: map[string]*call{}, bridged: make(chan error, n), control: make(chan msg, 4)}
	for i := range n {
		c, err := newCall(i)
		if err != nil {
			return err
		}
		l.calls = append(l.calls, c)
		l.byID[c.id] = c
	}
	go l.dispatch(out)
	defer cmd.Wait()
	defer in.Close() // the server ends when its stdin closes

	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // before the wait: it ends the speakers
	shards := make([]live, runtime.GOMAXPROCS(0))
	for i := range shards {
		wg.Add(1)
		go func() { defer wg.Done(); speak(ctx, &shards[i], maxBurst) }()
	}
	failed := l.connect(&wg, shards)
	for _, err := range failed {
		fmt.Fprintln(os.Stderr, err)
	}
	if len(failed) == n {
		return errors.New("no call was set up")
	}
	time.Sleep(2 * time.Second) // let every stream settle before counting
	for _, c := range l.calls {
		c.toB.reset()
		c.toC.reset()
	}
	load0 := sysstat.LoadAverage()
	l.send(msg{Op: "start"})
	<-l.control
	drops0 := sysstat.UDPDrops()
	t0 := time.Now()
	time.Sleep(dur)
	l.send(msg{Op: "stop"})
	rep := <-l.control
	wall := time.Since(t0)
	drops := sysstat.UDPDrops() - drops0
	if rep.Report == nil {
		return errors.New("server gave no report")
	}
	fmt.Printf("calls that failed to set up: %d of %d\n", len(failed), n)
	report(l.calls, *rep.Report, wall, drops, load0, sysstat.LoadAverage())
	for _, c := range l.calls {
		if c.browser != nil {
			c.browser.Close()
		}
	}
	return nil
}

// connect rings and bridges every call, a few at a time, and returns why
// the calls that failed did.
func (l *load) connect(wg *sync.WaitGroup, shards []live) []error {
	sem := make(chan struct{}, 8)
	var errs []error
	pending := 0
	for i, c := range l.calls {
		sem <- struct{}{}
		l.send(msg{Op: "call", I: i, Addr: c.sock.LocalAddr().String()})
		c.to = netip.MustParseAddrPort(<-c.legAt)
		wg.Add(1)
		go func() { defer wg.Done(); listen(c) }()
		shards[i%len(shards)].add(c)
		pending++
		for pending > 0 && len(sem) == cap(sem) {
			if err := <-l.bridged; err != nil {
				errs = append(errs, err)
			}
			pending--
			<-sem
		}
	}
	for ; pending > 0; pending-- {
		if err := <-l.bridged; err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func newCall(i int) (*call, error) {
	sock, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	sock.SetReadBuffer(1 << 20)
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU,
		ClockRate: 8000, Channels: 1}, "mic", fmt.Sprintf("browser-%d", i))
	if err != nil {
		return nil, err
	}
	return &call{id: callID(i), sock: sock, track: track, legAt: make(chan string, 1), sdp: make(chan msg, 1)}, nil
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
		if hn, err := h.Unmarshal(buf[:n]); err == nil {
			c.toC.add(buf[hn:n])
		}
	}
}

// skipped counts the frames speakers skipped rather than burst.
var skipped atomic.Int64

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
// at 50 packets a second each way however starved the process is; with
// maxBurst above 0 it sends at most that many and skips the older ones
// (counted in skipped; their sequence numbers are not used, so they are
// not counted as lost), as a paced browser would rather than burst.
func speak(ctx context.Context, l *live, maxBurst int) {
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
			}
			return
		case <-tick.C:
		}
		due := int(time.Since(start) / media.FrameDuration)
		for _, c := range l.all() {
			if c.frames == 0 {
				c.frames = due // joined now: start at the current slot
			}
			if late := due - c.frames; maxBurst > 0 && late > maxBurst {
				skipped.Add(int64(late - maxBurst))
				c.frames += late - maxBurst
			}
			for ; c.frames < due; c.frames++ {
				ts := uint32(c.frames * media.FrameSamples)
				h := rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(c.seqC), Timestamp: ts, SSRC: 0xca11}
				b, _ := h.MarshalTo(buf[:cap(buf)])
				binary.BigEndian.PutUint32(payload, uint32(c.seqC))
				c.sock.WriteToUDPAddrPort(append(buf[:b], payload...), c.to)
				c.seqC++
				binary.BigEndian.PutUint32(payload, uint32(c.seqB))
				c.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(c.seqB), Timestamp: ts},
					Payload: payload})
				c.seqB++
			}
		}
	}
}

func report(calls []*call, rep serverReport, wall time.Duration, drops int64, load0, load1 string) {
	var gotB, lostB, gotC, lostC int64
	for _, c := range calls {
		g, l := c.toB.result()
		gotB, lostB = gotB+g, lostB+l
		g, l = c.toC.result()
		gotC, lostC = gotC+g, lostC+l
	}
	n := len(calls)
	pct := func(lost, got int64) float64 { return 100 * float64(lost) / float64(max(1, lost+got)) }
	cpu := time.Duration(rep.CPUNanos)
	fmt.Printf("calls %d, measured %v, load %s → %s\n", n, wall.Round(time.Millisecond), load0, load1)
	nominal := float64(n) * 50 * wall.Seconds()
	fmt.Printf("sent %.1f%% of the nominal 50 packets/s per direction (the senders' own pace)\n",
		100*float64(gotB+lostB+gotC+lostC)/(2*nominal))
	fmt.Printf("caller→browser: %d packets, lost %d (%.3f%%)\n", gotB, lostB, pct(lostB, gotB))
	fmt.Printf("browser→caller: %d packets, lost %d (%.3f%%)\n", gotC, lostC, pct(lostC, gotC))
	fmt.Printf("frames skipped by late speakers (-max-burst), both ways, since the start: %d\n", skipped.Load())
	fmt.Printf("browser packets the softphone dropped (its queue to the media leg full): %d\n", rep.Dropped)
	fmt.Printf("UDP receive-buffer drops on the whole machine in the window: %d\n", drops)
	fmt.Printf("server CPU %.3f cores, %.2f ms of CPU per call per second, %.1f µs per relayed packet (%d)\n",
		cpu.Seconds()/wall.Seconds(), 1000*cpu.Seconds()/wall.Seconds()/float64(n),
		float64(rep.CPUNanos)/1e3/float64(max(1, rep.Relayed)), rep.Relayed)
	fmt.Printf("server threads waited %.1f s for a CPU in the window\n", time.Duration(rep.WaitNanos).Seconds())
	fmt.Printf("server memory per call: %.1f KiB heap, %.1f KiB resident, %.1f goroutines\n",
		rep.HeapPerCall/1024, rep.RSSPerCall/1024, rep.Goroutines)
}
