// Package mailbench measures the SMTP intake of package mail end to end:
// letters sent over loopback by 32 SMTP connections, each stored durably in
// the embedded SQLite store (raw letter fsynced, contact, item, message)
// with its auto-reply stored and queued in the store's outbox, before the
// 250. The clients send one command at a time (client=lockstep) or
// pipeline MAIL, RCPT and DATA as mail servers do (client=pipelined).
//
//	go test -run '^$' -bench 'SMTPIntake/autoreply=true' -benchtime 16000x -count 3 ./bench/mail/
package mailbench

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/mail"
	"github.com/morozhq/moroz/store"
)

// conns is how many SMTP connections send at once, as issue #7 asks.
const conns = 32

// sender sends letters over one connection until n have been taken by
// all connections together.
type sender func(b *testing.B, addr string, conn int, next *atomic.Int64, n int64)

// senders are the two ways a client may send: go-smtp's client, one
// command and its reply at a time, and pipelining (RFC 2920) as mail
// servers such as Postfix do, MAIL, RCPT and DATA in one write.
var senders = []struct {
	name string
	send sender
}{
	{"lockstep", sendUntil},
	{"pipelined", sendPipelined},
}

func BenchmarkSMTPIntake(b *testing.B) {
	for _, autoReply := range []bool{true, false} {
		for _, s := range senders {
			b.Run(fmt.Sprintf("autoreply=%v/client=%s", autoReply, s.name), func(b *testing.B) {
				intake(b, autoReply, s.send)
			})
		}
	}
}

func intake(b *testing.B, autoReply bool, send sender) {
	dir := b.TempDir()
	st, err := store.Open(context.Background(), store.Config{DataDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	log := slog.New(slog.DiscardHandler)
	// Not run: auto-replies stay queued, in the store's outbox.
	out := mail.NewStoredOutbox(nil, st, mail.OutboxConfig{}, log)
	srv, err := mail.NewServer(mail.Config{
		DataDir:   dir,
		Domains:   []string{"moroz.test"},
		AutoReply: mail.AutoReplyConfig{Enabled: autoReply},
	}, mail.ServerOptions{Store: st, Intake: mail.IntakeFunc(st.FileItem), Outbox: out, Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	addr := serve(b, srv)

	var next atomic.Int64
	b.ResetTimer()
	cpu0 := cpuTime(b)
	start := time.Now()
	var wg sync.WaitGroup
	for c := range conns {
		wg.Go(func() { send(b, addr, c, &next, int64(b.N)) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime(b) - cpu0
	b.StopTimer()

	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "letters/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/letter")
	want := 0
	if autoReply {
		want = b.N
	}
	if got := pendingOut(b, st); got != want {
		b.Errorf("auto-replies queued = %d, want %d", got, want)
	}
}

// pendingOut counts the letters waiting in the store's outbox.
func pendingOut(b *testing.B, st store.Store) int {
	n := 0
	for after := int64(0); ; {
		ls, err := st.PendingOut(context.Background(), acd.Email, after, 1000)
		if err != nil {
			b.Fatal(err)
		}
		if len(ls) == 0 {
			return n
		}
		n += len(ls)
		after = ls[len(ls)-1].ID
	}
}

// cpuTime is the CPU time this process (server and clients) has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serve runs srv on a free loopback port until the benchmark ends.
func serve(b *testing.B, srv *mail.Server) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.Serve(ctx, ln) })
	b.Cleanup(func() {
		cancel()
		wg.Wait()
		srv.Close()
	})
	return ln.Addr().String()
}

// sendUntil sends letters over one connection, each with its own sender
// and Message-ID, until n have been taken by all connections together.
func sendUntil(b *testing.B, addr string, conn int, next *atomic.Int64, n int64) {
	c, err := smtp.Dial(addr)
	if err != nil {
		b.Error(err)
		return
	}
	defer c.Close()
	for i := next.Add(1); i <= n; i = next.Add(1) {
		from := fmt.Sprintf("kid%d@example.org", i)
		if err := c.SendMail(from, []string{"ded@moroz.test"}, bytes.NewReader(letter(i, conn, from))); err != nil {
			b.Errorf("letter %d: %v", i, err)
			return
		}
	}
	_ = c.Quit()
}

// sendPipelined is sendUntil with MAIL, RCPT and DATA sent together and
// their replies read after, then the letter; the server advertises
// PIPELINING.
func sendPipelined(b *testing.B, addr string, conn int, next *atomic.Int64, n int64) {
	c, err := textproto.Dial("tcp", addr)
	if err != nil {
		b.Error(err)
		return
	}
	defer c.Close()
	if _, _, err := c.ReadResponse(220); err != nil {
		b.Error(err)
		return
	}
	if _, err := c.Cmd("EHLO client.example.org"); err != nil {
		b.Error(err)
		return
	}
	if _, msg, err := c.ReadResponse(250); err != nil || !strings.Contains(msg, "PIPELINING") {
		b.Errorf("EHLO: %q, %v: no PIPELINING", msg, err)
		return
	}
	for i := next.Add(1); i <= n; i = next.Add(1) {
		from := fmt.Sprintf("kid%d@example.org", i)
		if err := pipelineLetter(c, from, letter(i, conn, from)); err != nil {
			b.Errorf("letter %d: %v", i, err)
			return
		}
	}
	_, _ = c.Cmd("QUIT")
}

func pipelineLetter(c *textproto.Conn, from string, body []byte) error {
	fmt.Fprintf(c.W, "MAIL FROM:<%s>\r\nRCPT TO:<ded@moroz.test>\r\nDATA\r\n", from)
	if err := c.W.Flush(); err != nil {
		return err
	}
	for _, code := range []int{250, 250, 354} {
		if _, _, err := c.ReadResponse(code); err != nil {
			return err
		}
	}
	dw := c.DotWriter()
	if _, err := dw.Write(body); err != nil {
		return err
	}
	if err := dw.Close(); err != nil {
		return err
	}
	_, _, err := c.ReadResponse(250)
	return err
}

func letter(i int64, conn int, from string) []byte {
	return fmt.Appendf(nil, "From: Ребёнок %d <%s>\r\nTo: Дед Мороз <ded@moroz.test>\r\n"+
		"Subject: Письмо номер %d\r\nMessage-ID: <bench-%d-%d@example.org>\r\n"+
		"Date: Wed, 24 Dec 2026 10:00:00 +0300\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"+
		"Дорогой Дедушка Мороз!\r\nЯ весь год хорошо себя вёл. Принеси мне, пожалуйста,\r\n"+
		"велосипед, санки и книжку про зиму.\r\n", i, from, i, i, conn)
}
