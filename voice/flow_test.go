package voice_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/voice"
	"github.com/morozhq/moroz/voice/voicetest"
	"github.com/morozhq/moroz/voicemail"
	"github.com/morozhq/moroz/work"
)

// stack is the flow over a real SQLite store and work service, with fake
// calls and phones.
type stack struct {
	dir    string
	st     store.Store
	work   *work.Service
	flow   *voice.Flow
	dialer *voicetest.Dialer
	*closures
}

// closures learns from the work service which items' closes are stored.
type closures struct {
	mu     sync.Mutex
	closed map[int64]acd.Outcome // guarded by mu
	wake   chan struct{}
}

// watchClosures follows w's events until the test ends.
func watchClosures(t *testing.T, w *work.Service) *closures {
	c := &closures{closed: map[int64]acd.Outcome{}, wake: make(chan struct{}, 1)}
	t.Cleanup(w.Listen(c.observe))
	return c
}

func newStack(t *testing.T, queues []acd.QueueConfig, tune ...func(*voice.Options)) *stack {
	t.Helper()
	s := &stack{dir: t.TempDir(), dialer: &voicetest.Dialer{Phones: map[string]error{}}}
	ctx := context.Background()
	log := testLogger()
	st, err := store.Open(ctx, store.Config{DataDir: s.dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s.st = st
	if queues == nil {
		queues = work.DefaultQueues()
	}
	if s.work, err = work.New(ctx, work.Options{Store: st, Logger: log, Router: acd.Config{Queues: queues}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.work.Close() })
	s.closures = watchClosures(t, s.work)
	writeShortPrompts(t, filepath.Join(s.dir, "prompts"))
	vm, err := voicemail.New(voicemail.Options{Store: st, Work: s.work, Dir: s.dir, Min: time.Second, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	opt := voice.Options{Work: s.work, Store: st, Prompts: voice.NewPrompts(filepath.Join(s.dir, "prompts")),
		Voicemail: vm, Dialer: s.dialer, Logger: log}
	for _, f := range tune {
		f(&opt)
	}
	s.flow, err = voice.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *closures) observe(e acd.Event) {
	if e.Type != acd.EventClosed {
		return
	}
	s.mu.Lock()
	s.closed[e.ItemID] = e.Outcome
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// awaitClosed waits until the close of item id is stored and returns its
// outcome.
func (s *closures) awaitClosed(t *testing.T, id int64) acd.Outcome {
	t.Helper()
	limit := time.After(30 * time.Second)
	for {
		s.mu.Lock()
		o, ok := s.closed[id]
		s.mu.Unlock()
		if ok {
			return o
		}
		select {
		case <-s.wake:
		case <-limit:
			t.Fatalf("item %d: close not stored within 30s", id)
		}
	}
}

func (s *stack) helper(t *testing.T, login, phone string, st acd.Status) int64 {
	t.Helper()
	ctx := context.Background()
	u, err := s.st.CreateUser(ctx, store.User{Login: login, Name: login, Role: store.RoleHelper})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.work.UpdateHelper(ctx, store.Helper{UserID: u.ID, Queues: []string{work.QueueCalls}, Extension: phone}); err != nil {
		t.Fatal(err)
	}
	if err := s.work.SetStatus(ctx, u.ID, st, "test"); err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// run handles c to its end.
func (s *stack) run(c *voicetest.Call) store.Call {
	s.flow.Handle(context.Background(), c)
	rec, _ := s.st.Call(context.Background(), c.ID())
	return rec
}

func (s *stack) openCallbacks(t *testing.T) []store.Item {
	t.Helper()
	items, err := s.st.ListItems(context.Background(), store.ItemFilter{Channel: acd.Callback, Open: true})
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// onNthPlay runs f after the n-th Play that ran to its end (1 is the
// greeting; 2 the first announcement and menu).
func onNthPlay(c *voicetest.Call, n int, f func()) {
	var mu sync.Mutex
	count := 0
	c.OnPlay = func(int) {
		mu.Lock()
		count++
		hit := count == n
		mu.Unlock()
		if hit {
			f()
		}
	}
}

type recSummary struct {
	Reason, Outcome string
	Queued          bool
	Connected       bool
	Helper          int64
}

func summarize(r store.Call) recSummary {
	return recSummary{Reason: r.Reason, Outcome: string(r.Outcome), Queued: r.ItemID != 0,
		Connected: !r.ConnectedAt.IsZero(), Helper: r.HelperID}
}

func TestMissedCallReasons(t *testing.T) {
	closed := []acd.QueueConfig{{Name: work.QueueCalls, Hours: &acd.Hours{}}, {Name: work.QueueCallbacks}, {Name: work.QueueLetters}}
	tests := []struct {
		name    string
		queues  []acd.QueueConfig
		helper  acd.Status // "" for no helper at all
		act     func(c *voicetest.Call)
		speech  time.Duration
		want    recSummary
		message bool // a voicemail is stored
	}{
		{name: "after hours", queues: closed, helper: acd.StatusAvailable, speech: 3 * time.Second,
			act:  func(c *voicetest.Call) { c.OnRecord = func() { c.Hangup() } },
			want: recSummary{Reason: voice.ReasonAfterHours, Outcome: "voicemail"}, message: true},
		{name: "hang-up during the greeting", helper: acd.StatusAway,
			act:  func(c *voicetest.Call) { c.Hangup() },
			want: recSummary{Reason: voice.ReasonAbandoned, Outcome: "abandoned"}},
		{name: "nobody logged in", speech: 2 * time.Second,
			act:  func(c *voicetest.Call) { c.OnRecord = func() { c.Hangup() } },
			want: recSummary{Reason: voice.ReasonNoHelpers, Outcome: "voicemail"}, message: true},
		{name: "voicemail too short", helper: acd.StatusAway, speech: 300 * time.Millisecond,
			act: func(c *voicetest.Call) {
				onNthPlay(c, 2, func() { c.Press('1') })
				c.OnRecord = func() { c.Hangup() }
			},
			want: recSummary{Reason: voice.ReasonVoicemail, Outcome: "abandoned", Queued: true}},
		{name: "hang-up on hold", helper: acd.StatusAway,
			act:  func(c *voicetest.Call) { onNthPlay(c, 2, func() { c.Hangup() }) },
			want: recSummary{Reason: voice.ReasonAbandoned, Outcome: "abandoned", Queued: true}},
		{name: "press 2", helper: acd.StatusAway,
			act:  func(c *voicetest.Call) { onNthPlay(c, 2, func() { c.Press('2') }) },
			want: recSummary{Reason: voice.ReasonCallback, Outcome: voice.OutcomeCallback, Queued: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, tt.queues)
			if tt.helper != "" {
				s.helper(t, "elf", "", tt.helper)
			}
			c := voicetest.NewCall("call-1", "+375 29 111-22-33", "ded")
			c.Speech = sine(300, tt.speech)
			tt.act(c)
			rec := s.run(c)
			if diff := cmp.Diff(tt.want, summarize(rec)); diff != "" {
				t.Errorf("call record (-want +got):\n%s", diff)
			}
			if rec.From != "+375291112233" || rec.EndedAt.IsZero() || rec.AnsweredAt.IsZero() {
				t.Errorf("call record: got from %q answered %v ended %v, want +375291112233 and both times", rec.From, rec.AnsweredAt, rec.EndedAt)
			}
			vms, err := s.st.ListVoicemails(context.Background(), 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(vms) == 1; got != tt.message {
				t.Errorf("voicemail stored: got %d messages, want message %v", len(vms), tt.message)
			}
			cbs := s.openCallbacks(t)
			if len(cbs) != 1 {
				t.Fatalf("open callbacks: got %d, want 1", len(cbs))
			}
			if live, err := s.work.Live(context.Background()); err != nil || live.Today.Missed != 1 {
				t.Errorf("today's missed calls: got %d (%v), want 1", live.Today.Missed, err)
			}
			if !cbs[0].CreatedAt.Equal(rec.ArrivedAt.Truncate(time.Microsecond)) || cbs[0].ParentID != rec.ItemID {
				t.Errorf("callback: got created %v parent %d, want the call's arrival %v and item %d",
					cbs[0].CreatedAt, cbs[0].ParentID, rec.ArrivedAt, rec.ItemID)
			}
		})
	}
}

// Pressing 2 turns the call into a callback that keeps the call's place:
// its created time is the call item's.
func TestPressTwoKeepsCreatedTime(t *testing.T) {
	s := newStack(t, nil)
	s.helper(t, "elf", "", acd.StatusAway)
	c := voicetest.NewCall("call-2", "+79991234567", "ded")
	onNthPlay(c, 2, func() { c.Press('2') })
	rec := s.run(c)
	if got := s.awaitClosed(t, rec.ItemID); got != voice.OutcomeCallback {
		t.Errorf("call item outcome: got %q, want %q", got, voice.OutcomeCallback)
	}
	call, err := s.st.Item(context.Background(), rec.ItemID)
	if err != nil {
		t.Fatal(err)
	}
	cbs := s.openCallbacks(t)
	if len(cbs) != 1 {
		t.Fatalf("open callbacks: got %d, want 1", len(cbs))
	}
	if !cbs[0].CreatedAt.Equal(call.CreatedAt) {
		t.Errorf("callback created: got %v, want the call item's %v", cbs[0].CreatedAt, call.CreatedAt)
	}
}

// A helper's phone that answers takes the call: accepted, bridged,
// completed when the caller hangs up; the caller's waiting callback from
// an earlier miss is closed, since they got through.
func TestAnsweredCallClosesOpenCallback(t *testing.T) {
	s := newStack(t, nil)
	elf := s.helper(t, "elf", "sip:elf@phone", acd.StatusAway)

	first := voicetest.NewCall("call-a", "+79990000001", "ded")
	onNthPlay(first, 2, func() { first.Hangup() })
	s.run(first)
	cbs := s.openCallbacks(t)
	if len(cbs) != 1 {
		t.Fatalf("open callbacks after a miss: got %d, want 1", len(cbs))
	}

	s.dialer.Phones["sip:elf@phone"] = nil // answers
	if err := s.work.SetStatus(context.Background(), elf, acd.StatusAvailable, ""); err != nil {
		t.Fatal(err)
	}
	second := voicetest.NewCall("call-b", "+79990000001", "ded")
	go func() { // the caller talks until the phone's leg is up, then hangs up
		for len(s.dialer.Legs()) == 0 || !second.Bridged() {
			select {
			case <-second.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
		second.Hangup()
	}()
	rec := s.run(second)
	if diff := cmp.Diff(recSummary{Outcome: "answered", Queued: true, Connected: true, Helper: elf}, summarize(rec)); diff != "" {
		t.Errorf("call record (-want +got):\n%s", diff)
	}
	if got := s.awaitClosed(t, rec.ItemID); got != acd.OutcomeAnswered {
		t.Errorf("call item outcome: got %q, want answered", got)
	}
	if got := s.awaitClosed(t, cbs[0].ID); got != acd.OutcomeAnswered {
		t.Errorf("callback outcome: got %q, want answered (the caller got through)", got)
	}
	if got := s.dialer.Dials(); !cmp.Equal(got, []string{"sip:elf@phone"}) {
		t.Errorf("dials: got %v, want the elf's phone once", got)
	}
	select {
	case <-s.dialer.Legs()[0].Done():
	default:
		t.Error("helper's leg still up after the call ended")
	}
}

// A phone that answers busy or declines is the helper's reject: the
// router records it and the call waits on.
func TestRefusingPhoneRejects(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		reason string
	}{
		{name: "busy", err: voice.ErrBusy, reason: string(acd.RejectBusy)},
		{name: "declined", err: voice.ErrDeclined, reason: string(acd.RejectDeclined)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, nil)
			s.dialer.Phones["sip:elf@phone"] = tt.err
			elf := s.helper(t, "elf", "sip:elf@phone", acd.StatusAvailable)
			rejected := make(chan acd.Event, 1)
			stop := s.work.Listen(func(e acd.Event) {
				if e.Type == acd.EventRejected {
					select {
					case rejected <- e:
					default:
					}
				}
			})
			defer stop()
			c := voicetest.NewCall("call-r", "+79990000002", "ded")
			go func() {
				select {
				case <-rejected:
				case <-time.After(30 * time.Second):
				}
				c.Hangup()
			}()
			rec := s.run(c)
			evs, err := s.st.Events(context.Background(), rec.ItemID)
			if err != nil {
				t.Fatal(err)
			}
			var reasons []string
			for _, e := range evs {
				if e.Type == string(acd.EventRejected) && e.HelperID == elf {
					var d struct{ Reason string }
					if err := json.Unmarshal(e.Data, &d); err != nil {
						t.Fatalf("rejected event data %s: %v", e.Data, err)
					}
					reasons = append(reasons, d.Reason)
				}
			}
			if len(reasons) == 0 || reasons[0] != tt.reason {
				t.Errorf("rejects of helper %d in the item's history: got reasons %q, want first %q", elf, reasons, tt.reason)
			}
			if rec.Reason != voice.ReasonAbandoned {
				t.Errorf("call record reason: got %q, want %q", rec.Reason, voice.ReasonAbandoned)
			}
		})
	}
}
