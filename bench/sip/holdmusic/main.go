// Command holdmusic measures the media layer's paced sender at scale:
// N legs on loopback each play looped hold music (a 440 Hz tone) to a
// receiver. It reports the send jitter (how far each packet's arrival
// strays from 20 ms after the previous one of the same stream, p50/p99/
// max), packets lost, the CPU time used, and the heap and goroutines per
// leg. Arrival is the kernel's receive timestamp (SO_TIMESTAMPNS), so the
// receiver's own scheduling is not in the jitter; -kernel-ts=false takes
// the time when the receiver reads the packet instead. Traffic stays on
// 127.0.0.1; the run stops by itself after -for.
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"sync"
	"time"

	"github.com/morozhq/moroz/bench/internal/sysstat"
	"github.com/morozhq/moroz/sip/media"
	"github.com/pion/rtp"
)

func main() {
	n := flag.Int("legs", 2000, "concurrent legs playing hold music")
	dur := flag.Duration("for", 20*time.Second, "how long to measure")
	shared := flag.Bool("pacer", true, "pace all legs with one shared media.Pacer (false: a timer per leg)")
	kernelTS := flag.Bool("kernel-ts", true, "time arrivals by the kernel's receive timestamp (false: when the receiver reads them)")
	traceOut := flag.String("trace", "", "write an execution trace of the measured window to this file (go tool trace)")
	cpuOut := flag.String("cpuprofile", "", "write a CPU profile of the measured window to this file")
	flag.Parse()
	if err := run(*n, *dur, *shared, *kernelTS, profiles{trace: *traceOut, cpu: *cpuOut}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// stream is what the receiver knows of one leg's packets.
type stream struct {
	last    time.Time
	lastSeq uint16
	seen    bool
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

func run(n int, dur time.Duration, shared, kernelTS bool, prof profiles) error {
	ip := netip.MustParseAddr("127.0.0.1")
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	sink.SetReadBuffer(8 << 20)
	if kernelTS {
		if err := sysstat.EnableTimestamps(sink); err != nil {
			return fmt.Errorf("SO_TIMESTAMPNS: %w", err)
		}
	}
	ports, err := media.NewPortRange(ip, 40000, 40000+2*n+100)
	if err != nil {
		return err
	}

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()

	tone := make([]int16, media.SampleRate)
	for i := range tone {
		tone[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/media.SampleRate))
	}
	music := media.NewClip(tone)
	remote := sink.LocalAddr().(*net.UDPAddr).AddrPort()
	var pacer *media.Pacer
	if shared {
		pacer = media.NewPacer()
		defer pacer.Close()
	}
	legs := make([]*media.Leg, 0, n)
	for range n {
		conn, err := ports.Listen()
		if err != nil {
			return err
		}
		leg, err := media.NewLeg(conn, media.LegConfig{Codec: media.PCMU, Remote: remote, Pacer: pacer})
		if err != nil {
			return err
		}
		legs = append(legs, leg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var players sync.WaitGroup
	for _, l := range legs {
		players.Add(1)
		go func() {
			defer players.Done()
			l.Play(ctx, music.Loop())
		}()
	}

	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	perLeg := float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
	goroutines := float64(runtime.NumGoroutine()-g0) / float64(n)

	stopProf, err := prof.start()
	defer stopProf()
	if err != nil {
		return err
	}
	cpu0 := sysstat.CPUNanos()
	jitter, packets, lost, err := receive(sink, n, dur, kernelTS)
	if err != nil {
		return err
	}
	cpu := time.Duration(sysstat.CPUNanos() - cpu0)
	stopProf()

	cancel()
	players.Wait()
	for _, l := range legs {
		l.Close()
	}
	sink.Close()

	slices.Sort(jitter)
	pct := func(p float64) time.Duration {
		if len(jitter) == 0 {
			return 0
		}
		return jitter[min(len(jitter)-1, int(p*float64(len(jitter))))]
	}
	fmt.Printf("legs %d, shared pacer %v, kernel timestamps %v, %v: %d packets (%.0f/s), lost %d (%.3f%%)\n", n, shared, kernelTS, dur, packets,
		float64(packets)/dur.Seconds(), lost, 100*float64(lost)/float64(max(1, packets+lost)))
	fmt.Printf("send jitter p50 %v, p99 %v, max %v\n", pct(0.5), pct(0.99), pct(1))
	fmt.Printf("cpu %v (%.0f%% of one core, %.1f µs per packet, receiver included)\n", cpu,
		100*cpu.Seconds()/dur.Seconds(), float64(cpu.Microseconds())/float64(max(1, packets)))
	fmt.Printf("per leg: %.1f KiB heap, %.1f goroutines\n", perLeg/1024, goroutines)
	return nil
}

// receive reads packets until dur passes and returns each packet's
// deviation from the 20 ms spacing of its stream, the packet count and the
// packets lost (sequence gaps). With kernelTS a packet without its
// timestamp is an error rather than a silently different measure.
//
// It allocates nothing while it reads (the jitter slice is sized for n
// legs' packets up front), so the measurement does not set off garbage
// collections that would take a CPU from the sender.
func receive(sink *net.UDPConn, legs int, dur time.Duration, kernelTS bool) (jitter []time.Duration, packets, lost int, err error) {
	streams := make(map[uint32]*stream, legs)
	jitter = make([]time.Duration, 0, int(float64(legs)*1.1*dur.Seconds()/media.FrameDuration.Seconds()))
	buf := make([]byte, 1500)
	oob := make([]byte, sysstat.OOBSize)
	end := time.Now().Add(dur)
	var p rtp.Packet
	for {
		sink.SetReadDeadline(end)
		n, oobn, _, _, rerr := sink.ReadMsgUDPAddrPort(buf, oob)
		if rerr != nil {
			return jitter, packets, lost, nil
		}
		now := time.Now()
		if kernelTS {
			t, ok := sysstat.KernelTime(oob[:oobn])
			if !ok {
				return nil, 0, 0, fmt.Errorf("a datagram came without its kernel timestamp")
			}
			now = time.Unix(0, t)
		}
		if p.Unmarshal(buf[:n]) != nil {
			continue
		}
		packets++
		s := streams[p.SSRC]
		if s == nil {
			s = &stream{}
			streams[p.SSRC] = s
		}
		if s.seen {
			gap := int(uint16(p.SequenceNumber - s.lastSeq))
			if gap > 1 && gap < 1000 {
				lost += gap - 1
			}
			if gap == 1 {
				d := now.Sub(s.last) - media.FrameDuration
				jitter = append(jitter, max(d, -d))
			}
		}
		s.last, s.lastSeq, s.seen = now, p.SequenceNumber, true
	}
}
