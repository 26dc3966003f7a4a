package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
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

// serverReport is what the child prints when it has published everything.
type serverReport struct {
	Published int `json:"published"`
}

// runServer serves a hub on a free loopback port, prints its address,
// waits for "go" on stdin, publishes rate events a second for duration,
// then an end message, and exits.
func runServer(kind string, rate int, duration, gather time.Duration) error {
	var p publisher
	switch kind {
	case "moroz":
		p = newMorozHub(gather)
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
	n := publishFor(p, rate, duration)
	p.publish([]byte(`{"v":1,"type":"end"}`))
	time.Sleep(10 * time.Second) // let the writers drain before the clients hang up
	out, _ := json.Marshal(serverReport{Published: n})
	fmt.Println(string(out))
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

// morozHub is console/hub with every client on the supervisors' stream:
// the worst case, where every event goes to every client.
type morozHub struct {
	h  *hub.Hub
	up websocket.Upgrader
}

func newMorozHub(gather time.Duration) *morozHub {
	return &morozHub{h: hub.New(hub.Options{Gather: gather}), up: websocket.Upgrader{WriteBufferSize: 16384}}
}

func (m *morozHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, err := m.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c, err := m.h.Register(conn, hub.Member{UserID: 1, Supervisor: true})
	if err != nil {
		conn.Close()
		return
	}
	c.Serve(r.Context(), func([]byte) error { return nil })
}

func (m *morozHub) publish(msg []byte) { m.h.Publish(hub.Audience{Supervisors: true}, msg) }
func (m *morozHub) close()             { m.h.Close() }
