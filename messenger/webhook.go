package messenger

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/morozhq/moroz/messenger/botapi"
)

// webhookSecret is what the Bot API takes as setWebhook's secret_token.
var webhookSecret = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

// WebhookPath is where Moroz serves Telegram's updates; the public URL
// given to SetTelegramWebhook must reach it.
const WebhookPath = "/telegram/webhook"

// setWebhookTimeout bounds one setWebhook call.
const setWebhookTimeout = 30 * time.Second

// SetTelegramWebhook tells Telegram (setWebhook) to post the bot's
// updates to publicURL, an HTTPS address that reaches WebhookPath, with
// t.WebhookSecret as the secret_token the webhook checks. Updates are
// limited to messages, the only ones Moroz reads. hc nil means a client
// with a timeout. It fails on a configuration that is off, polls, or has
// no secret, and on Telegram's refusal.
func SetTelegramWebhook(ctx context.Context, t Telegram, publicURL string, hc *http.Client) error {
	if err := checkWebhook(t, publicURL); err != nil {
		return fmt.Errorf("set telegram webhook: %w", err)
	}
	if hc == nil {
		hc = &http.Client{Timeout: setWebhookTimeout}
	}
	api := t.API
	if api == "" {
		api = DefaultTelegramAPI
	}
	wh := botapi.Webhook{URL: publicURL, SecretToken: t.WebhookSecret, AllowedUpdates: []string{"message"}}
	if err := botapi.New(api, t.Token, hc).SetWebhook(ctx, wh); err != nil {
		return fmt.Errorf("set telegram webhook %s: %w", publicURL, err)
	}
	return nil
}

func checkWebhook(t Telegram, publicURL string) error {
	switch {
	case t.Token == "":
		return errors.New("messenger.telegram.token is empty: the bot is off")
	case t.Poll:
		return errors.New("messenger.telegram.poll is on: a webhook would stop the poller")
	case !webhookSecret.MatchString(t.WebhookSecret):
		return errors.New("messenger.telegram.webhook_secret: want 1 to 256 of A-Z, a-z, 0-9, _ and -")
	}
	u, err := url.Parse(publicURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("url %q: Telegram posts only to https://HOST/...", publicURL)
	}
	return nil
}

// isWebhookConflict reports a getUpdates refused because a webhook is set.
func isWebhookConflict(err error) bool {
	var ae *botapi.APIError
	return errors.As(err, &ae) && ae.Code == http.StatusConflict
}
