package ari_test

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/sip/ari"
	"github.com/morozhq/moroz/sip/ari/aritest"
	"github.com/morozhq/moroz/sip/media"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/voice"
	"github.com/morozhq/moroz/voicemail"
	"github.com/morozhq/moroz/work"
)

// awaitTimeout guards every wait of a test: a scenario that hangs fails
// instead of running until the test binary's deadline.
const awaitTimeout = 30 * time.Second

// rig is Moroz in Asterisk mode against the fake ARI: a SQLite store in
// a temporary folder, the work service, the voice flow and the Stasis
// app, with the app's event loop running until the test ends.
type rig struct {
	fake   *aritest.Server
	dir    string // the data folder
	client *ari.Client
	app    *ari.App
	st     store.Store
	work   *work.Service
	ended  chan string // channel ids of calls whose flow returned
	events chan acd.Event
}

func testLogger() *slog.Logger {
	if os.Getenv("MOROZ_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{fake: aritest.New(t, aritest.Options{}), ended: make(chan string, 16), events: make(chan acd.Event, 1024)}
	dir, log := t.TempDir(), testLogger()
	r.dir = dir
	r.openWork(t, dir, log)
	var flow *voice.Flow // set below: the flow needs the app's dialer
	user, pass := r.fake.Credentials()
	var err error
	r.client, err = ari.NewClient(ari.ClientConfig{URL: r.fake.URL(), User: user, Password: pass, App: "moroz"})
	if err != nil {
		t.Fatal(err)
	}
	ports, err := media.NewPortRange(netip.MustParseAddr("127.0.0.1"), 30000, 39998)
	if err != nil {
		t.Fatal(err)
	}
	r.app, err = ari.New(ari.Options{Client: r.client, Ports: ports, ExternalHost: netip.MustParseAddr("127.0.0.1"),
		Work: r.work, Store: r.st, MinBackoff: 20 * time.Millisecond, Logger: log,
		Handler:   func(ctx context.Context, c voice.Call) { flow.Handle(ctx, c) },
		CallEnded: func(id string) { r.ended <- id }})
	if err != nil {
		t.Fatal(err)
	}
	flow = r.voiceFlow(t, dir, log)
	r.run(t)
	return r
}

// openWork opens the store and the work service, and follows the
// router's events.
func (r *rig) openWork(t *testing.T, dir string, log *slog.Logger) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r.st = st
	r.work, err = work.New(ctx, work.Options{Store: st, Logger: log, Router: acd.Config{Queues: work.DefaultQueues()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.work.Close() })
	stop := r.work.Listen(func(e acd.Event) {
		select {
		case r.events <- e:
		default:
		}
	})
	t.Cleanup(stop)
}

func (r *rig) voiceFlow(t *testing.T, dir string, log *slog.Logger) *voice.Flow {
	t.Helper()
	writeShortPrompts(t, filepath.Join(dir, "prompts"))
	vm, err := voicemail.New(voicemail.Options{Store: r.st, Work: r.work, Dir: dir, Min: time.Second, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	f, err := voice.New(voice.Options{Work: r.work, Store: r.st, Prompts: voice.NewPrompts(filepath.Join(dir, "prompts")),
		Voicemail: vm, Dialer: r.app.Dialer(), Logger: log, AnnounceEvery: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// run starts the app's event loop and waits for its first connection;
// cleanup stops it and waits for it and its calls.
func (r *rig) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	_, connected := r.fake.Connections()
	wg.Go(func() { r.app.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	await(t, connected, "the app's events websocket")
}

func await[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(awaitTimeout):
		t.Fatalf("no %s within %s", what, awaitTimeout)
		var zero T
		return zero
	}
}

// awaitEvent waits for the router's next event of type typ on a voice
// or callback item.
func (r *rig) awaitEvent(t *testing.T, typ acd.EventType) acd.Event {
	t.Helper()
	deadline := time.After(awaitTimeout)
	for {
		select {
		case e := <-r.events:
			if e.Type == typ {
				return e
			}
		case <-deadline:
			t.Fatalf("no router event %s within %s", typ, awaitTimeout)
		}
	}
}

// awaitEnd waits for the flow of call id to return and gives its record.
func (r *rig) awaitEnd(t *testing.T, id string) store.Call {
	t.Helper()
	if got := await(t, r.ended, "end of the call"); got != id {
		t.Fatalf("ended call %s, want %s", got, id)
	}
	rec, err := r.st.Call(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// addHelper makes an available helper of the calls queue with a desk
// phone at endpoint ("" for none: they answer in the console).
func (r *rig) addHelper(t *testing.T, login, endpoint string) int64 {
	t.Helper()
	ctx := context.Background()
	u, err := r.st.CreateUser(ctx, store.User{Login: login, Name: login, Role: store.RoleHelper})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.work.UpdateHelper(ctx, store.Helper{UserID: u.ID, Queues: []string{work.QueueCalls}, Extension: endpoint}); err != nil {
		t.Fatal(err)
	}
	if err := r.work.SetStatus(ctx, u.ID, acd.StatusAvailable, "test"); err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// openItems lists the open items of channel ch.
func (r *rig) openItems(t *testing.T, ch acd.Channel) []store.Item {
	t.Helper()
	items, err := r.st.ListItems(context.Background(), store.ItemFilter{Channel: ch, Open: true})
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// writeShortPrompts overrides the prompts with 200 ms tones of 440 Hz, so
// a test call does not sit through seconds of speech.
func writeShortPrompts(t *testing.T, dir string) {
	t.Helper()
	for _, name := range []string{voice.PromptGreeting, voice.PromptAfterHours, voice.PromptPosition,
		voice.PromptWait, voice.PromptMenu, voice.PromptLeaveMessage, voice.PromptCallback,
		voice.PromptSaved, voice.PromptBeep, voice.PromptHold} {
		p := filepath.Join(dir, "ru", name+".wav")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := media.WriteWAV(p, sine(440, 200*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
}

func sine(freq float64, d time.Duration) []int16 {
	s := make([]int16, int(d*media.SampleRate/time.Second))
	for i := range s {
		s[i] = int16(8000 * math.Sin(2*math.Pi*freq*float64(i)/media.SampleRate))
	}
	return s
}

// goertzel is the power of freq in s relative to the signal's energy,
// in 0..1.
func goertzel(s []int16, freq float64) float64 {
	if len(s) == 0 {
		return 0
	}
	k := 2 * math.Cos(2*math.Pi*freq/media.SampleRate)
	var s1, s2, energy float64
	for _, v := range s {
		x := float64(v)
		energy += x * x
		s0 := x + k*s1 - s2
		s2, s1 = s1, s0
	}
	if energy == 0 {
		return 0
	}
	return (s1*s1 + s2*s2 - k*s1*s2) / (energy * float64(len(s)) / 2)
}
