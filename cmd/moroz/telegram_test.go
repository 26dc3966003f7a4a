package main

// Telegram's servers cannot be reached from tests: this runs against
// telegramtest, a fake Bot API server that follows the published Bot API.

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/morozhq/moroz/messenger/telegramtest"
)

func TestTelegramSetWebhook(t *testing.T) {
	const token, secret = "123:abc", "s3cret-token"
	fake := telegramtest.New(token)
	api := httptest.NewServer(fake)
	t.Cleanup(api.Close)
	env := []string{"MOROZ_MESSENGER_TELEGRAM_TOKEN=" + token, "MOROZ_MESSENGER_TELEGRAM_API=" + api.URL,
		"MOROZ_MESSENGER_TELEGRAM_WEBHOOK_SECRET=" + secret}
	data := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		want string // in the output
	}{
		{"no url", []string{"telegram", "set-webhook", "--data", data}, 2, "set-webhook https://"},
		{"unknown verb", []string{"telegram", "fly"}, 2, "set-webhook"},
		{"plain http", []string{"telegram", "set-webhook", "http://moroz.example/telegram/webhook", "--data", data}, 1, "https"},
		{"set", []string{"telegram", "set-webhook", "https://moroz.example/telegram/webhook", "--data", data}, 0, "webhook set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), tt.args, strings.NewReader(""), &out, &errOut, env)
			if code != tt.code || !strings.Contains(out.String()+errOut.String(), tt.want) {
				t.Errorf("code %d, out %q, err %q; want %d and %q", code, out.String(), errOut.String(), tt.code, tt.want)
			}
		})
	}
	if got := fake.Webhook(); got.URL != "https://moroz.example/telegram/webhook" || got.Secret != secret {
		t.Errorf("webhook %+v, want the URL with the configured secret", got)
	}
}
