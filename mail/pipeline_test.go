package mail

import (
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// writesConn is a net.Conn that records each write and reads from in.
type writesConn struct {
	net.Conn // nil: only Read, Write and Close are used
	in       string
	writes   []string
	failing  bool
	closed   bool
}

func (c *writesConn) Write(p []byte) (int, error) {
	if c.failing {
		return 0, errors.New("peer gone")
	}
	c.writes = append(c.writes, string(p))
	return len(p), nil
}

func (c *writesConn) Read(p []byte) (int, error) {
	n := copy(p, c.in)
	c.in = c.in[n:]
	return n, nil
}

func (c *writesConn) SetWriteDeadline(time.Time) error { return nil }

func (c *writesConn) Close() error {
	c.closed = true
	return nil
}

func TestPipelinedConnHoldsRepliesUntilRead(t *testing.T) {
	raw := &writesConn{in: "DATA\r\n"}
	c := &pipelinedConn{Conn: raw}
	for _, reply := range []string{"250 mail\r\n", "250 rcpt\r\n"} {
		if _, err := c.Write([]byte(reply)); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	if len(raw.writes) != 0 {
		t.Fatalf("written before the next read: %q", raw.writes)
	}
	buf := make([]byte, 64)
	if _, err := c.Read(buf); err != nil {
		t.Fatalf("Read: %v", err)
	}
	if _, err := c.Write([]byte("221 bye\r\n")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	want := []string{"250 mail\r\n250 rcpt\r\n", "221 bye\r\n"}
	if diff := cmp.Diff(want, raw.writes); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
	if !raw.closed {
		t.Error("connection not closed")
	}
}

// TestPipelinedConnWritesBeforeAPastDeadline: crypto/tls writes its
// close_notify alert and then sets the write deadline to now; the alert
// and the reply before it must leave before that deadline.
func TestPipelinedConnWritesBeforeAPastDeadline(t *testing.T) {
	raw := &writesConn{}
	c := &pipelinedConn{Conn: raw}
	if _, err := c.Write([]byte("221 bye\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := c.SetWriteDeadline(time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if len(raw.writes) != 0 {
		t.Fatalf("written at a future deadline: %q", raw.writes)
	}
	if err := c.SetWriteDeadline(time.Now()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"221 bye\r\n"}, raw.writes); diff != "" {
		t.Errorf("writes at a past deadline (-want +got):\n%s", diff)
	}
}

// TestPipelinedConnSendsDataReplyAtOnce: RFC 2920 §3.2 forbids holding
// DATA's reply; it leaves with the replies held before it.
func TestPipelinedConnSendsDataReplyAtOnce(t *testing.T) {
	raw := &writesConn{}
	c := &pipelinedConn{Conn: raw}
	for _, reply := range []string{"250 mail\r\n", "250 rcpt\r\n", "354 go ahead\r\n"} {
		if _, err := c.Write([]byte(reply)); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]string{"250 mail\r\n250 rcpt\r\n354 go ahead\r\n"}, raw.writes); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
}

func TestPipelinedConnBoundsWhatItHolds(t *testing.T) {
	raw := &writesConn{}
	c := &pipelinedConn{Conn: raw}
	line := strings.Repeat("x", 1000) + "\r\n"
	for range 5 {
		if _, err := c.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if len(raw.writes) != 1 || len(raw.writes[0]) > heldMax {
		t.Errorf("writes of %d bytes held: got %d writes (first %d bytes), want one of at most %d",
			5*len(line), len(raw.writes), len(raw.writes[0]), heldMax)
	}
}

func TestPipelinedConnFailsAfterAFailedWrite(t *testing.T) {
	raw := &writesConn{failing: true}
	c := &pipelinedConn{Conn: raw}
	if _, err := c.Write([]byte("250 ok\r\n")); err != nil {
		t.Fatalf("Write held: %v", err)
	}
	if _, err := c.Read(make([]byte, 8)); err == nil {
		t.Fatal("Read after a failed write of the held reply: got nil error")
	}
	if _, err := c.Write([]byte("250 ok\r\n")); err == nil {
		t.Error("Write after a failed write: got nil error")
	}
}

// TestSwaksPipelined sends with swaks grouping MAIL, RCPT and DATA (RFC
// 2920), as mail servers do: the letter is taken.
func TestSwaksPipelined(t *testing.T) {
	swaksPath(t)
	r := newRig(t, nil)
	out, failed := r.swaks("kid@example.org", "ded@moroz.test",
		filepath.Join("testdata", "letters", "plain-utf8.eml"), "--pipeline")
	if failed || !strings.Contains(out, "<-  250") {
		t.Fatalf("swaks --pipeline failed:\n%s", out)
	}
	if it := r.onlyItem(); it.Subject != "Письмо Деду Морозу" {
		t.Errorf("subject = %q, want the letter's", it.Subject)
	}
}
