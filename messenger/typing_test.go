package messenger

// The Telegram case runs against telegramtest, a fake Bot API server that
// follows the published Bot API: Telegram's servers cannot be reached from
// tests.

import (
	"context"
	"errors"
	"net/http/cookiejar"
	"sync"
	"testing"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
)

// heard collects the visitor typing indicators the Messenger passes on.
type heard struct {
	mu  sync.Mutex
	got [][2]int64 // helper, item
}

func (h *heard) add(helperID, itemID int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got = append(h.got, [2]int64{helperID, itemID})
}

func (h *heard) list() [][2]int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([][2]int64(nil), h.got...)
}

// heldChat hands a visitor's chat to elf and returns the socket and item.
func heldChat(t *testing.T, e *env) (*chatClient, store.Item, store.User) {
	t.Helper()
	ctx := context.Background()
	elf := e.helper(t, "elf")
	if err := e.work.SetStatus(ctx, elf.ID, acd.StatusAvailable, ""); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	c, _, err := e.dialChat(t, jar, "")
	if err != nil {
		t.Fatal(err)
	}
	c.say("оператор", "m1")
	c.next("queue", "")
	items := e.items(t, acd.Chat)
	if len(items) != 1 {
		t.Fatalf("%d chat items, want one", len(items))
	}
	e.waitEvent(t, acd.EventOffered, items[0].ID)
	if err := e.work.Accept(ctx, items[0].ID, elf.ID); err != nil {
		t.Fatal(err)
	}
	return c, items[0], elf
}

func TestVisitorTypingReachesTheHelper(t *testing.T) {
	e := newEnv(t, nil)
	var h heard
	e.m.OnVisitorTyping(h.add)
	c, it, elf := heldChat(t, e)

	// Each batch ends with a message whose echo says the frames before it
	// were read.
	batch := func(typing int, id string) {
		t.Helper()
		for range typing {
			if err := c.ws.WriteJSON(frame{Type: "typing"}); err != nil {
				t.Fatal(err)
			}
		}
		c.say("ещё "+id, id)
		c.next("message", "visitor")
	}
	batch(3, "m2")
	want := [][2]int64{{elf.ID, it.ID}}
	if got := h.list(); len(got) != 1 || got[0] != want[0] {
		t.Errorf("after three quick indicators: heard %v, want %v once", got, want)
	}
	e.clock.advance(typingEvery)
	batch(1, "m3")
	if got := h.list(); len(got) != 2 {
		t.Errorf("after the pause: heard %v, want a second indicator", got)
	}
}

func TestHelperTypingReachesTheVisitor(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	c, it, elf := heldChat(t, e)
	if err := e.m.HelperTyping(ctx, elf.ID, it.ID); err != nil {
		t.Fatal(err)
	}
	if f := c.next("typing", "helper"); f.Type != "typing" {
		t.Errorf("frame %+v", f)
	}
	gnome := e.helper(t, "gnome")
	if err := e.m.HelperTyping(ctx, gnome.ID, it.ID); err == nil {
		t.Errorf("typing by a helper who does not hold the item: no error")
	}
	form, _, err := e.work.Submit(ctx, store.Item{Channel: acd.Form, ExternalID: "f1"}, store.Event{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.m.HelperTyping(ctx, elf.ID, form.ID); !errors.Is(err, ErrNotChat) {
		t.Errorf("typing in a form item: %v, want ErrNotChat", err)
	}
}

func TestHelperTypingInTelegram(t *testing.T) {
	ctx := context.Background()
	e, fake := tgEnv(t, false)
	e.deliver(t, tgSecret, tgUpdate(1, 1, "позовите оператора"))
	it := e.items(t, acd.Telegram)[0]
	elf := e.helper(t, "elf")
	if err := e.work.SetStatus(ctx, elf.ID, acd.StatusAvailable, ""); err != nil {
		t.Fatal(err)
	}
	e.waitEvent(t, acd.EventOffered, it.ID)
	if err := e.work.Accept(ctx, it.ID, elf.ID); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second, within typingEvery, is not passed on
		if err := e.m.HelperTyping(ctx, elf.ID, it.ID); err != nil {
			t.Fatal(err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	got := fake.WaitActions(wctx, 1)
	if len(got) != 1 || got[0].ChatID != olyaChat || got[0].Action != "typing" {
		t.Errorf("chat actions %+v, want one typing in Olya's chat", got)
	}
}

func TestTypingOfTwoChatsHeldAtOnce(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	var h heard
	e.m.OnVisitorTyping(h.add)
	elf := e.helper(t, "elf") // a helper takes three chats at once by default
	if err := e.work.SetStatus(ctx, elf.ID, acd.StatusAvailable, ""); err != nil {
		t.Fatal(err)
	}
	var socks []*chatClient
	var ids []int64
	for i := range 2 {
		jar, _ := cookiejar.New(nil)
		c, _, err := e.dialChat(t, jar, "")
		if err != nil {
			t.Fatal(err)
		}
		c.say("оператор", "m1")
		c.next("queue", "")
		ev := e.waitEvent(t, acd.EventOffered, 0)
		if err := e.work.Accept(ctx, ev.ItemID, elf.ID); err != nil {
			t.Fatalf("chat %d: accept: %v", i, err)
		}
		socks, ids = append(socks, c), append(ids, ev.ItemID)
	}
	for i := range socks {
		i = len(socks) - 1 - i // the second chat first
		if err := socks[i].ws.WriteJSON(frame{Type: "typing"}); err != nil {
			t.Fatal(err)
		}
		socks[i].say("ну?", "m2")
		socks[i].next("message", "visitor")
	}
	want := [][2]int64{{elf.ID, ids[1]}, {elf.ID, ids[0]}}
	if got := h.list(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("heard %v, want %v", got, want)
	}
	if err := e.m.HelperTyping(ctx, elf.ID, ids[0]); err != nil {
		t.Fatal(err)
	}
	socks[0].next("typing", "helper")
}
