package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime/pprof"
	"strconv"
	"sync"

	"github.com/morozhq/moroz/bench/internal/sysstat"
	"github.com/morozhq/moroz/sip/media"
	"github.com/morozhq/moroz/softphone"
)

// msg is one line between the load process and the server process.
//
// Load to server: call (I, Addr: the caller's phone), answer (Call, SDP:
// the stand-in's offer), start, stop. Server to load: leg (I, Addr: the
// caller's media leg), ring (Call), answered (Call, SDP), bridged (I),
// failed (I, Err), started, report (Report).
type msg struct {
	Op     string        `json:"op"`
	I      int           `json:"i,omitempty"`
	Call   string        `json:"call,omitempty"`
	Addr   string        `json:"addr,omitempty"`
	SDP    string        `json:"sdp,omitempty"`
	Err    string        `json:"err,omitempty"`
	Report *serverReport `json:"report,omitempty"`
}

// serverReport is the server process's own figures for a window.
type serverReport struct {
	CPUNanos    int64   // user + system CPU of the server process
	Relayed     uint64  // packets the server's legs sent, both ways
	HeapPerCall float64 // bytes of Go heap in use per call, after a GC
	RSSPerCall  float64 // bytes resident per call
	Goroutines  float64 // goroutines per call
	WaitNanos   int64   // time the server's threads waited for a CPU
	Dropped     uint64  // browser packets the softphone dropped, queue full
}

// lines writes msgs, one JSON line each, from any goroutine.
type lines struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (l *lines) send(m msg) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.enc.Encode(m)
}

// server is what Moroz runs for the benchmark's calls: a media leg per
// caller on loopback UDP (what the SIP edge makes) and the softphone,
// whose browser legs are bridged to them. It runs in a process of its
// own, so its CPU time is the server's alone.
type server struct {
	out   *lines
	phone *softphone.Phone
	pacer *media.Pacer
	ctx   context.Context
	wg    sync.WaitGroup

	mu       sync.Mutex
	legs     []*media.Leg     // guarded by mu: every media leg, both sides
	browsers []*softphone.Leg // guarded by mu
}

func serve(cpuProfile string) error {
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{out: &lines{enc: json.NewEncoder(os.Stdout)}, pacer: media.NewPacer(), ctx: ctx}
	defer s.pacer.Close()
	phone, err := softphone.New(softphone.Options{Signal: s, Logger: slog.New(slog.DiscardHandler),
		Config: softphone.Config{Loopback: true}})
	if err != nil {
		cancel()
		return err
	}
	s.phone = phone
	defer phone.Close()
	defer s.wg.Wait()
	defer cancel() // runs first: ends the bridges
	heap0, rss0, g0 := sysstat.Memory()
	var calls int
	var cpu0, wait0 int64
	var sent0, dropped0 uint64
	var rep serverReport
	dec := json.NewDecoder(os.Stdin)
	for {
		var m msg
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		switch m.Op {
		case "call":
			calls++
			s.call(m)
		case "answer":
			go s.answer(m)
		case "start":
			heap, rss, g := sysstat.Memory()
			n := float64(max(1, calls))
			rep = serverReport{HeapPerCall: sysstat.Growth(heap, heap0) / n, RSSPerCall: sysstat.Growth(rss, rss0) / n,
				Goroutines: float64(g-g0) / n}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				pprof.StartCPUProfile(f)
			}
			cpu0, wait0, sent0, dropped0 = sysstat.CPUNanos(), sysstat.RunQueueWait(), s.sent(), s.dropped()
			s.out.send(msg{Op: "started"})
		case "stop":
			rep.CPUNanos, rep.Relayed, rep.WaitNanos = sysstat.CPUNanos()-cpu0, s.sent()-sent0, sysstat.RunQueueWait()-wait0
			rep.Dropped = s.dropped() - dropped0
			if cpuProfile != "" {
				pprof.StopCPUProfile()
			}
			s.out.send(msg{Op: "report", Report: &rep})
		}
	}
}

// call makes the caller's media leg, tells its address and rings the
// stand-in; once answered, the two legs are bridged until the end.
func (s *server) call(m msg) {
	fail := func(err error) { s.out.send(msg{Op: "failed", I: m.I, Err: err.Error()}) }
	remote, err := netip.ParseAddrPort(m.Addr)
	if err != nil {
		fail(err)
		return
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		fail(err)
		return
	}
	leg, err := media.NewLeg(conn, media.LegConfig{Codec: media.PCMU, DTMFPayloadType: 101,
		Remote: remote, Logger: slog.New(slog.DiscardHandler), Pacer: s.pacer})
	if err != nil {
		fail(err)
		return
	}
	s.keep(leg)
	s.out.send(msg{Op: "leg", I: m.I, Addr: leg.LocalAddr().String()})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer leg.Close()
		browser, err := s.phone.Dial(s.ctx, softphone.Target(1), benchCall(callID(m.I)))
		if err != nil {
			fail(err)
			return
		}
		s.keep(browser.Media())
		s.mu.Lock()
		s.browsers = append(s.browsers, browser)
		s.mu.Unlock()
		s.out.send(msg{Op: "bridged", I: m.I})
		leg.Bridge(s.ctx, browser.Media())
	}()
}

func (s *server) answer(m msg) {
	req, _ := json.Marshal(softphone.Request{Op: "answer", Call: m.Call, SDP: m.SDP})
	res, err := s.phone.Signal(s.ctx, 1, req)
	if err != nil {
		s.out.send(msg{Op: "answered", Call: m.Call, Err: err.Error()})
		return
	}
	sdp, _ := res.(map[string]string)
	s.out.send(msg{Op: "answered", Call: m.Call, SDP: sdp["sdp"]})
}

// SendSoftphone passes a ring on to the load process, as the console's
// websocket would to a browser.
func (s *server) SendSoftphone(_ int64, event any) int {
	b, _ := json.Marshal(event)
	var ev struct{ Event, Call string }
	json.Unmarshal(b, &ev)
	if ev.Event == "ring" {
		s.out.send(msg{Op: "ring", Call: ev.Call})
	}
	return 1
}

func (s *server) Connected(int64) bool { return true }

func (s *server) keep(l *media.Leg) {
	s.mu.Lock()
	s.legs = append(s.legs, l)
	s.mu.Unlock()
}

func (s *server) sent() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n uint64
	for _, l := range s.legs {
		n += l.Stats().Sent
	}
	return n
}

func (s *server) dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n uint64
	for _, b := range s.browsers {
		n += b.Dropped()
	}
	return n
}

// benchCall is the call a benchmark caller makes, as the softphone sees it.
type benchCall string

func (c benchCall) ID() string     { return string(c) }
func (c benchCall) Caller() string { return "+375290000000" }

func callID(i int) string { return "bench-" + strconv.Itoa(i) + "@loopback" }
