package hub

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Client is one registered websocket. Its methods are safe for concurrent
// use.
type Client struct {
	h      *Hub
	conn   *websocket.Conn
	m      Member
	notify chan struct{} // one token when the queue grew
	done   chan struct{} // closed by Close
	mark   uint64        // guarded by h.mu

	once   sync.Once
	mu     sync.Mutex
	queue  [][]byte // guarded by mu
	spare  [][]byte // guarded by mu; the writer's other queue slice
	code   int      // guarded by mu; the close code, set by Close
	reason string   // guarded by mu
}

// Member returns what the client was registered with.
func (c *Client) Member() Member { return c.m }

// Send queues msg for this client alone, like Publish. It reports false
// when the client is closed or was dropped for it.
func (c *Client) Send(msg []byte) bool { return c.enqueue(msg) }

// SendFirst queues msg ahead of everything queued, for the snapshot that
// must reach the client before the events published since Register.
func (c *Client) SendFirst(msg []byte) bool {
	c.mu.Lock()
	if c.code != 0 {
		c.mu.Unlock()
		return false
	}
	c.queue = append([][]byte{msg}, c.queue...)
	c.mu.Unlock()
	c.wake()
	return true
}

func (c *Client) enqueue(msg []byte) bool {
	c.mu.Lock()
	if c.code != 0 {
		c.mu.Unlock()
		return false
	}
	if len(c.queue) >= c.h.opt.QueueLen {
		c.mu.Unlock()
		c.h.dropped.Add(1)
		c.h.log.Warn("websocket client too slow; dropped", "helper", c.m.UserID, "queued", c.h.opt.QueueLen)
		c.Close(CodeTooSlow, "too slow")
		return false
	}
	first := len(c.queue) == 0
	c.queue = append(c.queue, msg)
	c.mu.Unlock()
	if first { // otherwise the writer was woken for the earlier ones
		c.wake()
	}
	return true
}

func (c *Client) wake() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// Close ends the client: its writer sends what is queued (nothing for
// CodeTooSlow) and a close frame with code and reason, and Serve returns.
// It is idempotent; the first code wins.
func (c *Client) Close(code int, reason string) {
	c.once.Do(func() {
		c.mu.Lock()
		c.code, c.reason = code, reason
		if code == CodeTooSlow {
			c.queue = nil
		}
		c.mu.Unlock()
		close(c.done)
		c.conn.NetConn().SetReadDeadline(time.Now()) // wakes the reader
	})
}

// Serve runs the client until the peer goes, Close is called, ctx ends or
// a write fails, then unregisters it and closes the socket. Each inbound
// text message is passed to onMessage in order; an error from it closes
// the socket with CodeBadProtocol and the error's text.
func (c *Client) Serve(ctx context.Context, onMessage func([]byte) error) error {
	defer c.conn.Close()
	defer c.h.unregister(c)
	stop := context.AfterFunc(ctx, func() { c.Close(websocket.CloseGoingAway, "server stopping") })
	defer stop()

	var wg sync.WaitGroup
	var werr error
	wg.Go(func() {
		werr = c.writeLoop()
		c.Close(websocket.CloseAbnormalClosure, "write failed")
	})
	rerr := c.readLoop(onMessage)
	c.Close(websocket.CloseNormalClosure, "")
	wg.Wait()
	if werr != nil {
		return werr
	}
	return rerr
}

func (c *Client) readLoop(onMessage func([]byte) error) error {
	c.conn.SetReadLimit(c.h.opt.ReadLimit)
	idle := 2 * c.h.opt.PingInterval
	c.conn.SetReadDeadline(time.Now().Add(idle))
	c.conn.SetPongHandler(func(string) error { return c.conn.SetReadDeadline(time.Now().Add(idle)) })
	for {
		kind, data, err := c.conn.ReadMessage()
		if err != nil {
			select {
			case <-c.done:
				return nil
			default:
			}
			if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway) {
				return nil
			}
			return fmt.Errorf("read: %w", err)
		}
		c.conn.SetReadDeadline(time.Now().Add(idle))
		if kind != websocket.TextMessage {
			c.Close(CodeBadProtocol, "text frames only")
			return nil
		}
		if err := onMessage(data); err != nil {
			c.Close(CodeBadProtocol, err.Error())
			return nil
		}
	}
}

