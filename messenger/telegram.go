package messenger

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/messenger/botapi"
	"github.com/morozhq/moroz/store"
)

// Telegram limits.
const (
	outboxSize      = 1024             // replies waiting to be sent, per shard
	outboxShards    = 8                // senders; a chat always uses the same one, so its replies keep their order
	maxSendAttempts = 5                // per reply, 429s included
	maxUpdateBody   = 1 << 20          // bytes of one webhook update
	pollBackoffMax  = 30 * time.Second // longest pause after a failed getUpdates
)

// telegram is the bot: webhook or poller in, rate-limited outbox out.
type telegram struct {
	m       *Messenger
	api     *botapi.Client
	secret  []byte
	outbox  []chan outMessage // by chat, modulo outboxShards
	overall *rate.Limiter

	mu      sync.Mutex
	perChat map[int64]*rate.Limiter // guarded by mu
}

// outMessage is a reply waiting in the outbox.
type outMessage struct {
	chat int64
	text string
}

func (m *Messenger) startTelegram(client *http.Client) error {
	if m.dataDir == "" {
		return errors.New("messenger: telegram: DataDir is required for attachments")
	}
	if client == nil {
		client = &http.Client{Timeout: m.cfg.Telegram.PollTimeout + 30*time.Second}
	}
	tc := m.cfg.Telegram
	tg := &telegram{m: m, secret: []byte(tc.WebhookSecret), outbox: newOutbox(),
		api:     botapi.New(tc.API, tc.Token, client),
		overall: rate.NewLimiter(rate.Limit(tc.RatePerSecond), tc.RatePerSecond),
		perChat: map[int64]*rate.Limiter{}}
	m.tg = tg
	m.work.SetSender(acd.Telegram, tg)
	for _, q := range tg.outbox {
		m.goOwned(func(ctx context.Context) { tg.sendLoop(ctx, q) })
	}
	if tc.Poll {
		m.goOwned(tg.pollLoop)
	}
	return nil
}

