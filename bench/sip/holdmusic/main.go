// Command holdmusic measures the media layer's paced sender at scale:
// N legs on loopback each play looped hold music (a 440 Hz tone) to a
// receiver. It reports the send jitter (how far each packet's arrival
// strays from 20 ms after the previous one of the same stream, p50/p99/
// p99.9/max), how far packets fall behind their stream's own clock (the
// arrival against the RTP timestamp, less the stream's least: a sender
// that drops a tick and goes on from there falls behind for good, which
// the jitter does not show but a receiver's playout buffer must take),
// packets lost, the sender's CPU time per packet, and the heap, resident
// memory and goroutines per leg.
//
// Arrival is the kernel's receive timestamp (SO_TIMESTAMPNS), taken on
// loopback while the sender's sendto delivers the packet, so the
// receiver's own scheduling is not in the jitter; -kernel-ts=false takes
// the time when the receiver reads the packet instead. The receiver runs
// in a child process of its own (-receiver process, the default), so it
// neither shares the sender's Go scheduler nor counts in the sender's CPU
// time, and it allocates nothing while it measures; -receiver goroutine
// runs it in the sender's process, as the first versions of this program
// did. Traffic stays on 127.0.0.1; the run stops by itself after -warmup
// and -for.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/morozhq/moroz/bench/internal/sysstat"
	"github.com/morozhq/moroz/sip/media"
	"github.com/pion/rtp"
)

