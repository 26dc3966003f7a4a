package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/morozhq/moroz/bench/internal/sysstat"
	"github.com/morozhq/moroz/sip/media"
)

// relay is one kind of relay under test, running in the child process.
type relay interface {
	// relayed counts the packets sent on so far.
	relayed() uint64
	close()
}

// report is what the relay process tells the generator after a window.
type report struct {
	CPUNanos   int64   // user + system CPU of the relay process in the window
	Relayed    uint64  // packets the relay sent on in the window
	HeapPerLeg float64 // bytes of Go heap in use per call, after a GC
	RSSPerLeg  float64 // bytes of resident memory per call
	Goroutines float64 // goroutines per call
	WaitNanos  int64   // time the relay's threads waited for a CPU in the window
}

// serve is the child process: it reads the generator's sockets from
// stdin ("caller helper" per call), builds one relay per call, prints
// the relay's two sockets per call, then obeys "start" and "stop" and
// prints a JSON report after "stop". It ends when stdin closes.
//
// The edge relay reads "calls N" instead and prints "sip ADDR", then a
// "leg I SIDE ADDR" line per call that SIPp makes to it.
func serve(kind, cpuProfile string) error {
	in := bufio.NewScanner(os.Stdin)
	if kind == "edge" {
		return serveEdge(in, cpuProfile)
	}
	pairs, err := readPairs(in)
	if err != nil {
		return err
	}
	mem := perCall(len(pairs))
	r, addrs, err := build(kind, pairs)
	if err != nil {
		return err
	}
	defer r.close()
	for _, a := range addrs {
		fmt.Println(a[0], a[1])
	}
	fmt.Println("ready")
	return window(in, r, cpuProfile, mem)
}

func serveEdge(in *bufio.Scanner, cpuProfile string) error {
	if !in.Scan() {
		return io.ErrUnexpectedEOF
	}
	n, err := strconv.Atoi(strings.TrimPrefix(in.Text(), "calls "))
	if err != nil {
		return fmt.Errorf("calls line %q: %w", in.Text(), err)
	}
	mem := perCall(n)
	r, err := newEdgeRelay()
	if err != nil {
		return err
	}
	defer r.close()
	return window(in, r, cpuProfile, mem)
}

// perCall notes the memory in use now and returns a function that tells
// how much more each of n calls holds when it is called.
func perCall(n int) func() (heap, rss, goroutines float64) {
	heap0, rss0, g0 := sysstat.Memory()
	return func() (float64, float64, float64) {
		heap, rss, g := sysstat.Memory()
		return sysstat.Growth(heap, heap0) / float64(n), sysstat.Growth(rss, rss0) / float64(n), float64(g-g0) / float64(n)
	}
}

func readPairs(in *bufio.Scanner) ([][2]netip.AddrPort, error) {
	var pairs [][2]netip.AddrPort
	for in.Scan() {
		line := in.Text()
		if line == "end" {
			return pairs, nil
		}
		a, b, _ := strings.Cut(line, " ")
		caller, err1 := netip.ParseAddrPort(a)
		helper, err2 := netip.ParseAddrPort(b)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("pair %q: %w", line, err)
		}
		pairs = append(pairs, [2]netip.AddrPort{caller, helper})
	}
	return nil, io.ErrUnexpectedEOF
}

func build(kind string, pairs [][2]netip.AddrPort) (relay, [][2]netip.AddrPort, error) {
	switch kind {
	case "moroz":
		return newMorozRelay(pairs)
	case "plain":
		return newPlainRelay(pairs)
	}
	return nil, nil, fmt.Errorf("unknown relay %q", kind)
}

