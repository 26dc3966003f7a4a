package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/go-cmp/cmp"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func letterFor(id string) Outgoing {
	return Outgoing{MessageID: id, From: "ded@moroz.test", To: []string{"kid@example.org"},
		Raw: []byte("Subject: hi\r\n\r\nhello\r\n")}
}

// runOutbox runs o until the test ends.
func runOutbox(t *testing.T, o *Outbox) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = o.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
}

func TestOutboxBackoff(t *testing.T) {
	tests := []struct {
		name      string
		failures  []error // what the first sends return; the rest succeed
		wantTries int
		wantGaps  []time.Duration
		wantErr   bool
	}{
		{"first try", nil, 1, nil, false},
		{"two transient failures", []error{errors.New("busy"), errors.New("busy")}, 3,
			[]time.Duration{time.Minute, 2 * time.Minute}, false},
		{"permanent failure", []error{&PermanentError{errors.New("550 no such user")}}, 1, nil, true},
		{"gives up after max attempts",
			[]error{errors.New("a"), errors.New("b"), errors.New("c"), errors.New("d")}, 3,
			[]time.Duration{time.Minute, 2 * time.Minute}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var mu sync.Mutex
				var tries []time.Time
				send := senderFunc(func(context.Context, Outgoing) error {
					mu.Lock()
					defer mu.Unlock()
					tries = append(tries, time.Now())
					if n := len(tries); n <= len(tt.failures) {
						return tt.failures[n-1]
					}
					return nil
				})
				done := make(chan error, 1)
				o := NewOutbox(send, OutboxConfig{
					MaxAttempts: 3, Backoff: time.Minute, MaxBackoff: 10 * time.Minute,
					Done: func(_ Outgoing, err error) { done <- err },
				}, discard())
				runOutbox(t, o)
				if err := o.Enqueue(letterFor("a@moroz.test")); err != nil {
					t.Fatal(err)
				}
				err := <-done
				if (err != nil) != tt.wantErr {
					t.Errorf("Done error = %v, want error %v", err, tt.wantErr)
				}
				mu.Lock()
				defer mu.Unlock()
				if len(tries) != tt.wantTries {
					t.Fatalf("tries = %d, want %d", len(tries), tt.wantTries)
				}
				var gaps []time.Duration
				for i := 1; i < len(tries); i++ {
					gaps = append(gaps, tries[i].Sub(tries[i-1]))
				}
				if diff := cmp.Diff(tt.wantGaps, gaps); diff != "" {
					t.Errorf("gaps between tries (-want +got):\n%s", diff)
				}
				if p := o.Pending(); p != 0 {
					t.Errorf("Pending = %d after Done, want 0", p)
				}
			})
		})
	}
}

func TestOutboxBackoffDoubling(t *testing.T) {
	o := NewOutbox(nil, OutboxConfig{Backoff: time.Second, MaxBackoff: 5 * time.Second}, discard())
	var got []time.Duration
	for n := 1; n <= 5; n++ {
		got = append(got, o.backoff(n))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("backoff (-want +got):\n%s", diff)
	}
}

func TestOutboxRefusesBadLetters(t *testing.T) {
	o := NewOutbox(nil, OutboxConfig{}, discard())
	if err := o.Enqueue(Outgoing{MessageID: "x"}); err == nil {
		t.Error("Enqueue without recipient: got nil error")
	}
}

func TestOutboxClosed(t *testing.T) {
	o := NewOutbox(senderFunc(func(context.Context, Outgoing) error { return nil }), OutboxConfig{}, discard())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := o.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if err := o.Enqueue(letterFor("late@moroz.test")); !errors.Is(err, ErrOutboxClosed) {
		t.Errorf("Enqueue after Run = %v, want ErrOutboxClosed", err)
	}
}