func (c *Client) writeLoop() error {
	ping := time.NewTicker(c.h.opt.PingInterval)
	defer ping.Stop()
	var gather *time.Timer
	var last time.Time // the last flush
	if c.h.opt.Gather > 0 {
		gather = time.NewTimer(time.Hour)
		gather.Stop()
	}
	for {
		select {
		case <-c.done:
			c.sayGoodbye()
			return nil
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.h.opt.WriteTimeout)); err != nil {
				return fmt.Errorf("ping: %w", err)
			}
		case <-c.notify:
			if gather != nil && !c.wait(gather, last) {
				c.sayGoodbye()
				return nil
			}
			last = time.Now()
			if err := c.flush(); err != nil {
				return err
			}
		}
	}
}

// wait lets more messages queue until Gather has passed since the last
// flush: a client gets at most one frame per Gather, and a message after a
// quiet spell goes at once. False means the client closed.
func (c *Client) wait(t *time.Timer, last time.Time) bool {
	d := c.h.opt.Gather - time.Since(last)
	if d <= 0 {
		return true
	}
	t.Reset(d)
	select {
	case <-t.C:
		return true
	case <-c.done:
		t.Stop()
		return false
	}
}

// flush writes everything queued as one frame: a lone message as it is,
// several as a JSON array. The queue and the writer's spare slice swap
// places, so a busy client allocates nothing.
func (c *Client) flush() error {
	c.mu.Lock()
	batch := c.queue
	c.queue = c.spare[:0]
	c.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := c.writeFrame(batch)
	clear(batch) // let the messages go
	c.mu.Lock()
	c.spare = batch[:0]
	c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("write %d messages: %w", len(batch), err)
	}
	return nil
}

// writeFrame writes batch as one frame, stopping at the first error: a
// gorilla writer must not be used after one.
func (c *Client) writeFrame(batch [][]byte) error {
	c.conn.SetWriteDeadline(time.Now().Add(c.h.opt.WriteTimeout))
	w, err := c.conn.NextWriter(websocket.TextMessage)
	if err != nil {
		return err
	}
	fw := frameWriter{w: w}
	if len(batch) == 1 {
		fw.write(batch[0])
	} else {
		fw.write(openBracket)
		for i, m := range batch {
			if i > 0 {
				fw.write(comma)
			}
			fw.write(m)
		}
		fw.write(closeBracket)
	}
	if fw.err != nil {
		return fw.err
	}
	return w.Close()
}

// frameWriter keeps the first write error and writes nothing after it.
type frameWriter struct {
	w   io.Writer
	err error
}

func (f *frameWriter) write(b []byte) {
	if f.err == nil {
		_, f.err = f.w.Write(b)
	}
}

var openBracket, comma, closeBracket = []byte{'['}, []byte{','}, []byte{']'}

// sayGoodbye writes what is still queued (a slow client's queue was
// dropped) and the close frame; a peer that is gone already is no error
// worth reporting.
func (c *Client) sayGoodbye() {
	c.mu.Lock()
	code, reason := c.code, c.reason
	c.mu.Unlock()
	if code == websocket.CloseAbnormalClosure {
		return // 1006 must not be sent (RFC 6455 §7.4.1)
	}
	if c.flush() != nil {
		return
	}
	if len(reason) > maxReason {
		reason = reason[:maxReason]
	}
	msg := websocket.FormatCloseMessage(code, reason)
	c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
}

// maxReason is the longest close reason a control frame holds (RFC 6455
// §5.5: 125 bytes of payload, 2 of them the code).
const maxReason = 123