// window measures between "start" and "stop" and prints the report.
func window(in *bufio.Scanner, r relay, cpuProfile string, mem func() (heap, rss, goroutines float64)) error {
	var cpu0, wait0 int64
	var sent0 uint64
	var heap, rss, gor float64
	for in.Scan() {
		switch in.Text() {
		case "start":
			heap, rss, gor = mem()
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				pprof.StartCPUProfile(f)
			}
			cpu0, wait0, sent0 = sysstat.CPUNanos(), sysstat.RunQueueWait(), r.relayed()
			fmt.Println("started")
		case "stop":
			rep := report{CPUNanos: sysstat.CPUNanos() - cpu0, Relayed: r.relayed() - sent0,
				HeapPerLeg: heap, RSSPerLeg: rss, Goroutines: gor, WaitNanos: sysstat.RunQueueWait() - wait0}
			if cpuProfile != "" {
				pprof.StopCPUProfile()
			}
			b, _ := json.Marshal(rep)
			fmt.Println(string(b))
		}
	}
	return in.Err()
}

// morozRelay is Moroz's own bridge: per call two media.Legs (one per
// side, as the SIP edge makes them, paced by one shared media.Pacer)
// joined by Leg.Bridge, which relays without decoding.
type morozRelay struct {
	legs   []*media.Leg
	pacer  *media.Pacer
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newMorozRelay(pairs [][2]netip.AddrPort) (relay, [][2]netip.AddrPort, error) {
	ports, err := media.NewPortRange(netip.MustParseAddr("127.0.0.1"), 20000, 60000)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &morozRelay{pacer: media.NewPacer(), cancel: cancel}
	log := slog.New(slog.DiscardHandler)
	addrs := make([][2]netip.AddrPort, len(pairs))
	for i, p := range pairs {
		var call [2]*media.Leg
		for side := range 2 {
			conn, err := ports.Listen()
			if err != nil {
				r.close()
				return nil, nil, err
			}
			call[side], err = media.NewLeg(conn, media.LegConfig{Codec: media.PCMU, DTMFPayloadType: 101,
				Remote: p[side], Logger: log, Pacer: r.pacer})
			if err != nil {
				r.close()
				return nil, nil, err
			}
			r.legs = append(r.legs, call[side])
			addrs[i][side] = call[side].LocalAddr()
		}
		r.wg.Add(1)
		go func() { defer r.wg.Done(); call[0].Bridge(ctx, call[1]) }()
	}
	return r, addrs, nil
}

func (r *morozRelay) relayed() uint64 {
	var n uint64
	for _, l := range r.legs {
		n += l.Stats().Sent
	}
	return n
}

func (r *morozRelay) close() {
	r.cancel()
	r.wg.Wait()
	for _, l := range r.legs {
		l.Close()
	}
	r.pacer.Close()
}

// plainRelay is the baseline: per call two UDP sockets and a goroutine
// per socket that sends every datagram from its side's peer out of the
// other socket to the other side, untouched.
type plainRelay struct {
	conns []*net.UDPConn
	sent  atomic.Uint64
	wg    sync.WaitGroup
}

func newPlainRelay(pairs [][2]netip.AddrPort) (relay, [][2]netip.AddrPort, error) {
	r := &plainRelay{}
	addrs := make([][2]netip.AddrPort, len(pairs))
	for i, p := range pairs {
		var c [2]*net.UDPConn
		for side := range 2 {
			conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				r.close()
				return nil, nil, err
			}
			c[side] = conn
			r.conns = append(r.conns, conn)
			addrs[i][side] = conn.LocalAddr().(*net.UDPAddr).AddrPort()
		}
		r.wg.Add(2)
		go r.pump(c[0], c[1], p[0], p[1])
		go r.pump(c[1], c[0], p[1], p[0])
	}
	return r, addrs, nil
}

func (r *plainRelay) pump(in, out *net.UDPConn, from, to netip.AddrPort) {
	defer r.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, src, err := in.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if src == from {
			if _, err := out.WriteToUDPAddrPort(buf[:n], to); err == nil {
				r.sent.Add(1)
			}
		}
	}
}

func (r *plainRelay) relayed() uint64 { return r.sent.Load() }

func (r *plainRelay) close() {
	for _, c := range r.conns {
		c.Close()
	}
	r.wg.Wait()
}
