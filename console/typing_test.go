package console

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/console/hub"
	"github.com/morozhq/moroz/store"
)

// fakeTyping stands in for the messenger: it remembers the indicators.
type fakeTyping struct {
	mu  sync.Mutex
	got [][2]int64 // helper, item; guarded by mu
	err error
}

func (f *fakeTyping) HelperTyping(_ context.Context, helperID, itemID int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, [2]int64{helperID, itemID})
	return f.err
}

func TestTypingRequests(t *testing.T) {
	tests := []struct {
		name      string
		typing    *fakeTyping // nil: no chats on the server
		item      string      // "held", "other's", or "" for none
		wantError string
	}{
		{name: "no chats", item: "held", wantError: errUnavailable},
		{name: "no item", typing: &fakeTyping{}, wantError: errBadRequest},
		{name: "another helper's item", typing: &fakeTyping{}, item: "other's", wantError: errForbidden},
		{name: "not a chat", typing: &fakeTyping{err: errors.New("not a chat")}, item: "held", wantError: errWrongState},
		{name: "held", typing: &fakeTyping{}, item: "held"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			opt := Options{Desk: newFakeDesk(), Hub: hub.Options{Gather: -1}}
			if tt.typing != nil {
				opt.Typing = tt.typing
			}
			f := newFixtureWith(t, opt)
			elf := f.user("elf", store.RoleHelper)
			gnome := f.user("gnome", store.RoleHelper)
			holder := map[string]int64{"held": elf.ID, "other's": gnome.ID}[tt.item]
			req := map[string]any{"type": msgTyping}
			if tt.item != "" {
				it, _, err := f.store.CreateItem(ctx, store.Item{Channel: acd.Chat, ExternalID: "c1", Queue: "chats",
					State: acd.StateActive, HelperID: holder, CreatedAt: time.Now()}, store.Event{Type: "enqueued", At: time.Now()})
				if err != nil {
					t.Fatal(err)
				}
				req["item_id"] = it.ID
			}
			c := f.ws("elf", nil)
			c.readType(msgSnapshot)
			res := c.request(req)
			if got, _ := res["error"].(string); got != tt.wantError {
				t.Errorf("error: got %q, want %q (%v)", got, tt.wantError, res)
			}
			if tt.wantError == "" && (len(tt.typing.got) != 1 || tt.typing.got[0][0] != elf.ID) {
				t.Errorf("indicators passed on: %v, want one of elf's", tt.typing.got)
			}
		})
	}
}

func TestVisitorTypingReachesTheHelpersConsole(t *testing.T) {
	f := newFixtureWith(t, Options{Desk: newFakeDesk(), Hub: hub.Options{Gather: -1}})
	elf := f.user("elf", store.RoleHelper)
	c := f.ws("elf", nil)
	c.readType(msgSnapshot)
	if n := f.console.SendTyping(elf.ID, 42); n != 1 {
		t.Errorf("queued for %d consoles, want 1", n)
	}
	m := c.readType(msgTyping)
	if data, _ := m["data"].(map[string]any); data["item_id"] != float64(42) {
		t.Errorf("typing message %v, want item 42", m)
	}
}
