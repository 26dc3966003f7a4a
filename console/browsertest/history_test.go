package browsertest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/console"
	"github.com/morozhq/moroz/logging"
	"github.com/morozhq/moroz/messenger"
	"github.com/morozhq/moroz/messenger/botapi"
	"github.com/morozhq/moroz/messenger/telegramtest"
	"github.com/morozhq/moroz/store"
)

const (
	botToken  = "123:browsertest"
	botSecret = "browsertest-secret"
	olyaChat  = 777001
)

// withTelegram runs the real messenger beside the console, its bot
// talking to a fake Telegram (Telegram's servers cannot be reached from
// tests), wired to the console as the node wires it.
func withTelegram(t *testing.T, fake *telegramtest.Server) addOn {
	api := httptest.NewServer(fake)
	t.Cleanup(api.Close)
	return func(s *site, opt *console.Options) (func(*console.Server), func()) {
		m, err := messenger.New(messenger.Options{Store: s.store, Work: s.work, Logger: logging.Discard(),
			DataDir: t.TempDir(), Config: messenger.Config{Telegram: messenger.Telegram{Token: botToken, API: api.URL,
				WebhookSecret: botSecret, PollTimeout: 5 * time.Second}}})
		if err != nil {
			t.Fatal(err)
		}
		opt.Mounts = m.Routes()
		opt.Typing = m
		return func(c *console.Server) {
			m.OnSendFailed(func(itemID int64) { c.NoteItemEvent(itemID, messenger.EventSendFailed) })
		}, func() { m.Close() }
	}
}

// TestFailedTelegramReplyIsMarked: a child asks the bot for a person, a
// helper takes the chat and replies, and Telegram refuses the reply (the
// child blocked the bot). The helper's desk marks the item in the list
// and in its view, and its history says who took it and that the reply
// was not delivered, with Telegram's reason.
func TestFailedTelegramReplyIsMarked(t *testing.T) {
	root := browser(t)
	fake := telegramtest.New(botToken)
	s := buildSite(t, withTelegram(t, fake))
	s.user(t, "elf", "Эльф", store.RoleHelper)
	elf := newPage(t, root, "helper")
	elf.login(s.url, "elf")
	elf.run("go available", choose(`#status`, "available"))

	s.telegram(t, fake, "оператор")
	elf.until("chat offered", `!!document.querySelector('#offer')`)
	elf.run("accept", chromedp.Click(css(`#accept`)))
	elf.until("chat open", `!!document.querySelector('#item-view[data-channel=telegram] #reply-text')`)
	elf.until("history shown", `!!document.querySelector('#item-history li[data-type=accepted]')`)
	got := eval[string](elf, `document.querySelector('#item-history li[data-type=accepted]').textContent`)
	if !strings.Contains(got, "Эльф") {
		t.Errorf("history's accepted line %q does not name the helper", got)
	}
	if eval[bool](elf, `!!document.querySelector('.send-failed-mark, #send-failed')`) {
		t.Error("a failed-send mark before any reply failed")
	}

	fake.FailChat(olyaChat, http.StatusForbidden, "Forbidden: bot was blocked by the user")
	elf.run("write", chromedp.SendKeys(css(`#reply-text`), "Здравствуй, Оля! Письмо получено."))
	elf.run("send", chromedp.Click(css(`#send`)))
	elf.until("marked in the list", `!!document.querySelector('#my-items li.selected .send-failed-mark')`)
	elf.until("marked in the item", `!!document.querySelector('#item-view #send-failed')`)
	elf.until("listed in the history", `!!document.querySelector('#item-history li.bad[data-type=send_failed]')`)
	line := eval[string](elf, `document.querySelector('#item-history li[data-type=send_failed]').textContent`)
	for _, want := range []string{"Ответ не доставлен", "bot was blocked by the user"} {
		if !strings.Contains(line, want) {
			t.Errorf("history's send_failed line %q lacks %q", line, want)
		}
	}
	elf.shot("30-telegram-send-failed")

	elf.run("english", choose(`#lang`, "en"))
	elf.until("history in english", `(document.querySelector('#item-history li[data-type=send_failed]') || {}).textContent
		?.includes('Reply not delivered')`)
	elf.shot("31-telegram-send-failed-en")
}