func main() {
	n := flag.Int("legs", 2000, "concurrent legs playing hold music")
	dur := flag.Duration("for", 20*time.Second, "how long to measure")
	warmup := flag.Duration("warmup", time.Second, "how long the legs play before the measurement starts")
	shared := flag.Bool("pacer", true, "pace all legs with one shared media.Pacer (false: a timer per leg)")
	kernelTS := flag.Bool("kernel-ts", true, "time arrivals by the kernel's receive timestamp (false: when the receiver reads them)")
	receiver := flag.String("receiver", "process", "where the receiver runs: process (a child process of its own) or goroutine (in the sender's process)")
	rxNice := flag.Int("receiver-nice", 19, "the receiver process's nice value, so its threads yield the CPU to the sender's (its arrival times are the kernel's, taken as the sender sends)")
	child := flag.Bool("child", false, "run as the receiver process (used by -receiver process)")
	traceOut := flag.String("trace", "", "write an execution trace of the measured window to this file (go tool trace)")
	cpuOut := flag.String("cpuprofile", "", "write a CPU profile of the measured window to this file")
	flag.Parse()
	var err error
	if *child {
		err = runChild(*n, *dur, *kernelTS, *rxNice)
	} else {
		err = run(config{legs: *n, dur: *dur, warmup: *warmup, shared: *shared, kernelTS: *kernelTS,
			receiver: *receiver, rxNice: *rxNice, prof: profiles{trace: *traceOut, cpu: *cpuOut}})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

type config struct {
	legs        int
	dur, warmup time.Duration
	shared      bool
	kernelTS    bool
	receiver    string
	rxNice      int
	prof        profiles
}

// result is what the receiver measured in its window.
type result struct {
	Packets, Lost       int
	P50, P99, P999, Max time.Duration
	LagP50, LagP99      time.Duration // behind the stream's own clock, less the stream's least
	LagMax              time.Duration
	ReceiverCPU         time.Duration // the receiver process's, in its window
	Separate            bool          // the receiver ran in a process of its own
}

func run(cfg config) error {
	rx, err := startReceiver(cfg)
	if err != nil {
		return err
	}
	defer rx.close()

	// Below Linux's ephemeral ports (32768 on), where other programs'
	// sockets would take some of the range.
	ports, err := media.NewPortRange(netip.MustParseAddr("127.0.0.1"), 20000, 32766)
	if err != nil {
		return err
	}
	heap0, rss0, g0 := sysstat.Memory()

	tone := make([]int16, media.SampleRate)
	for i := range tone {
		tone[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/media.SampleRate))
	}
	music := media.NewClip(tone)
	var pacer *media.Pacer
	if cfg.shared {
		pacer = media.NewPacer()
		defer pacer.Close()
	}
	legs := make([]*media.Leg, 0, cfg.legs)
	defer func() {
		for _, l := range legs {
			l.Close()
		}
	}()
	for range cfg.legs {
		conn, err := ports.Listen()
		if err != nil {
			return err
		}
		leg, err := media.NewLeg(conn, media.LegConfig{Codec: media.PCMU, Remote: rx.addr, Pacer: pacer})
		if err != nil {
			return err
		}
		legs = append(legs, leg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var players sync.WaitGroup
	defer players.Wait()
	defer cancel()
	for _, l := range legs {
		players.Add(1)
		go func() {
			defer players.Done()
			l.Play(ctx, music.Loop())
		}()
	}
	time.Sleep(cfg.warmup)
	heap1, rss1, g1 := sysstat.Memory()

	stopProf, err := cfg.prof.start()
	defer stopProf()
	if err != nil {
		return err
	}
	load := sysstat.LoadAverage()
	drops0, wait0 := sysstat.UDPDrops(), sysstat.RunQueueWait()
	sent0 := sent(legs)
	cpu0 := sysstat.CPUNanos()
	res, err := rx.measure()
	if err != nil {
		return err
	}
	cpu := time.Duration(sysstat.CPUNanos() - cpu0)
	sentN := sent(legs) - sent0
	drops, wait := sysstat.UDPDrops()-drops0, time.Duration(sysstat.RunQueueWait()-wait0)
	stopProf()

	fmt.Printf("legs %d, shared pacer %v, GOMAXPROCS %d, kernel timestamps %v, receiver %s, %v after %v, load %s: %d packets (%.0f/s), lost %d (%.3f%%); sent %d (%.0f/s)\n",
		cfg.legs, cfg.shared, runtime.GOMAXPROCS(0), cfg.kernelTS, cfg.receiver, cfg.dur, cfg.warmup, load, res.Packets,
		float64(res.Packets)/cfg.dur.Seconds(), res.Lost, 100*float64(res.Lost)/float64(max(1, res.Packets+res.Lost)),
		sentN, float64(sentN)/cfg.dur.Seconds())
	fmt.Printf("send jitter p50 %v, p99 %v, p99.9 %v, max %v\n", res.P50, res.P99, res.P999, res.Max)
	fmt.Printf("lag behind the stream's clock p50 %v, p99 %v, max %v\n", res.LagP50, res.LagP99, res.LagMax)
	fmt.Printf("the machine's UDP receive-buffer drops %d (packets lost are among them: the receiver fell behind); the sender's threads waited %v for a CPU\n", drops, wait.Round(time.Millisecond))
	// Per packet sent: what the receiver lost was sent, and cost the
	// sender as much.
	perPacket := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 / float64(max(1, sentN)) }
	if res.Separate {
		fmt.Printf("sender cpu %v (%.0f%% of one core, %.2f µs per packet); receiver process %v (%.2f µs per packet)\n",
			cpu, 100*cpu.Seconds()/cfg.dur.Seconds(), perPacket(cpu), res.ReceiverCPU, perPacket(res.ReceiverCPU))
	} else {
		fmt.Printf("cpu %v (%.0f%% of one core, %.2f µs per packet, receiver included)\n",
			cpu, 100*cpu.Seconds()/cfg.dur.Seconds(), perPacket(cpu))
	}
	n := float64(cfg.legs)
	fmt.Printf("per leg: %.1f KiB heap, %.1f KiB resident, %.1f goroutines\n",
		sysstat.Growth(heap1, heap0)/n/1024, sysstat.Growth(rss1, rss0)/n/1024, float64(g1-g0)/n)
	return nil
}

// sent is how many packets the legs have sent.
func sent(legs []*media.Leg) uint64 {
	var n uint64
	for _, l := range legs {
		n += l.Stats().Sent
	}
	return n
}

// receiverEnd is the sender's side of the receiver, wherever it runs.
type receiverEnd struct {
	addr    netip.AddrPort
	measure func() (result, error) // starts the window and waits for its result
	close   func()
}

func startReceiver(cfg config) (*receiverEnd, error) {
	switch cfg.receiver {
	case "goroutine":
		return startGoroutineReceiver(cfg)
	case "process":
		return startProcessReceiver(cfg)
	}
	return nil, fmt.Errorf("-receiver %q: want process or goroutine", cfg.receiver)
}

func startGoroutineReceiver(cfg config) (*receiverEnd, error) {
	sink, err := listenSink(cfg.kernelTS)
	if err != nil {
		return nil, err
	}
	start := make(chan struct{})
	var once sync.Once
	done := make(chan struct{})
	var res result
	var rerr error
	go func() {
		defer close(done)
		res, rerr = receive(sink, cfg.legs, cfg.dur, cfg.kernelTS, start)
	}()
	return &receiverEnd{
		addr: sink.LocalAddr().(*net.UDPAddr).AddrPort(),
		measure: func() (result, error) {
			once.Do(func() { close(start) })
			<-done
			return res, rerr
		},
		close: func() { sink.Close(); <-done },
	}, nil
}

// startProcessReceiver runs this program again with -child. The child
// prints its address, starts its window when it reads a line, and prints
// its result as one line of JSON.
func startProcessReceiver(cfg config) (*receiverEnd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-child", "-legs", fmt.Sprint(cfg.legs), "-for", cfg.dur.String(),
		fmt.Sprintf("-kernel-ts=%v", cfg.kernelTS), fmt.Sprintf("-receiver-nice=%d", cfg.rxNice))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() { in.Close(); cmd.Process.Kill(); cmd.Wait() }
	out := bufio.NewReader(outPipe)
	line, err := out.ReadString('\n')
	if err != nil {
		stop()
		return nil, fmt.Errorf("receiver process: %w", err)
	}
	addr, err := netip.ParseAddrPort(strings.TrimSpace(line))
	if err != nil {
		stop()
		return nil, fmt.Errorf("receiver process address %q: %w", line, err)
	}
	return &receiverEnd{
		addr: addr,
		measure: func() (result, error) {
			var res result
			if _, err := io.WriteString(in, "go\n"); err != nil {
				return res, err
			}
			line, err := out.ReadString('\n')
			if err != nil {
				return res, fmt.Errorf("receiver process: %w", err)
			}
			err = json.Unmarshal([]byte(line), &res)
			return res, err
		},
		close: stop,
	}, nil
}

// runChild is the receiver process.
func runChild(legs int, dur time.Duration, kernelTS bool, nice int) error {
	if err := sysstat.SetNice(nice); err != nil {
		return fmt.Errorf("receiver nice %d: %w", nice, err)
	}
	sink, err := listenSink(kernelTS)
	if err != nil {
		return err
	}
	fmt.Println(sink.LocalAddr().(*net.UDPAddr).AddrPort())
	start := make(chan struct{})
	go func() {
		bufio.NewReader(os.Stdin).ReadString('\n')
		close(start)
	}()
	res, err := receive(sink, legs, dur, kernelTS, start)
	if err != nil {
		return err
	}
	res.Separate = true
	return json.NewEncoder(os.Stdout).Encode(res)
}

func listenSink(kernelTS bool) (*net.UDPConn, error) {
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	sink.SetReadBuffer(8 << 20)
	if kernelTS {
		if err := sysstat.EnableTimestamps(sink); err != nil {
			sink.Close()
			return nil, fmt.Errorf("SO_TIMESTAMPNS: %w", err)
		}
	}
	return sink, nil
}

// stream is what the receiver knows of one leg's packets.
type stream struct {
	last    time.Time
	lastSeq uint16
	seen    bool

	id       int32         // the stream's index, for its packets' lags
	t0       time.Time     // arrival of the stream's first packet in the window
	ts0      uint32        // its RTP timestamp
	windowed bool          // t0 and ts0 are set
	minLag   time.Duration // the least lag of the stream's packets in the window
}

// receive reads packets, and from when start closes until dur has passed
// it records each packet's deviation from the 20 ms spacing of its stream,
// the packets and the packets lost (sequence gaps). With kernelTS a packet
// without its timestamp is an error rather than a silently different
// measure.
//
// It allocates nothing once the streams are known (the jitter slice is
// sized for the legs' packets up front), so the measurement does not set
// off garbage collections that would take a CPU from a sender in the same
// process.
func receive(sink *net.UDPConn, legs int, dur time.Duration, kernelTS bool, start <-chan struct{}) (result, error) {
	var res result
	streams := make(map[uint32]*stream, legs)
	var byID []*stream
	size := int(float64(legs) * 1.1 * dur.Seconds() / media.FrameDuration.Seconds())
	jitter := make([]time.Duration, 0, size)
	lags := make([]lag, 0, size)
	buf := make([]byte, 1500)
	oob := make([]byte, sysstat.OOBSize)
	var end atomic.Int64 // Unix nanoseconds; 0 until the window starts
	var cpu0 atomic.Int64
	go func() {
		<-start
		cpu0.Store(sysstat.CPUNanos())
		end.Store(time.Now().Add(dur).UnixNano())
	}()
	var p rtp.Packet
	for {
		e := end.Load()
		if e == 0 {
			sink.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		} else {
			sink.SetReadDeadline(time.Unix(0, e))
		}
		n, oobn, _, _, err := sink.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && e == 0 {
				continue
			}
			break
		}
		now := time.Now()
		if kernelTS {
			t, ok := sysstat.KernelTime(oob[:oobn])
			if !ok {
				return res, errors.New("a datagram came without its kernel timestamp")
			}
			now = time.Unix(0, t)
		}
		if p.Unmarshal(buf[:n]) != nil {
			continue
		}
		s := streams[p.SSRC]
		if s == nil {
			s = &stream{id: int32(len(byID))}
			streams[p.SSRC] = s
			byID = append(byID, s)
		}
		if e != 0 {
			if !s.windowed {
				s.t0, s.ts0, s.windowed = now, p.Timestamp, true
			}
			// How far the packet is behind its stream's own clock: its
			// arrival against the first one's plus the RTP time between.
			clock := time.Duration(uint32(p.Timestamp-s.ts0)) * time.Second / media.SampleRate
			d := now.Sub(s.t0) - clock
			s.minLag = min(s.minLag, d)
			lags = append(lags, lag{d, s.id})
		}
		if e != 0 && s.seen {
			res.Packets++
			gap := int(uint16(p.SequenceNumber - s.lastSeq))
			if gap > 1 && gap < 1000 {
				res.Lost += gap - 1
			}
			if gap == 1 {
				d := now.Sub(s.last) - media.FrameDuration
				jitter = append(jitter, max(d, -d))
			}
		}
		s.last, s.lastSeq, s.seen = now, p.SequenceNumber, true
	}
	res.ReceiverCPU = time.Duration(sysstat.CPUNanos() - cpu0.Load())
	slices.Sort(jitter)
	pct := func(p float64) time.Duration {
		if len(jitter) == 0 {
			return 0
		}
		return jitter[min(len(jitter)-1, int(p*float64(len(jitter))))]
	}
	res.P50, res.P99, res.P999, res.Max = pct(0.5), pct(0.99), pct(0.999), pct(1)

	jitter = jitter[:0]
	for _, l := range lags {
		jitter = append(jitter, l.d-byID[l.stream].minLag)
	}
	slices.Sort(jitter)
	res.LagP50, res.LagP99, res.LagMax = pct(0.5), pct(0.99), pct(1)
	return res, nil
}

// lag is how far one packet arrived behind its stream's clock.
type lag struct {
	d      time.Duration
	stream int32
}

// profiles names the files the measured window is traced or profiled to.
type profiles struct{ trace, cpu string }

// start begins what is asked for and returns the function that ends it.
// Stop may be called more than once.
func (p profiles) start() (stop func(), err error) {
	var stops []func()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			for _, f := range stops {
				f()
			}
		})
	}
	if p.trace != "" {
		f, err := os.Create(p.trace)
		if err != nil {
			return stop, err
		}
		if err := trace.Start(f); err != nil {
			return stop, err
		}
		stops = append(stops, func() { trace.Stop(); f.Close() })
	}
	if p.cpu != "" {
		f, err := os.Create(p.cpu)
		if err != nil {
			return stop, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return stop, err
		}
		stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
	}
	return stop, nil
}
