package messenger

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/messenger/telegramtest"
	"github.com/morozhq/moroz/store"
)

// BenchmarkFormPost measures letters taken through the form handler into
// the real SQLite store and work service, each answered only once stored.
func BenchmarkFormPost(b *testing.B) {
	e := newEnv(b, func(o *Options) { o.Config.RatePerMinute, o.Config.RateBurst = 1<<30, 1<<30 })
	h := e.m.Routes()["POST /api/v1/forms/{form}"]
	mux := http.NewServeMux()
	mux.Handle("POST /api/v1/forms/{form}", h)
	body := `{"name":"Оля","age":7,"city":"Гомель","wish":"Хочу санки и коньки","email":"olya@example.org"}`
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest("POST", "/api/v1/forms/letter", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, r)
			if rec.Code != http.StatusCreated {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "posts/s")
}

// BenchmarkBotTurn measures one chat line answered by the bot: the line,
// with the bot's state, and the answer stored on the chat's kept item in
// the real SQLite store before the answer goes out.
func BenchmarkBotTurn(b *testing.B) {
	e := newEnv(b, nil)
	v := visitor{ch: acd.Chat, id: store.Identity{Kind: "chat", Value: strings.Repeat("a", 32)}}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		out, err := e.m.receive(ctx, v, inbound{ExternalID: "chat:bench:" + strconv.Itoa(i), Text: "когда придут подарки?", At: e.clock.now()})
		if err != nil || len(out.Replies) == 0 || out.Queued {
			b.Fatalf("turn %d: %+v, %v", i, out, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "turns/s")
}

// BenchmarkTelegramBotTurn measures one Telegram message answered by the
// bot: the message with the bot's state, the answers and their places in
// the outbox, stored in one commit before the webhook would answer 200.
// The senders take the answers to a fake Bot API meanwhile.
func BenchmarkTelegramBotTurn(b *testing.B) {
	api := httptest.NewServer(telegramtest.New(botToken))
	b.Cleanup(api.Close)
	e := newEnv(b, func(o *Options) {
		o.Config.Telegram = Telegram{Token: botToken, API: api.URL, WebhookSecret: tgSecret}
	})
	v := visitor{ch: acd.Telegram, id: store.Identity{Kind: "telegram", Value: "4242"}}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		out, err := e.m.receive(ctx, v, inbound{ExternalID: "tg:4242:" + strconv.Itoa(i), Text: "когда придут подарки?", At: e.clock.now()})
		if err != nil || len(out.Replies) == 0 || out.Queued {
			b.Fatalf("turn %d: %+v, %v", i, out, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "turns/s")
}