// serveWebhook takes one update from Telegram. It answers 200 only once
// the update is stored (or known), so that Telegram redelivers otherwise.
func (tg *telegram) serveWebhook(w http.ResponseWriter, r *http.Request) {
	got := []byte(r.Header.Get("X-Telegram-Bot-Api-Secret-Token"))
	if subtle.ConstantTimeCompare(got, tg.secret) != 1 {
		writeError(w, http.StatusUnauthorized, "wrong or missing secret token")
		return
	}
	var u botapi.Update
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxUpdateBody))
	if err := dec.Decode(&u); err != nil {
		writeError(w, http.StatusBadRequest, "update: "+err.Error())
		return
	}
	if err := tg.handle(r.Context(), u); err != nil {
		tg.m.log.Error("telegram update not stored; Telegram will send it again", "update", u.UpdateID, "err", err)
		writeError(w, http.StatusInternalServerError, "update not stored")
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// pollLoop takes updates by getUpdates until ctx ends, confirming each
// batch (by the next offset) only once it is handled.
func (tg *telegram) pollLoop(ctx context.Context) {
	var offset int64
	backoff := time.Second
	for ctx.Err() == nil {
		us, err := tg.api.GetUpdates(ctx, offset, tg.m.cfg.Telegram.PollTimeout)
		if err == nil {
			offset, err = tg.handleBatch(ctx, us, offset)
		}
		if err == nil {
			backoff = time.Second
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if isWebhookConflict(err) {
			tg.m.log.Warn("telegram has a webhook set; deleting it to poll")
			err = tg.api.DeleteWebhook(ctx, false)
			if err == nil {
				continue
			}
		}
		tg.m.log.Warn("telegram polling failed; retrying", "err", err, "retry_in", backoff.String())
		if !sleepCtx(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, pollBackoffMax)
	}
}

// handleBatch handles updates in order and returns the offset past the
// last one handled.
func (tg *telegram) handleBatch(ctx context.Context, us []botapi.Update, offset int64) (int64, error) {
	for _, u := range us {
		if err := tg.handle(ctx, u); err != nil {
			return offset, err
		}
		offset = u.UpdateID + 1
	}
	return offset, nil
}

// handle takes one update: its attachments are fetched, then the message
// goes to its chat's item or to the bot, whose answers are queued.
func (tg *telegram) handle(ctx context.Context, u botapi.Update) error {
	msg := u.Message
	if msg == nil || msg.Chat.ID == 0 || (msg.From != nil && msg.From.IsBot) {
		return nil // edits, channel posts, service updates: nothing to answer
	}
	ext := fmt.Sprintf("tg:%d:%d", msg.Chat.ID, msg.MessageID)
	if _, err := tg.m.st.ItemByMessageExternalID(ctx, ext); err == nil {
		return nil // seen before: Telegram's redelivery, or restarted update ids
	}
	headers, err := tg.attachments(ctx, msg)
	if err != nil {
		return err
	}
	v := visitor{ch: acd.Telegram, id: store.Identity{Kind: "telegram", Value: strconv.FormatInt(msg.Chat.ID, 10)},
		name: chatName(msg), lang: userLang(msg.From)}
	text := msg.Text
	if text == "" {
		text = msg.Caption
	}
	at := time.Unix(msg.Date, 0)
	if msg.Date == 0 {
		at = tg.m.now()
	}
	out, err := tg.m.receive(ctx, v, inbound{ExternalID: ext, Text: text, Headers: headers, At: at})
	if err != nil {
		return err
	}
	for _, r := range out.Replies {
		tg.enqueue(msg.Chat.ID, r)
	}
	return nil
}

func chatName(msg *botapi.Message) string {
	if u := msg.From; u != nil {
		return strings.TrimSpace(u.FirstName + " " + u.LastName)
	}
	return strings.TrimSpace(msg.Chat.FirstName + " " + msg.Chat.LastName)
}

func userLang(u *botapi.User) string {
	if u == nil {
		return ""
	}
	switch l, _, _ := strings.Cut(u.LanguageCode, "-"); l {
	case "ru", "be", "en":
		return l
	}
	return ""
}

// Attachment is a file a message carried, as kept in the message's
// Headers under "attachments". File is relative to the attachments folder.
type Attachment struct {
	Kind     string `json:"kind"` // photo or voice
	File     string `json:"file"`
	Mime     string `json:"mime"`
	Size     int64  `json:"size"`
	Duration int    `json:"duration,omitempty"` // seconds, of a voice note
}

// attachments fetches the message's photo (its largest size) and voice
// note into the data folder and describes them as message headers.
func (tg *telegram) attachments(ctx context.Context, msg *botapi.Message) (json.RawMessage, error) {
	var as []Attachment
	if n := len(msg.Photo); n > 0 {
		p := msg.Photo[n-1] // sizes come smallest first
		a, err := tg.fetch(ctx, msg.Chat.ID, p.FileID, p.FileUniqueID, "photo", "image/jpeg", ".jpg")
		if err != nil {
			return nil, err
		}
		as = append(as, a)
	}
	if v := msg.Voice; v != nil {
		mt := v.MimeType
		if mt == "" {
			mt = "audio/ogg"
		}
		a, err := tg.fetch(ctx, msg.Chat.ID, v.FileID, v.FileUniqueID, "voice", mt, ".ogg")
		if err != nil {
			return nil, err
		}
		a.Duration = v.Duration
		as = append(as, a)
	}
	if len(as) == 0 {
		return nil, nil
	}
	return json.Marshal(map[string]any{"attachments": as})
}

// fetch downloads one file to attachments/telegram/<chat>/<unique id><ext>.
func (tg *telegram) fetch(ctx context.Context, chat int64, fileID, uniqueID, kind, mt, ext string) (Attachment, error) {
	if uniqueID == "" || strings.ContainsAny(uniqueID, `/\.`) {
		uniqueID = randomID()
	}
	rel := path.Join("telegram", strconv.FormatInt(chat, 10), uniqueID+ext)
	full := filepath.Join(tg.m.dataDir, "attachments", filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(full), 0o750); err != nil {
		return Attachment{}, fmt.Errorf("attachment %s: %w", rel, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(full), ".part-*")
	if err != nil {
		return Attachment{}, fmt.Errorf("attachment %s: %w", rel, err)
	}
	defer os.Remove(tmp.Name()) // after the rename there is nothing left to remove
	_, err = tg.api.Download(ctx, fileID, tg.m.cfg.Telegram.MaxAttachment, tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), full)
	}
	if err != nil {
		return Attachment{}, fmt.Errorf("attachment %s: %w", rel, err)
	}
	st, err := os.Stat(full)
	if err != nil {
		return Attachment{}, fmt.Errorf("attachment %s: %w", rel, err)
	}
	return Attachment{Kind: kind, File: rel, Mime: mt, Size: st.Size()}, nil
}

// Send queues a helper's reply to the item's Telegram chat (work.Sender).
// It fails only when the chat is unknown or the outbox is full.
func (tg *telegram) Send(ctx context.Context, it store.Item, m store.Message) error {
	chat, err := telegramChat(it)
	if err != nil {
		return err
	}
	for _, part := range splitText(m.Text, maxTelegramText) {
		if !tg.enqueue(chat, part) {
			return fmt.Errorf("telegram item %d: outbox full", it.ID)
		}
	}
	return nil
}

// maxTelegramText is the longest text sendMessage takes, in characters.
const maxTelegramText = 4096

// splitText cuts text into parts of at most max characters, at a line
// break or space where there is one in the second half of a part.
func splitText(text string, max int) []string {
	var parts []string
	r := []rune(text)
	for len(r) > max {
		cut := max
		for i := max; i > max/2; i-- {
			if r[i] == '\n' || r[i] == ' ' {
				cut = i
				break
			}
		}
		parts = append(parts, string(r[:cut]))
		r = r[cut:]
		for len(r) > 0 && (r[0] == '\n' || r[0] == ' ') {
			r = r[1:]
		}
	}
	if len(r) > 0 {
		parts = append(parts, string(r))
	}
	return parts
}

// telegramChat reads the chat id an item was made for.
func telegramChat(it store.Item) (int64, error) {
	var d struct {
		Peer string `json:"peer"`
	}
	if err := json.Unmarshal(it.Data, &d); err != nil || d.Peer == "" {
		return 0, fmt.Errorf("telegram item %d: no chat in its data", it.ID)
	}
	chat, err := strconv.ParseInt(d.Peer, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("telegram item %d: chat %q: %w", it.ID, d.Peer, err)
	}
	return chat, nil
}

func newOutbox() []chan outMessage {
	out := make([]chan outMessage, outboxShards)
	for i := range out {
		out[i] = make(chan outMessage, outboxSize)
	}
	return out
}

func (tg *telegram) enqueue(chat int64, text string) bool {
	shard := uint64(chat) % uint64(len(tg.outbox))
	select {
	case tg.outbox[shard] <- outMessage{chat: chat, text: text}:
		return true
	default:
		tg.m.log.Error("telegram outbox full; reply dropped (it stays stored)", "peer", chat)
		return false
	}
}

// sendLoop sends the replies of one shard in order within Telegram's
// limits: about 30 messages a second overall and one a second per chat. A
// chat held by its limit or by flood control holds only its shard.
func (tg *telegram) sendLoop(ctx context.Context, q <-chan outMessage) {
	for {
		select {
		case <-ctx.Done():
			return
		case om := <-q:
			tg.sendOne(ctx, om)
		}
	}
}

// sendOne sends one reply, waiting out flood control (429 retry_after)
// and retrying other failures a few times.
func (tg *telegram) sendOne(ctx context.Context, om outMessage) {
	for attempt := 1; ; attempt++ {
		if tg.overall.Wait(ctx) != nil || tg.chatLimiter(om.chat).Wait(ctx) != nil {
			return
		}
		err := tg.api.SendMessage(ctx, om.chat, om.text)
		if err == nil || ctx.Err() != nil {
			return
		}
		wait := time.Duration(attempt) * time.Second
		var ae *botapi.APIError
		if errors.As(err, &ae) {
			if ae.RetryAfter > 0 {
				wait = ae.RetryAfter
			} else if ae.Code >= 400 && ae.Code < 500 && ae.Code != http.StatusTooManyRequests {
				attempt = maxSendAttempts // blocked by the user, chat gone: retrying will not help
			}
		}
		if attempt >= maxSendAttempts {
			tg.m.log.Error("telegram reply not sent", "peer", om.chat, "err", err)
			return
		}
		tg.m.log.Warn("telegram send failed; retrying", "peer", om.chat, "err", err, "retry_in", wait.String())
		if !sleepCtx(ctx, wait) {
			return
		}
	}
}

func (tg *telegram) chatLimiter(chat int64) *rate.Limiter {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	l := tg.perChat[chat]
	if l == nil {
		if len(tg.perChat) > maxConversations {
			clear(tg.perChat) // a limiter is only worth keeping for a second
		}
		l = rate.NewLimiter(defaultTelegramPerChat, 1)
		tg.perChat[chat] = l
	}
	return l
}

// sleepCtx waits for d or ctx, and reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
