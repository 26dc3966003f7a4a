package messenger

// The Telegram side of these tests runs against telegramtest, a fake Bot
// API server that follows the published Bot API methods and JSON shapes:
// Telegram's servers cannot be reached from tests.

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/messenger/telegramtest"
	"github.com/morozhq/moroz/store"
)

// tgEnvAt builds a webhook Telegram env on the data folder dir, talking to
// the fake Bot API at api.
func tgEnvAt(t *testing.T, dir, api string) *env {
	t.Helper()
	return newEnvAt(t, dir, "", func(o *Options) {
		o.Config.Telegram = Telegram{Token: botToken, API: api, WebhookSecret: tgSecret, PollTimeout: 5 * time.Second}
	})
}

// transcript is an item's messages as direction, sender and text.
func transcript(t *testing.T, e *env, itemID int64) [][3]string {
	t.Helper()
	var got [][3]string
	for _, m := range e.messages(t, itemID) {
		got = append(got, [3]string{m.Direction, m.From, m.Text})
	}
	return got
}

func TestTelegramBotConversationSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	fake := telegramtest.New(botToken)
	api := httptest.NewServer(fake)
	t.Cleanup(api.Close)
	dir := t.TempDir()

	e := tgEnvAt(t, dir, api.URL)
	for i, text := range []string{"привет", "хочу написать письмо"} {
		if got := e.deliver(t, tgSecret, tgUpdate(int64(200+i), int64(1+i), text)); got != http.StatusOK {
			t.Fatalf("update %q: status %d", text, got)
		}
	}
	items := e.items(t, acd.Telegram)
	if len(items) != 1 || items[0].State != acd.StateNew {
		t.Fatalf("items while the bot talks %+v, want one kept (new)", items)
	}
	kept := items[0]
	before := transcript(t, e, kept.ID)
	waitSent(t, fake, 2) // the outbox is memory: a reply still queued at a stop stays stored, unsent
	e.stop()

	e = tgEnvAt(t, dir, api.URL) // the bot is asking for the name
	if got := transcript(t, e, kept.ID); !cmp.Equal(got, before) {
		t.Fatalf("transcript after the restart:\n%s", cmp.Diff(got, before))
	}
	if got := e.items(t, acd.Telegram); len(got) != 1 || got[0].State != acd.StateNew {
		t.Fatalf("items after the restart %+v, want the kept one, not routed", got)
	}
	e.deliver(t, tgSecret, tgUpdate(202, 3, "Оля"))
	got := transcript(t, e, kept.ID)
	if last := got[len(got)-1]; last != [3]string{"out", botName, "Сколько тебе лет?"} {
		t.Errorf("the bot's answer to the name after the restart: %q, want the age asked", last)
	}
	e.deliver(t, tgSecret, tgUpdate(203, 4, "позовите оператора"))

	items = e.items(t, acd.Telegram)
	if len(items) != 1 || items[0].ID != kept.ID || items[0].State != acd.StateQueued {
		t.Fatalf("after the handoff: items %+v, want the kept item queued", items)
	}
	if got := transcript(t, e, kept.ID); len(got) != 8 {
		t.Errorf("transcript of %d lines, want 8 (four each way):\n%q", len(got), got)
	}
	elf := e.helper(t, "elf")
	if err := e.work.SetStatus(ctx, elf.ID, acd.StatusAvailable, ""); err != nil {
		t.Fatal(err)
	}
	e.waitEvent(t, acd.EventOffered, kept.ID)
	if err := e.work.Accept(ctx, kept.ID, elf.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.work.Reply(ctx, kept.ID, elf.ID, store.Message{Text: "Здравствуй, Оля!"}); err != nil {
		t.Fatal(err)
	}
	sent := waitSent(t, fake, 5) // greeting, name, age, nobody on duty, the helper
	if last := sent[len(sent)-1]; last.ChatID != olyaChat || last.Text != "Здравствуй, Оля!" {
		t.Errorf("the helper's reply sent as %+v", last)
	}
}

func TestTelegramRedeliveryWhileWithBotIsStoredOnce(t *testing.T) {
	e, fake := tgEnv(t, false)
	u := tgUpdate(300, 1, "привет")
	for range 2 {
		if got := e.deliver(t, tgSecret, u); got != http.StatusOK {
			t.Fatalf("status %d", got)
		}
	}
	u.UpdateID = 5 // update ids restart after a quiet week
	e.deliver(t, tgSecret, u)
	items := e.items(t, acd.Telegram)
	if len(items) != 1 {
		t.Fatalf("%d items, want one", len(items))
	}
	if got := transcript(t, e, items[0].ID); len(got) != 2 {
		t.Errorf("transcript %q, want the greeting once and its answer", got)
	}
	if got := waitSent(t, fake, 1); len(got) != 1 {
		t.Errorf("sent %+v, want one answer", got)
	}
}

func TestChatBotConversationSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	jar, _ := cookiejar.New(nil)

	e := newEnvAt(t, dir, "", nil)
	c, _, err := e.dialChat(t, jar, "")
	if err != nil {
		t.Fatal(err)
	}
	c.say("привет", "m1")
	c.next("message", botName)
	e.stop()

	e = newEnvAt(t, dir, "", nil)
	c, _, err = e.dialChat(t, jar, "") // the cookie still names the visitor
	if err != nil {
		t.Fatal(err)
	}
	if f := c.next("message", "visitor"); f.Text != "привет" {
		t.Errorf("first replayed line %+v, want the visitor's greeting", f)
	}
	c.next("message", botName)
	elf := e.helper(t, "elf")
	if err := e.work.SetStatus(ctx, elf.ID, acd.StatusAway, ""); err != nil {
		t.Fatal(err)
	}
	c.say("оператор", "m2")
	if f := c.next("queue", ""); f.Position != 1 {
		t.Errorf("queue frame %+v, want position 1", f)
	}
	items := e.items(t, acd.Chat)
	if len(items) != 1 || items[0].State != acd.StateQueued {
		t.Fatalf("chat items %+v, want one queued", items)
	}
	want := [][3]string{{"in", "", "привет"}, {"out", botName, ""}, {"in", "", "оператор"}, {"out", botName, ""}}
	got := transcript(t, e, items[0].ID)
	for i := range got {
		if i < len(want) && want[i][2] == "" {
			got[i][2] = "" // the bot's wording is the bot tests' business
		}
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("transcript (-got +want):\n%s", diff)
	}
}
