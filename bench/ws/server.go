package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/morozhq/moroz/console/hub"
)

// publisher is what both hubs offer the benchmark.
type publisher interface {
	http.Handler
	publish(msg []byte)
	close()
}

// runServer serves a hub on a free loopback port, prints its address,
// waits for "go" on stdin, publishes rate events a second for duration,
// then an end message, and exits.
func runServer(kind string, rate int, duration, gather time.Duration, profile string) error {
	var p publisher
	switch kind {
	case "moroz":
		p = newMorozHub(gather, false)
	case "moroz-desk":
		p = newMorozHub(gather, true)
	case "bare":
		p = newBareHub()
	default:
		return fmt.Errorf("unknown hub %q", kind)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: p}
	go srv.Serve(ln)
	fmt.Println("listening", ln.Addr())
	if !bufio.NewScanner(os.Stdin).Scan() {
		return fmt.Errorf("no go from the parent")
	}
	if profile != "" {
		f, err := os.Create(profile + "." + kind)
		if err != nil {
			return err
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	n := publishFor(p, rate, duration)
	p.publish([]byte(`{"v":1,"type":"end"}`))
	time.Sleep(10 * time.Second) // let the writers drain before the clients hang up
	fmt.Println("published", n)
	p.close()
	return srv.Close()
}

// publishFor publishes events at rate for duration, each stamped with the
// time it was published, and returns how many it published.
func publishFor(p publisher, rate int, duration time.Duration) int {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	n := 0
	for now := range tick.C {
		el := now.Sub(start)
		if el >= duration {
			return n
		}
		for due := int(el.Seconds() * float64(rate)); n < due; n++ {
			p.publish(event(n))
		}
	}
	return n
}

func event(seq int) []byte {
	b := make([]byte, 0, 160)
	b = append(b, `{"v":1,"type":"event","event":{"seq":`...)
	b = strconv.AppendInt(b, int64(seq), 10)
	b = append(b, `,"type":"enqueued","queue":"letters","channel":"email","state":"queued","sent":`...)
	b = strconv.AppendInt(b, time.Now().UnixNano(), 10)
	return append(b, `}}`...)
}

// morozHub is console/hub. Every client is on the supervisors' stream
// (the worst case: every event to every client) unless desk is set; then
// client i is helper i, one client in a hundred is a supervisor, and each
// event goes to one helper and the supervisors, as the console sends them.
type morozHub struct {
	h    *hub.Hub
	up   websocket.Upgrader
	desk bool
	n    atomic.Int64 // clients registered
	seq  int64        // events published; only the publisher touches it
}

func newMorozHub(gather time.Duration, desk bool) *morozHub {
	return &morozHub{h: hub.New(hub.Options{Gather: gather}), up: websocket.Upgrader{WriteBufferSize: 16384}, desk: desk}
}

func (m *morozHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, err := m.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	id := m.n.Add(1)
	member := hub.Member{UserID: id, Supervisor: !m.desk || id%100 == 0}
	c, err := m.h.Register(conn, member)
	if err != nil {
		conn.Close()
		return
	}
	c.Serve(r.Context(), func([]byte) error { return nil })
}

func (m *morozHub) publish(msg []byte) {
	if !m.desk || bytes.Contains(msg, []byte(`"type":"end"`)) {
		m.h.Publish(hub.Audience{All: true}, msg)
		return
	}
	m.seq++
	m.h.Publish(hub.Audience{Users: []int64{m.seq%m.n.Load() + 1}, Supervisors: true}, msg)
}

func (m *morozHub) close() { m.h.Close() }
