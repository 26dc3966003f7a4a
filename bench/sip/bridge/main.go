// Command bridge measures Moroz's RTP bridge: N bridged calls, each two
// media legs joined by media.Leg.Bridge (the relay between a caller's
// leg and a helper's leg, no decoding), with a generator on both sides
// of every call sending a 20 ms PCMU frame each way. The relay runs in a
// child process of its own, so its CPU time (getrusage) is the relay's
// alone; the generators and receivers run in this process. It reports,
// per relay, the packets lost (gaps in a sequence number the generator
// puts in the payload, so drops at the relay's own socket count), the
// added latency (kernel receive time, SO_TIMESTAMPNS, minus the send
// time carried in the payload), the relay's CPU per relayed packet and
// its memory per call.
//
// The same run measures, one after the other, a plain Go UDP relay
// (two sockets and two goroutines per call, nothing else) as a baseline,
// and "direct" (the two ends sending to each other, no relay) for the
// latency of loopback itself.
//
// With -relay edge the calls are set up through Moroz's SIP edge itself:
// SIPp (Debian's sip-tester) calls it twice per bridged call, the edge
// answers each call with its own RTP leg, and a flow bridges the two
// calls of a pair (sip.Call.Bridge); the generators send the RTP as
// before. With moroz the legs are made directly on the media layer.
//
//	go run ./bench/sip/bridge -calls 500 -for 20s -relay direct,plain,moroz,edge
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/morozhq/moroz/bench/internal/sysstat"
	"github.com/morozhq/moroz/sip/media"
)

func main() {
	calls := flag.Int("calls", 500, "concurrent bridged calls (each 100 packets/s through the relay)")
	dur := flag.Duration("for", 20*time.Second, "how long to measure, after the warm-up")
	warmup := flag.Duration("warmup", 3*time.Second, "how long every stream runs before the window")
	relays := flag.String("relay", "direct,plain,moroz", "relays to measure in turn: direct, plain, moroz, edge (the SIP edge, called by SIPp)")
	cpuProfile := flag.String("cpuprofile", "", "write the relay process's CPU profile to PREFIX-RELAY.prof")
	serveKind := flag.String("serve", "", "internal: run as the relay process of this kind")
	flag.Parse()
	if *serveKind != "" {
		if err := serve(*serveKind, *cpuProfile); err != nil {
			fmt.Fprintln(os.Stderr, "relay:", err)
			os.Exit(1)
		}
		return
	}
	for _, kind := range strings.Split(*relays, ",") {
		if err := run(kind, *calls, *warmup, *dur, *cpuProfile); err != nil {
			fmt.Fprintln(os.Stderr, kind+":", err)
			os.Exit(1)
		}
	}
}

