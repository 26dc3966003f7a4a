package mail

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/morozhq/moroz/store"
)

// A mailing scheduled for later sends nothing before its time and
// everything after, at its rate: under synctest, so the hour passes at
// once.
func TestMailingScheduleAndRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		st, err := store.Open(ctx, store.Config{DataDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		seedAudience(t, st, 6)
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		out := &loggingOutbox{}
		ml, err := NewMailer(MailerOptions{Store: st, Outbox: out, Logger: log, Domain: "moroz.test",
			From:         Address{Addr: "ded-moroz@moroz.test"},
			Unsubscribes: &Unsubscribes{Key: make([]byte, 32), Store: st, Logger: log}})
		if err != nil {
			t.Fatal(err)
		}
		out.ml = ml
		tp, err := st.PutTemplate(ctx, store.Template{Name: "g", Body: "{{name}}"})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now().Add(time.Hour)
		m, err := ml.Create(ctx, Draft{Name: "later", TemplateID: tp.ID, RatePerMin: 2, ScheduledAt: start,
			Audience: Audience{Since: time.Now().Add(-24 * time.Hour * 365 * 100)}})
		if err != nil {
			t.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { _ = ml.Run(runCtx) })
		if _, err := ml.Start(ctx, m.ID); err != nil {
			t.Fatal(err)
		}
		letters := func() int {
			synctest.Wait()
			out.mu.Lock()
			defer out.mu.Unlock()
			return len(out.log)
		}
		time.Sleep(time.Until(start) - time.Second)
		if got := letters(); got != 0 {
			t.Errorf("%d letters a second before the start, want 0", got)
		}
		time.Sleep(time.Second + time.Millisecond)
		if got := letters(); got != 1 {
			t.Errorf("%d letters at the start, want 1", got)
		}
		time.Sleep(30 * time.Second) // 2 a minute: the next one
		if got := letters(); got != 2 {
			t.Errorf("%d letters 30 s after the start, want 2", got)
		}
		time.Sleep(2 * time.Minute)
		if got := letters(); got != 6 {
			t.Errorf("%d letters after 2.5 minutes, want all 6", got)
		}
		cancel()
		wg.Wait()
	})
}
