package console

import (
	"context"
	"fmt"
	"sync"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/stats"
	"github.com/morozhq/moroz/store"
)

// fakeDesk stands in for the work service in the console's own tests (the
// browser tests use the real one). It records the calls it gets and sends
// the events a test emits to the listener.
type fakeDesk struct {
	mu      sync.Mutex
	calls   []string                 // guarded by mu
	helpers map[int64]acd.HelperInfo // guarded by mu
	queues  []acd.QueueInfo          // guarded by mu
	listen  func(acd.Event)          // guarded by mu
}

func newFakeDesk() *fakeDesk {
	return &fakeDesk{helpers: map[int64]acd.HelperInfo{},
		queues: []acd.QueueInfo{{Name: "letters", Open: true}, {Name: "calls", Open: true}}}
}

func (d *fakeDesk) record(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, fmt.Sprintf(format, args...))
}

func (d *fakeDesk) Calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.calls...)
}

func (d *fakeDesk) SetStatus(ctx context.Context, id int64, s acd.Status, reason string) error {
	d.record("status %d %s %s", id, s, reason)
	d.mu.Lock()
	h := d.helpers[id]
	h.ID, h.Status, h.Reason = id, s, reason
	d.helpers[id] = h
	d.mu.Unlock()
	return nil
}

func (d *fakeDesk) Accept(ctx context.Context, itemID, helperID int64) error {
	d.record("accept %d %d", itemID, helperID)
	if itemID == 404 {
		return fmt.Errorf("accept item %d: %w", itemID, acd.ErrNoOffer)
	}
	return nil
}

func (d *fakeDesk) Reject(ctx context.Context, itemID, helperID int64) error {
	d.record("reject %d %d", itemID, helperID)
	return nil
}

func (d *fakeDesk) Reply(ctx context.Context, itemID, helperID int64, m store.Message) (store.Message, error) {
	d.record("reply %d %d %q", itemID, helperID, m.Text)
	return m, nil
}

func (d *fakeDesk) Complete(ctx context.Context, itemID, helperID int64, o acd.Outcome, note string) error {
	d.record("complete %d %d %s %q", itemID, helperID, o, note)
	return nil
}

func (d *fakeDesk) EndWrapUp(ctx context.Context, helperID int64) error {
	d.record("end wrap-up %d", helperID)
	return nil
}

func (d *fakeDesk) Transfer(ctx context.Context, itemID int64, to acd.Target) error {
	d.record("transfer %d %s %d", itemID, to.Queue, to.Helper)
	return nil
}

func (d *fakeDesk) Recall(ctx context.Context, itemID int64) error {
	d.record("recall %d", itemID)
	return nil
}

func (d *fakeDesk) Helpers() []acd.HelperInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := []acd.HelperInfo{}
	for _, h := range d.helpers {
		out = append(out, h)
	}
	return out
}

func (d *fakeDesk) Queues() []acd.QueueInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]acd.QueueInfo(nil), d.queues...)
}

func (d *fakeDesk) Live(ctx context.Context) (stats.Live, error) {
	return stats.Live{Queues: []stats.QueueLive{}, Helpers: map[string]int{}}, nil
}

func (d *fakeDesk) Listen(f func(acd.Event)) func() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.listen = f
	return func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.listen = nil
	}
}

func (d *fakeDesk) emit(e acd.Event) {
	d.mu.Lock()
	f := d.listen
	d.mu.Unlock()
	if f != nil {
		f(e)
	}
}
