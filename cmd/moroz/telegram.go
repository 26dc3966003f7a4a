package main

import (
	"context"
	"fmt"
	"io"

	"github.com/morozhq/moroz/messenger"
)

// telegramCmd: moroz telegram set-webhook URL, with the bot's token and
// webhook secret from the configuration (messenger.telegram).
func telegramCmd(ctx context.Context, args []string, stdout, stderr io.Writer, env []string) error {
	const want = "want: moroz telegram set-webhook https://HOST" + messenger.WebhookPath
	if len(args) == 0 || args[0] != "set-webhook" {
		return usageError(want)
	}
	fs := newFlagSet("telegram set-webhook", stderr)
	var sf storeFlags
	sf.register(fs)
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError(want)
	}
	c, err := sf.load(fs, env, nil)
	if err != nil {
		return err
	}
	if err := messenger.SetTelegramWebhook(ctx, c.Messenger.Telegram, pos[0], nil); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "telegram webhook set to %s\n", pos[0])
	return nil
}