func TestRelayDeliversReply(t *testing.T) {
	s := newSink(t, nil, nil)
	relay, err := NewRelay(RelayConfig{Addr: s.addr, Helo: "moroz.test"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	o := NewOutbox(relay, OutboxConfig{Done: func(_ Outgoing, err error) { done <- err }}, discard())
	runOutbox(t, o)

	out, err := Compose(Reply{
		From: Address{Name: "Дед Мороз", Addr: "ded@moroz.test"}, To: Address{Name: "Маша", Addr: "masha@example.ru"},
		Subject: "Re: Письмо", Text: "Здравствуй, Маша!\n", InReplyTo: "plain-1@example.ru",
		References: []string{"root@example.ru"}, Auto: true,
	}, "moroz.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Enqueue(out); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Done: %v", err)
	}
	got := <-s.got
	if got.from != "" || !cmp.Equal(got.to, []string{"masha@example.ru"}) {
		t.Errorf("envelope %q -> %q, want the null path to masha@example.ru", got.from, got.to)
	}
	l, err := Parse(bytes.NewReader(got.data), "")
	if err != nil {
		t.Fatal(err)
	}
	gotHdr := []any{l.MessageID, l.InReplyTo, l.References, l.AutoSubmitted, l.Subject, l.Text, l.From}
	wantHdr := []any{out.MessageID, []string{"plain-1@example.ru"},
		[]string{"root@example.ru", "plain-1@example.ru"}, "auto-replied", "Re: Письмо", "Здравствуй, Маша!",
		Address{Name: "Дед Мороз", Addr: "ded@moroz.test"}}
	if diff := cmp.Diff(wantHdr, gotHdr); diff != "" {
		t.Errorf("delivered letter (-want +got):\n%s", diff)
	}
}

func TestRelayStartTLSAndAuth(t *testing.T) {
	cert, pool, _, _ := selfSigned(t)
	s := newSink(t, &tls.Config{Certificates: []tls.Certificate{cert}}, func(s *sink) {
		s.user, s.pass = "moroz", "secret"
	})
	relay, err := NewRelay(RelayConfig{Addr: s.addr, StartTLS: true, Username: "moroz", Password: "secret",
		TLS: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := relay.Send(context.Background(), letterFor("tls@moroz.test")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := <-s.got; !got.tls || !got.auth {
		t.Errorf("delivered with TLS %v, auth %v; want both", got.tls, got.auth)
	}

	bad, err := NewRelay(RelayConfig{Addr: s.addr, StartTLS: true, Username: "moroz", Password: "wrong",
		TLS: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	var perm *PermanentError
	if err := bad.Send(context.Background(), letterFor("bad@moroz.test")); !errors.As(err, &perm) {
		t.Errorf("Send with a wrong password = %v, want a PermanentError", err)
	}
}

func TestRelayClassifies(t *testing.T) {
	tests := []struct {
		name      string
		reject    *smtp.SMTPError
		permanent bool
	}{
		{"5xx is permanent", &smtp.SMTPError{Code: 550, Message: "no such user"}, true},
		{"4xx is transient", &smtp.SMTPError{Code: 451, Message: "try later"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSink(t, nil, func(s *sink) { s.reject = tt.reject })
			relay, err := NewRelay(RelayConfig{Addr: s.addr})
			if err != nil {
				t.Fatal(err)
			}
			err = relay.Send(context.Background(), letterFor("x@moroz.test"))
			var perm *PermanentError
			if err == nil || errors.As(err, &perm) != tt.permanent {
				t.Errorf("Send = %v, want permanent %v", err, tt.permanent)
			}
		})
	}
	relay, err := NewRelay(RelayConfig{Addr: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	var perm *PermanentError
	if err := relay.Send(context.Background(), letterFor("y@moroz.test")); err == nil || errors.As(err, &perm) {
		t.Errorf("Send to a closed port = %v, want a transient error", err)
	}
}

func TestComposeRefuses(t *testing.T) {
	if _, err := Compose(Reply{From: Address{Addr: "ded@moroz.test"}, To: Address{Addr: "nobody"}}, "moroz.test"); err == nil {
		t.Error("Compose to a non-address: got nil error")
	}
}
