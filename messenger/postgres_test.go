package messenger

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/messenger/botapi"
	"github.com/morozhq/moroz/messenger/telegramtest"
	"github.com/morozhq/moroz/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestOnPostgres runs the durable paths on PostgreSQL: a form post with an
// idempotency key, and a Telegram chat kept while the bot talks, handed
// to the queue, whose redelivered update makes nothing new.
func TestOnPostgres(t *testing.T) {
	fake := telegramtest.New(botToken)
	api := httptest.NewServer(fake)
	defer api.Close()
	e := newEnvOn(t, pgtest.URL(t), func(o *Options) {
		o.Config.Telegram = Telegram{Token: botToken, API: api.URL, WebhookSecret: tgSecret, PollTimeout: time.Second}
	})
	key := map[string]string{"Idempotency-Key": "pg-1"}
	s1, _, _ := e.do(t, "POST", "/api/v1/forms/letter", "application/json", `{"name":"Оля","wish":"санки"}`, key)
	s2, _, _ := e.do(t, "POST", "/api/v1/forms/letter", "application/json", `{"name":"Оля","wish":"санки"}`, key)
	if s1 != http.StatusCreated || s2 != http.StatusOK || len(e.items(t, acd.Form)) != 1 {
		t.Errorf("form posts: %d then %d, %d items; want 201, 200 and one item", s1, s2, len(e.items(t, acd.Form)))
	}
	for _, u := range []botapi.Update{tgUpdate(1, 1, "привет"), tgUpdate(1, 1, "привет"),
		tgUpdate(2, 2, "оператор"), tgUpdate(3, 3, "ау"), tgUpdate(3, 3, "ау")} {
		if got := e.deliver(t, tgSecret, u); got != http.StatusOK {
			t.Fatalf("update %d: status %d", u.UpdateID, got)
		}
	}
	items := e.items(t, acd.Telegram)
	if len(items) != 1 || len(e.messages(t, items[0].ID)) != 5 || items[0].State != acd.StateQueued {
		t.Errorf("telegram items %+v; want one queued with 5 messages (greeting and handoff with the bot's answers, the line once)", items)
	}
	waitSent(t, fake, 2) // the bot's two answers, from the outbox
	for deadline := time.Now().Add(waitLimit); len(e.pendingTelegram(t)) > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("telegram replies still pending in the outbox")
		}
	}

	quiet := tgUpdate(4, 1, "когда придут подарки?")
	quiet.Message.Chat.ID, quiet.Message.From.ID = 99, 99
	e.deliver(t, tgSecret, quiet)
	e.clock.advance(DefaultBotQuiet)
	if n, err := e.m.closeQuiet(context.Background()); err != nil || n != 1 {
		t.Errorf("quiet chats closed: %d (error %v), want 1", n, err)
	}
}