// telegram delivers a child's message to the bot's webhook as Telegram
// would.
func (s *site) telegram(t *testing.T, fake *telegramtest.Server, text string) {
	t.Helper()
	u := botapi.Update{UpdateID: 900, Message: &botapi.Message{MessageID: 1, Date: time.Now().Unix(), Text: text,
		From: &botapi.User{ID: olyaChat, FirstName: "Оля", LanguageCode: "ru"},
		Chat: botapi.Chat{ID: olyaChat, Type: "private"}}}
	status, err := telegramtest.Deliver(context.Background(), http.DefaultClient, s.url+"/telegram/webhook", botSecret, u)
	if err != nil || status != http.StatusOK {
		t.Fatalf("deliver the update: status %d, %v", status, err)
	}
}

// TestCallPanelCoversNothing puts a talking call in the browser
// softphone's panel while the helper has a call item with a long contact
// history open, and checks the geometry at three screen sizes: the panel
// overlaps neither the contact card, nor the item, nor its wrap-up, and
// it fits the screen's width. The call is the page's own (the server's
// ring event, then the state an answer leaves); this test is about where
// the panel sits, the softphone's tests make real calls.
func TestCallPanelCoversNothing(t *testing.T) {
	root := browser(t)
	s := newSite(t)
	ctx := context.Background()
	s.user(t, "elf", "Эльф", store.RoleHelper)
	c := s.contact(t)
	for i := range 6 {
		_, _, err := s.store.CreateItem(ctx, store.Item{Channel: acd.Email, ExternalID: fmt.Sprintf("<old-%d@example.ru>", i),
			Subject: fmt.Sprintf("Письмо %d", i+1), ContactID: c.ID, State: acd.StateClosed, Outcome: acd.OutcomeReplied},
			store.Event{Type: "received"})
		if err != nil {
			t.Fatal(err)
		}
	}
	elf := newPage(t, root, "helper")
	elf.login(s.url, "elf")
	elf.run("go available", choose(`#status`, "available"))
	if _, _, err := s.work.Submit(ctx, store.Item{Channel: acd.Voice, ExternalID: "call-1", Subject: "+375291234567",
		ContactID: c.ID, Data: []byte(`{"from":"+375291234567"}`)}, store.Event{}); err != nil {
		t.Fatal(err)
	}
	elf.until("call offered", `!!document.querySelector('#offer')`)
	elf.run("accept", chromedp.Click(css(`#accept`)))
	elf.until("contact history", `document.querySelectorAll('#contact .history li').length === 7`)
	elf.run("a call in the panel", chromedp.Evaluate[chromedp.Void](`(() => { const p = window.moroz.phone;
		p.onMessage({event: 'ring', call: 'c1', from: '+375291234567'});
		const c = p.calls.get('c1'); c.state = 'talking'; c.since = new Date().toISOString(); p.changed(); })()`))
	elf.until("panel talking", `!!document.querySelector('moroz-callpanel .call.talking #phone-hangup')`)

	for _, size := range []struct{ w, h int64 }{{1280, 800}, {1920, 1080}, {1024, 768}} {
		name := fmt.Sprintf("%dx%d", size.w, size.h)
		elf.run("screen "+name, chromedp.EmulateViewport(size.w, size.h))
		elf.until("laid out at "+name, fmt.Sprintf(`window.innerWidth === %d`, size.w))
		got := eval[string](elf, `(() => {
			const box = (sel) => { const el = document.querySelector(sel); return el && el.getBoundingClientRect(); };
			const meet = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
			const panel = box('moroz-callpanel');
			if (!panel || panel.width === 0) return 'no panel';
			if (panel.left < 0 || panel.right > window.innerWidth) return 'the panel does not fit the width: ' + JSON.stringify(panel);
			for (const sel of ['#contact', '#contact .history', '#item-view', '#item-view .wrapup-box', '#item-history', '#my-items']) {
				const b = box(sel);
				if (!b) return 'no ' + sel;
				if (meet(panel, b)) return 'the panel covers ' + sel;
			}
			return '';
		})()`)
		if got != "" {
			elf.shot("failed-callpanel-" + name)
			t.Errorf("at %s: %s", name, got)
		}
		elf.shot("32-callpanel-" + name)
	}
}
