package main

import (
	"bytes"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// bucket is the histogram's resolution; latencies beyond the last bucket
// count in it.
const (
	bucket  = 500 * time.Microsecond
	buckets = 20000 // 10 s
)

// fleet is the benchmark's clients.
type fleet struct {
	wg      sync.WaitGroup
	clients []*client
}

type client struct {
	conn  *websocket.Conn
	hist  []int64 // latency histogram
	n     int64   // events received
	ended bool    // got the end message
	max   time.Duration
}

// dialAll connects n clients to addr and starts their readers.
func dialAll(addr string, n int) (*fleet, error) {
	f := &fleet{}
	d := websocket.Dialer{ReadBufferSize: 16384, HandshakeTimeout: 30 * time.Second}
	for i := range n {
		conn, _, err := d.Dial("ws://"+addr+"/", nil)
		if err != nil {
			return nil, fmt.Errorf("client %d: %w", i, err)
		}
		c := &client{conn: conn, hist: make([]int64, buckets)}
		f.clients = append(f.clients, c)
		f.wg.Go(c.read)
	}
	return f, nil
}

var sentKey = []byte(`"sent":`)

// read records the latency of every event until the end message or the
// socket closes.
func (c *client) read() {
	defer c.conn.Close()
	var buf bytes.Buffer
	for {
		_, r, err := c.conn.NextReader()
		if err != nil {
			return
		}
		buf.Reset()
		if _, err := buf.ReadFrom(r); err != nil {
			return
		}
		b := buf.Bytes()
		now := time.Now().UnixNano()
		if bytes.Contains(b, []byte(`"type":"end"`)) {
			c.ended = true
			c.count(b, now)
			return
		}
		c.count(b, now)
	}
}

// count finds each "sent" stamp in a frame (one event or an array).
func (c *client) count(b []byte, now int64) {
	for {
		i := bytes.Index(b, sentKey)
		if i < 0 {
			return
		}
		b = b[i+len(sentKey):]
		j := bytes.IndexAny(b, "}")
		sent, err := strconv.ParseInt(string(b[:j]), 10, 64)
		if err != nil {
			return
		}
		lat := time.Duration(now - sent)
		c.max = max(c.max, lat)
		c.hist[min(int(lat/bucket), buckets-1)]++
		c.n++
	}
}

func (f *fleet) wait() { f.wg.Wait() }

// result merges the clients' histograms; a client that did not get the end
// message was dropped.
func (f *fleet) result() result {
	var r result
	all := make([]int64, buckets)
	var total int64
	for _, c := range f.clients {
		if !c.ended {
			r.dropped++
			continue
		}
		for i, v := range c.hist {
			all[i] += v
			total += v
		}
		r.max = max(r.max, c.max)
	}
	r.events = total
	r.p50, r.p99 = quantile(all, total, 0.50), quantile(all, total, 0.99)
	return r
}

func quantile(hist []int64, total int64, q float64) time.Duration {
	want := int64(float64(total) * q)
	var seen int64
	for i, v := range hist {
		seen += v
		if seen > want {
			return time.Duration(i+1) * bucket
		}
	}
	return time.Duration(len(hist)) * bucket
}
