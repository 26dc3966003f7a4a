package store_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/store/pgtest"
)

// BenchmarkOutboxSend measures what the store does for each message a
// sender sends, on both backends: "mark" is the old path (the row was
// handed over in memory, only the attempt is recorded), "claim16" claims
// up to 16 rows at once then marks each (the mail outbox polling),
// "inorder" claims the oldest row of each of 16 chats then marks each (the
// Telegram sender). It reports rows per second and the benchmark
// process's CPU per row (PostgreSQL's own CPU is not in it).
func BenchmarkOutboxSend(b *testing.B) {
	backends := []struct {
		name string
		cfg  func(b *testing.B) store.Config
	}{
		{"sqlite", func(b *testing.B) store.Config { return store.Config{DataDir: b.TempDir()} }},
		{"postgres", func(b *testing.B) store.Config { return store.Config{DB: pgtest.URL(b)} }},
	}
	for _, be := range backends {
		for _, mode := range []string{"mark", "claim16", "inorder"} {
			b.Run(be.name+"/"+mode, func(b *testing.B) {
				s, err := store.Open(b.Context(), be.cfg(b))
				if err != nil {
					b.Fatalf("open: %v", err)
				}
				defer s.Close()
				ls := queueBench(b, s, b.N, mode == "inorder")
				cpu := cpuNanos()
				b.ResetTimer()
				sendBench(b, s, mode, ls)
				b.StopTimer()
				b.ReportMetric(float64(cpuNanos()-cpu)/1e3/float64(b.N), "cpu-µs/row")
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			})
		}
	}
}

// queueBench stores n due rows, 500 per commit; telegram rows go to 16
// chats in turn.
func queueBench(b *testing.B, s store.Store, n int, telegram bool) []store.OutLetter {
	var all []store.OutLetter
	for start := 0; start < n; start += 500 {
		var out []store.OutLetter
		for i := start; i < min(n, start+500); i++ {
			l := store.OutLetter{MessageID: fmt.Sprintf("bench-%d@moroz.test", i), To: []string{"kid@example.org"},
				Raw: []byte("Subject: hi\r\n\r\nhello\r\n")}
			if telegram {
				l.Channel, l.To = acd.Telegram, []string{fmt.Sprint(i % 16)}
				l.Raw = []byte(`{"chat_id":1,"text":"hello"}`)
			}
			out = append(out, l)
		}
		filed, err := s.FileLetter(context.Background(), nil, out)
		if err != nil {
			b.Fatal(err)
		}
		all = append(all, filed.Out...)
	}
	return all
}

// sendBench marks every row of ls sent, claiming them first unless mode
// is "mark".
func sendBench(b *testing.B, s store.Store, mode string, ls []store.OutLetter) {
	ctx := context.Background()
	mark := func(l store.OutLetter) {
		l.State, l.Attempts = store.OutSent, 1
		if err := s.MarkOut(ctx, l); err != nil {
			b.Fatal(err)
		}
	}
	if mode == "mark" {
		for _, l := range ls {
			mark(l)
		}
		return
	}
	c := store.OutClaim{Claimant: "bench", Lease: time.Minute, Limit: 16}
	if mode == "inorder" {
		c.Channel, c.InOrder = acd.Telegram, true
	}
	for done := 0; done < len(ls); {
		got, err := s.ClaimOut(ctx, c)
		if err != nil || len(got) == 0 {
			b.Fatalf("claim after %d of %d rows: got %d (error %v)", done, len(ls), len(got), err)
		}
		for _, l := range got {
			mark(l)
		}
		done += len(got)
	}
}

// cpuNanos is the CPU time, user and system, the process has used.
func cpuNanos() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkOutboxClaimBig claims the oldest pending reply of each of 100
// chats (a Telegram sender's claim) out of 20,000 pending rows for 300
// chats, and releases them again, per op: the cost of a claim on a large
// outbox.
func BenchmarkOutboxClaimBig(b *testing.B) {
	for _, be := range []struct {
		name string
		cfg  func(b *testing.B) store.Config
	}{
		{"sqlite", func(b *testing.B) store.Config { return store.Config{DataDir: b.TempDir()} }},
		{"postgres", func(b *testing.B) store.Config { return store.Config{DB: pgtest.URL(b)} }},
	} {
		b.Run(be.name, func(b *testing.B) {
			s, err := store.Open(b.Context(), be.cfg(b))
			if err != nil {
				b.Fatalf("open: %v", err)
			}
			defer s.Close()
			ctx := context.Background()
			for start := 0; start < 20000; start += 500 {
				var out []store.OutLetter
				for i := start; i < start+500; i++ {
					out = append(out, store.OutLetter{Channel: acd.Telegram, MessageID: fmt.Sprintf("big-%d", i),
						To: []string{fmt.Sprint(i % 300)}, Raw: []byte(`{"chat_id":1,"text":"hello"}`)})
				}
				if _, err := s.FileLetter(ctx, nil, out); err != nil {
					b.Fatal(err)
				}
			}
			c := store.OutClaim{Channel: acd.Telegram, Claimant: "bench", Lease: time.Minute, Limit: 100, InOrder: true}
			b.ResetTimer()
			for b.Loop() {
				got, err := s.ClaimOut(ctx, c)
				if err != nil || len(got) != 100 {
					b.Fatalf("claim: got %d rows (error %v), want 100", len(got), err)
				}
				if err := s.ReleaseOut(ctx, "bench"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
