package mail

import (
	"bytes"
	"net"
	"sync"
	"time"
)

// heldMax is how many bytes of replies a connection holds before it writes
// them whatever the client does.
const heldMax = 4 << 10

// pipelineListener hands go-smtp connections that hold their replies (see
// pipelinedConn).
type pipelineListener struct{ net.Listener }

func (l pipelineListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &pipelinedConn{Conn: c}, nil
}

// pipelinedConn holds the server's replies until it reads again, so the
// replies to a group of pipelined commands (MAIL, RCPT, DATA) leave as one
// unit, as RFC 2920 §3.2 asks of a server, instead of a write and a
// segment each: go-smtp flushes after every reply. Held replies are
// written before every read, which is before the server can wait for the
// client, and before the connection closes, so a client waiting for a
// reply never waits longer for it. DATA's 354, which §3.2 forbids to
// hold, goes at once with those before it, even when the client sent its
// letter early (in clear only: under STARTTLS the replies are records,
// written at the next read). A client sending one command at a time sees
// no change.
// The first failed write fails the writes after it.
type pipelinedConn struct {
	net.Conn

	mu   sync.Mutex // held while writing to Conn
	held []byte     // guarded by mu: replies not yet written
	err  error      // guarded by mu: the first failed write
}

func (c *pipelinedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.held)+len(p) > heldMax {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	if c.err != nil {
		return 0, c.err
	}
	c.held = append(c.held, p...)
	if bytes.HasPrefix(p, dataReply) {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// dataReply begins the reply to DATA that asks for the letter.
var dataReply = []byte("354 ")

func (c *pipelinedConn) Read(p []byte) (int, error) {
	if err := c.flush(); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

// SetWriteDeadline first writes what is held when t has passed: a caller
// that stops writes so (crypto/tls after its close_notify alert) meant
// the bytes before to leave.
func (c *pipelinedConn) SetWriteDeadline(t time.Time) error {
	c.flushBefore(t)
	return c.Conn.SetWriteDeadline(t)
}

// SetDeadline is SetWriteDeadline for reads and writes.
func (c *pipelinedConn) SetDeadline(t time.Time) error {
	c.flushBefore(t)
	return c.Conn.SetDeadline(t)
}

func (c *pipelinedConn) flushBefore(deadline time.Time) {
	if !deadline.IsZero() && !deadline.After(time.Now()) {
		_ = c.flush() // the error stays for the next write
	}
}

// Close writes what is held (a QUIT's 221) and closes the connection.
func (c *pipelinedConn) Close() error {
	_ = c.flush() // a client that went away cannot be told
	return c.Conn.Close()
}

func (c *pipelinedConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flushLocked()
}

func (c *pipelinedConn) flushLocked() error {
	if c.err != nil || len(c.held) == 0 {
		return c.err
	}
	_, c.err = c.Conn.Write(c.held)
	c.held = c.held[:0]
	return c.err
}
