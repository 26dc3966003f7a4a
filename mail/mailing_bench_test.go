package mail

import (
	"context"
	"testing"

	"github.com/morozhq/moroz/store"
)

// BenchmarkMailing14000 renders and hands 14,000 personalised letters to
// an in-process SMTP relay over the real SQLite store: from Start (the
// audience resolved into recipients) until the last letter is marked sent.
// Run it with -benchtime=1x; the store is seeded outside the timing.
func BenchmarkMailing14000(b *testing.B) {
	const n = 14000
	for b.Loop() {
		b.StopTimer()
		st, err := store.Open(context.Background(), store.Config{DataDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		seedAudience(b, st, n)
		sink := newCountSink(b)
		progress := make(chan store.Mailing, 1<<16)
		mr := startMailRun(b, st, sink.addr, func(m store.Mailing) { progress <- m })
		m := newMailing(b, mr.ml, st)
		b.StartTimer()

		if _, err := mr.ml.Start(context.Background(), m.ID); err != nil {
			b.Fatal(err)
		}
		for p := range progress {
			if p.ID == m.ID && p.State == MailingDone {
				break
			}
		}

		b.StopTimer()
		mr.stop(b)
		got := 0
		for _, c := range sink.counts() {
			got += c
		}
		if got != n {
			b.Fatalf("sink got %d letters, want %d", got, n)
		}
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n), "letters/op")
}
