package mail

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/morozhq/moroz/store"
)

// loggingOutbox stands in for the Outbox where the test needs to see the
// order of letters against pause and resume: it takes each letter and
// reports it sent at once.
type loggingOutbox struct {
	mu  sync.Mutex
	log []string // guarded by mu
	ml  *Mailer
	// after, when set, runs after the n-th letter (1-based).
	after func(n int)
}

func (o *loggingOutbox) Enqueue(m Outgoing) error {
	o.mu.Lock()
	o.log = append(o.log, "letter")
	n := 0
	for _, e := range o.log {
		if e == "letter" {
			n++
		}
	}
	after := o.after
	o.mu.Unlock()
	o.ml.OnDone(m, nil)
	if after != nil {
		after(n)
	}
	return nil
}

func (o *loggingOutbox) note(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.log = append(o.log, s)
}

func TestMailingPauseResume(t *testing.T) {
	const n = 12
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	defer st.Close()
	seedAudience(t, st, n)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	out := &loggingOutbox{}
	progress := make(chan store.Mailing, 256)
	ml, err := NewMailer(MailerOptions{Store: st, Outbox: out, Logger: log, Domain: "moroz.test",
		From:         Address{Addr: "ded-moroz@moroz.test"},
		Unsubscribes: &Unsubscribes{Key: make([]byte, 32), Store: st, Logger: log},
		Progress:     func(m store.Mailing) { progress <- m }})
	if err != nil {
		t.Fatal(err)
	}
	out.ml = ml
	m := newMailing(t, ml, st)
	out.after = func(k int) {
		if k == 5 { // on the runner's goroutine, before its next letter
			out.note("paused")
			if _, err := ml.Pause(ctx, m.ID); err != nil {
				t.Errorf("Pause: %v", err)
			}
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = ml.Run(runCtx) })
	defer func() { cancel(); wg.Wait() }()

	if _, err := ml.Start(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	paused := waitState(t, progress, m.ID, MailingPaused)
	if _, err := ml.Start(ctx, m.ID); err == nil {
		t.Error("Start of a paused mailing: no error")
	}
	out.note("resume")
	if _, err := ml.Resume(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	done := waitState(t, progress, m.ID, MailingDone)

	var want []string
	for i := range n {
		want = append(want, "letter")
		if i == 4 {
			want = append(want, "paused", "resume")
		}
	}
	out.mu.Lock()
	got := append([]string(nil), out.log...)
	out.mu.Unlock()
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("letters against pause and resume (-got +want):\n%s", diff)
	}
	if paused.Sent != 5 || done.Sent != n {
		t.Errorf("sent %d when paused and %d when done, want 5 and %d", paused.Sent, done.Sent, n)
	}
	if _, err := ml.Pause(ctx, m.ID); err == nil {
		t.Error("Pause of a done mailing: no error")
	}
}
