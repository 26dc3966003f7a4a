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
	maxUpdateBody  = 1 << 20          // bytes of one webhook update
	pollBackoffMax = 30 * time.Second // longest pause after a failed getUpdates
)

// telegram is the bot: webhook or poller in, the store's outbox out,
// sent within Telegram's rate limits (tgoutbox.go).
type telegram struct {
	m       *Messenger
	api     *botapi.Client
	secret  []byte
	shards  []*tgShard // by chat, modulo outboxShards
	marks   outMarker  // the store, where attempts are recorded
	claims  *tgClaims  // the sender's share of the store's outbox; nil in tests without a store
	overall *rate.Limiter

	mu      sync.Mutex
	perChat map[int64]*rate.Limiter // guarded by mu
}

func (m *Messenger) startTelegram(client *http.Client) error {
	if m.dataDir == "" {
		return errors.New("messenger: telegram: DataDir is required for attachments")
	}
	if client == nil {
		client = &http.Client{Timeout: m.cfg.Telegram.PollTimeout + 30*time.Second}
	}
	tc := m.cfg.Telegram
	tg := &telegram{m: m, secret: []byte(tc.WebhookSecret), shards: newShards(), marks: m.st,
		claims:  newClaims(m.st, m.outbox),
		api:     botapi.New(tc.API, tc.Token, client),
		overall: rate.NewLimiter(rate.Limit(tc.RatePerSecond), tc.RatePerSecond),
		perChat: map[int64]*rate.Limiter{}}
	m.tg = tg
	m.work.SetSender(acd.Telegram, tg)
	m.goOwned(tg.runOutbox)
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
		status := http.StatusBadRequest
		if _, big := errors.AsType[*http.MaxBytesError](err); big {
			status = http.StatusRequestEntityTooLarge
		}
		writeError(w, status, "update: "+err.Error())
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
	_, err = tg.m.receive(ctx, v, inbound{ExternalID: ext, Text: text, Headers: headers, At: at})
	return err // the bot's answers are in the outbox with the message
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

// Send queues a helper's stored reply to the item's Telegram chat in the
// store's outbox (work.Sender), cut into parts Telegram takes, in one
// commit. A nil error means it is queued durably: a restart sends it.
func (tg *telegram) Send(ctx context.Context, it store.Item, m store.Message) error {
	chat, err := telegramChat(it)
	if err != nil {
		return err
	}
	rows, err := outRows(it.ID, chat, fmt.Sprintf("%d:m%d", it.ID, m.ID), splitText(m.Text, maxTelegramText))
	if err != nil || len(rows) == 0 {
		return err
	}
	filed, err := tg.m.st.FileLetter(ctx, nil, rows)
	if err != nil {
		return fmt.Errorf("telegram item %d: queue the reply: %w", it.ID, err)
	}
	tg.queue(filed.Out)
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