// child is the relay process and the pipes to it.
type child struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startChild(kind, cpuProfile string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{"-serve", kind}
	if cpuProfile != "" {
		args = append(args, "-cpuprofile", cpuProfile+"-"+kind+".prof")
	}
	cmd := exec.Command(exe, args...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &child{cmd: cmd, in: in, out: bufio.NewScanner(out)}, nil
}

// ask sends a line and reads one back.
func (c *child) ask(line string) (string, error) {
	if _, err := fmt.Fprintln(c.in, line); err != nil {
		return "", err
	}
	if !c.out.Scan() {
		return "", errors.Join(errors.New("relay process ended"), c.out.Err())
	}
	return c.out.Text(), nil
}

// connect tells the relay where each call's two ends are and points each
// end at the relay socket for its side.
func (c *child) connect(calls [][2]*end) error {
	for _, p := range calls {
		fmt.Fprintln(c.in, p[0].addr(), p[1].addr())
	}
	fmt.Fprintln(c.in, "end")
	for _, p := range calls {
		if !c.out.Scan() {
			return errors.New("relay process ended while setting up")
		}
		a, b, _ := strings.Cut(c.out.Text(), " ")
		var err1, err2 error
		p[0].to, err1 = netip.ParseAddrPort(a)
		p[1].to, err2 = netip.ParseAddrPort(b)
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
	}
	if !c.out.Scan() || c.out.Text() != "ready" {
		return errors.New("relay process not ready")
	}
	return nil
}

func (c *child) stop() error {
	c.in.Close()
	return c.cmd.Wait()
}

func run(kind string, n int, warmup, dur time.Duration, cpuProfile string) error {
	calls, err := newCalls(n)
	if err != nil {
		return err
	}
	var relay *child
	if kind == "direct" {
		for _, p := range calls {
			p[0].to, p[1].to = p[1].addr(), p[0].addr()
		}
	} else {
		if relay, err = startChild(kind, cpuProfile); err != nil {
			return err
		}
		defer relay.stop()
		if kind == "edge" {
			sipp, err := relay.connectEdge(calls, warmup+dur+time.Minute)
			if sipp != nil {
				defer sipp.stop()
			}
			if err != nil {
				return err
			}
		} else if err := relay.connect(calls); err != nil {
			return err
		}
	}

	load0 := sysstat.LoadAverage()
	var phase atomic.Int32
	var sent atomic.Int64
	var receivers, senders sync.WaitGroup
	ends := make([]*end, 0, 2*n)
	for i, p := range calls {
		for side, e := range p {
			e.offset = time.Duration(2*i+side) * media.FrameDuration / time.Duration(2*n)
			ends = append(ends, e)
		}
	}
	for _, e := range ends {
		receivers.Add(1)
		go func() { defer receivers.Done(); e.receive(&phase) }()
	}
	ctx, cancel := context.WithCancel(context.Background())
	shards := runtime.GOMAXPROCS(0)
	start := time.Now()
	for s := range shards {
		senders.Add(1)
		go send(ctx, shard(ends, s, shards), start, &phase, &sent, &senders)
	}

	time.Sleep(warmup)
	var rep report
	if relay != nil {
		if _, err := relay.ask("start"); err != nil {
			cancel()
			return err
		}
	}
	phase.Store(phaseWindow)
	drops0 := sysstat.UDPDrops()
	t0 := time.Now()
	time.Sleep(dur)
	wall := time.Since(t0)
	drops := sysstat.UDPDrops() - drops0
	if relay != nil {
		line, err := relay.ask("stop")
		if err == nil {
			err = json.Unmarshal([]byte(line), &rep)
		}
		if err != nil {
			cancel()
			return err
		}
	}
	phase.Store(phaseAfter)
	cancel()
	senders.Wait()
	for _, e := range ends {
		e.conn.Close()
	}
	receivers.Wait()
	printResult(kind, n, wall, ends, sent.Load(), drops, rep, load0, sysstat.LoadAverage())
	return nil
}

func newCalls(n int) ([][2]*end, error) {
	calls := make([][2]*end, n)
	for i := range calls {
		for side := range 2 {
			e, err := newEnd(2*i + side)
			if err != nil {
				return nil, err
			}
			calls[i][side] = e
		}
	}
	return calls, nil
}

func shard(ends []*end, s, shards int) []*end {
	var out []*end
	for i := s; i < len(ends); i += shards {
		out = append(out, ends[i])
	}
	return out
}

func printResult(kind string, n int, wall time.Duration, ends []*end, sent, drops int64, rep report, load0, load1 string) {
	var got, lost, late int64
	var lat []int32
	for _, e := range ends {
		got, lost, late = got+e.got, lost+e.lost, late+e.late
		lat = append(lat, e.latency...)
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return time.Duration(lat[min(len(lat)-1, int(p*float64(len(lat))))])
	}
	nominal := float64(2*n) * 50 * wall.Seconds()
	fmt.Printf("%s: %d calls, %v, load %s → %s\n", kind, n, wall.Round(time.Millisecond), load0, load1)
	fmt.Printf("  sent %d packets in the window (%.1f%% of nominal)\n", sent, 100*float64(sent)/nominal)
	fmt.Printf("  received %d packets (%.0f/s, %.1f%% of nominal), lost %d (%.4f%%), reordered %d\n",
		got, float64(got)/wall.Seconds(), 100*float64(got)/nominal, lost,
		100*float64(lost)/float64(max(1, got+lost)), late)
	fmt.Printf("  UDP receive-buffer drops on the whole machine in the window: %d\n", drops)
	fmt.Printf("  latency p50 %v, p99 %v, p99.9 %v, max %v\n",
		pct(0.5).Round(time.Microsecond), pct(0.99).Round(time.Microsecond),
		pct(0.999).Round(time.Microsecond), pct(1).Round(time.Microsecond))
	if kind == "direct" {
		return
	}
	cpu := time.Duration(rep.CPUNanos)
	fmt.Printf("  relay CPU %.3f cores, %.2f µs per relayed packet (%d relayed); its threads waited %.1f s for a CPU\n",
		cpu.Seconds()/wall.Seconds(), float64(rep.CPUNanos)/1e3/float64(max(1, rep.Relayed)), rep.Relayed,
		time.Duration(rep.WaitNanos).Seconds())
	fmt.Printf("  relay memory per call: %.1f KiB heap, %.1f KiB resident, %.1f goroutines\n",
		rep.HeapPerLeg/1024, rep.RSSPerLeg/1024, rep.Goroutines)
}
