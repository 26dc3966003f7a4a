package messenger

// Telegram's servers cannot be reached from tests: these run against
// telegramtest, a fake Bot API server that follows the published Bot API
// (setWebhook's HTTPS url and secret_token rules, getUpdates' 409 while a
// webhook is set).

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/messenger/botapi"
	"github.com/morozhq/moroz/messenger/telegramtest"
)

func TestSetTelegramWebhookRefusesBadSettings(t *testing.T) {
	fake := telegramtest.New(botToken)
	api := httptest.NewServer(fake)
	t.Cleanup(api.Close)
	good := Telegram{Token: botToken, API: api.URL, WebhookSecret: tgSecret}
	tests := []struct {
		name   string
		adjust func(*Telegram)
		url    string
	}{
		{"bot off", func(c *Telegram) { c.Token = "" }, "https://moroz.example/telegram/webhook"},
		{"polling", func(c *Telegram) { c.Poll = true }, "https://moroz.example/telegram/webhook"},
		{"no secret", func(c *Telegram) { c.WebhookSecret = "" }, "https://moroz.example/telegram/webhook"},
		{"secret with a space", func(c *Telegram) { c.WebhookSecret = "two words" }, "https://moroz.example/telegram/webhook"},
		{"plain http", func(*Telegram) {}, "http://moroz.example/telegram/webhook"},
		{"no host", func(*Telegram) {}, "https:///telegram/webhook"},
		{"not a url", func(*Telegram) {}, "::"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.adjust(&c)
			if err := SetTelegramWebhook(context.Background(), c, tt.url, nil); err == nil {
				t.Errorf("SetTelegramWebhook: no error")
			}
			if got := fake.Webhook(); got.URL != "" {
				t.Errorf("webhook set to %+v", got)
			}
		})
	}
}

func TestTelegramRefusesAWebhookThatIsNotHTTPS(t *testing.T) {
	fake := telegramtest.New(botToken)
	api := httptest.NewServer(fake)
	t.Cleanup(api.Close)
	err := botapi.New(api.URL, botToken, api.Client()).SetWebhook(context.Background(), botapi.Webhook{URL: "http://moroz.example/x"})
	var ae *botapi.APIError
	if !errors.As(err, &ae) || ae.Code != http.StatusBadRequest {
		t.Errorf("setWebhook with http: %v, want the Bot API's 400", err)
	}
}

func TestWebhookSetThenUpdatesArrive(t *testing.T) {
	ctx := context.Background()
	e, fake := tgEnv(t, false)
	mux := http.NewServeMux()
	for p, h := range e.m.Routes() {
		mux.Handle(p, h)
	}
	public := httptest.NewTLSServer(mux) // Telegram posts only to HTTPS
	t.Cleanup(public.Close)

	err := SetTelegramWebhook(ctx, e.m.cfg.Telegram, public.URL+WebhookPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := telegramtest.Webhook{URL: public.URL + WebhookPath, Secret: tgSecret, AllowedUpdates: []string{"message"}, MaxConnections: 40}
	if diff := cmp.Diff(fake.Webhook(), want); diff != "" {
		t.Errorf("webhook (-got +want):\n%s", diff)
	}
	info, err := botapi.New(e.m.cfg.Telegram.API, botToken, http.DefaultClient).GetWebhookInfo(ctx)
	if err != nil || info.URL != want.URL {
		t.Errorf("getWebhookInfo: %+v, %v", info, err)
	}
	status, err := fake.DeliverToWebhook(ctx, public.Client(), tgUpdate(1, 1, "привет"))
	if err != nil || status != http.StatusOK {
		t.Fatalf("update through the webhook set: %d, %v", status, err)
	}
	if got := e.items(t, acd.Telegram); len(got) != 1 {
		t.Errorf("%d telegram items, want the chat's one", len(got))
	}
}

func TestPollerDeletesAWebhookLeftSet(t *testing.T) {
	fake := telegramtest.New(botToken)
	fake.SetWebhookDirectly(telegramtest.Webhook{URL: "https://old.example/telegram/webhook", Secret: "old"})
	api := httptest.NewServer(fake)
	t.Cleanup(api.Close)
	e := newEnv(t, func(o *Options) {
		o.Config.Telegram = Telegram{Token: botToken, API: api.URL, Poll: true, PollTimeout: time.Second}
	})
	fake.Push(1, tgUpdate(1, 1, "привет"))
	waitSent(t, fake, 1) // the bot answered the update it polled
	if got := fake.Webhook(); got.URL != "" {
		t.Errorf("webhook still set: %+v", got)
	}
	if got := e.items(t, acd.Telegram); len(got) != 1 {
		t.Errorf("%d telegram items, want one", len(got))
	}
}
