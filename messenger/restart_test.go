package messenger

// The Telegram side of these tests runs against telegramtest, a fake Bot
// API server that follows the published Bot API methods and JSON shapes:
// Telegram's servers cannot be reached from tests.

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
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
	waitSent(t, fake, 2) // so that no send is in flight at the stop (one would be sent again)
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
		for _, s := range fake.Sent() {
			t.Logf("sent %q", s.Text)
		}
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

func TestTelegramRepliesQueuedAtStopAreSentOnceAfterRestart(t *testing.T) {
	ctx := context.Background()
	fake := telegramtest.New(botToken)
	fake.Refuse(-1, http.StatusBadGateway) // Telegram's servers are in trouble
	api := httptest.NewServer(fake)
	t.Cleanup(api.Close)
	dir := t.TempDir()

	e := tgEnvAt(t, dir, api.URL)
	e.deliver(t, tgSecret, tgUpdate(400, 1, "привет"))
	e.deliver(t, tgSecret, tgUpdate(401, 2, "позовите оператора"))
	kept := e.items(t, acd.Telegram)[0]
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
	waitRefused(t, fake, 1)
	e.stop()

	e = tgEnvAt(t, dir, api.URL)
	var want []string // the bot's two answers and the helper's, in order
	for _, m := range e.messages(t, kept.ID) {
		if m.Direction == "out" {
			want = append(want, m.Text)
		}
	}
	if len(want) != 3 {
		t.Fatalf("stored replies %q, want three", want)
	}
	if pending := e.pendingTelegram(t); len(pending) != 3 {
		t.Fatalf("%d replies pending after the restart, want 3", len(pending))
	}
	fake.Refuse(0, 0)
	waitSent(t, fake, 3)
	for len(e.pendingTelegram(t)) > 0 {
		time.Sleep(10 * time.Millisecond) // the last send is being marked
	}
	var got []string
	for _, s := range fake.Sent() {
		if s.ChatID != olyaChat {
			t.Errorf("sent to chat %d, want %d", s.ChatID, olyaChat)
		}
		got = append(got, s.Text)
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("sent after the restart (-got +want), each once in order:\n%s", diff)
	}
}

func TestTelegramReplyToBlockedChatIsNotedOnTheItem(t *testing.T) {
	ctx := context.Background()
	e, fake := tgEnv(t, false)
	e.deliver(t, tgSecret, tgUpdate(500, 1, "оператор"))
	kept := e.items(t, acd.Telegram)[0]
	waitSent(t, fake, 2) // greeting and handoff
	fake.FailChat(olyaChat, http.StatusForbidden, "Forbidden: bot was blocked by the user")
	elf := e.helper(t, "elf")
	if err := e.work.SetStatus(ctx, elf.ID, acd.StatusAvailable, ""); err != nil {
		t.Fatal(err)
	}
	e.waitEvent(t, acd.EventOffered, kept.ID)
	if err := e.work.Accept(ctx, kept.ID, elf.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.work.Reply(ctx, kept.ID, elf.ID, store.Message{Text: "Здравствуй!"}); err != nil {
		t.Fatal(err)
	}
	var failed store.Event
	for deadline := time.Now().Add(waitLimit); failed.Type == "" && time.Now().Before(deadline); {
		evs, err := e.st.Events(ctx, kept.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.Type == EventSendFailed {
				failed = ev
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if failed.Type == "" {
		t.Fatal("no send_failed event on the item")
	}
	var d struct {
		Error    string `json:"error"`
		Attempts int    `json:"attempts"`
	}
	if err := json.Unmarshal(failed.Data, &d); err != nil || d.Attempts != 1 || !strings.Contains(d.Error, "403") {
		t.Errorf("send_failed data %s, want the 403 after one attempt", failed.Data)
	}
	if n := len(e.pendingTelegram(t)); n != 0 {
		t.Errorf("%d replies still pending, want the refused one given up", n)
	}
}

// pendingTelegram returns the Telegram replies pending in the outbox.
func (e *env) pendingTelegram(t *testing.T) []store.OutLetter {
	t.Helper()
	ls, err := e.st.PendingOut(context.Background(), acd.Telegram, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

// waitRefused waits until the fake has refused n sends.
func waitRefused(t *testing.T, fake *telegramtest.Server, n int) {
	t.Helper()
	for deadline := time.Now().Add(waitLimit); fake.Refused() < n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d sends refused, want %d", fake.Refused(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
