package messenger

// Telegram's servers cannot be reached from tests: these tests run against
// telegramtest, a fake Bot API server that follows the published Bot API
// methods and JSON shapes (getUpdates, getFile, sendMessage, file downloads).

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/time/rate"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/logging"
	"github.com/morozhq/moroz/messenger/botapi"
	"github.com/morozhq/moroz/messenger/telegramtest"
	"github.com/morozhq/moroz/store"
)

const (
	botToken  = "123456:TEST-token"
	tgSecret  = "webhook-s3cret"
	olyaChat  = 4242
	waitLimit = 20 * time.Second // a hang guard, not a timing assertion
)

func tgEnv(t *testing.T, poll bool) (*env, *telegramtest.Server) {
	t.Helper()
	fake := telegramtest.New(botToken)
	api := httptest.NewServer(fake)
	t.Cleanup(api.Close)
	e := newEnv(t, func(o *Options) {
		o.Config.Telegram = Telegram{Token: botToken, API: api.URL, WebhookSecret: tgSecret, Poll: poll,
			PollTimeout: 5 * time.Second}
	})
	return e, fake
}

func tgUpdate(updateID, msgID int64, text string) botapi.Update {
	return botapi.Update{UpdateID: updateID, Message: &botapi.Message{MessageID: msgID, Date: 1798000000, Text: text,
		From: &botapi.User{ID: olyaChat, FirstName: "Оля", LanguageCode: "ru"}, Chat: botapi.Chat{ID: olyaChat, Type: "private"}}}
}

func (e *env) deliver(t *testing.T, secret string, u botapi.Update) int {
	t.Helper()
	status, err := telegramtest.Deliver(context.Background(), e.srv.Client(), e.srv.URL+"/telegram/webhook", secret, u)
	if err != nil {
		t.Fatal(err)
	}
	return status
}

func (e *env) messages(t *testing.T, itemID int64) []store.Message {
	t.Helper()
	ms, err := e.st.Messages(context.Background(), itemID)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func waitSent(t *testing.T, fake *telegramtest.Server, n int) []telegramtest.Sent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	sent := fake.WaitSent(ctx, n)
	if len(sent) < n {
		t.Fatalf("%d messages sent, want %d: %+v", len(sent), n, sent)
	}
	return sent
}

func TestTelegramWebhookRefusesForgedUpdates(t *testing.T) {
	e, _ := tgEnv(t, false)
	for _, secret := range []string{"", "wrong", tgSecret + "x"} {
		if got := e.deliver(t, secret, tgUpdate(1, 1, "привет")); got != http.StatusUnauthorized {
			t.Errorf("secret %q: status %d, want 401", secret, got)
		}
	}
	status, _, _ := e.do(t, "POST", "/telegram/webhook", "application/json", `{"update_id":`,
		map[string]string{"X-Telegram-Bot-Api-Secret-Token": tgSecret})
	if status != http.StatusBadRequest {
		t.Errorf("broken update: status %d, want 400", status)
	}
	huge := `{"update_id":1,"message":{"text":"` + strings.Repeat("а", maxUpdateBody) + `"}}`
	status, _, _ = e.do(t, "POST", "/telegram/webhook", "application/json", huge,
		map[string]string{"X-Telegram-Bot-Api-Secret-Token": tgSecret})
	if status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized update: status %d, want 413", status)
	}
}

func TestTelegramChatHandedToHelperAndAnswered(t *testing.T) {
	ctx := context.Background()
	e, fake := tgEnv(t, false)
	fake.AddFile("photo-big", "photos/file_2.jpg", []byte("\xff\xd8 a big jpeg"))
	voice := []byte("OggS voice note")
	fake.AddFile("voice-1", "voice/file_3.oga", voice)

	if got := e.deliver(t, tgSecret, tgUpdate(100, 1, "привет")); got != http.StatusOK {
		t.Fatalf("greeting update: status %d", got)
	}
	if got := waitSent(t, fake, 1); got[0].ChatID != olyaChat || got[0].Text == "" {
		t.Fatalf("bot's greeting: %+v", got)
	}
	e.deliver(t, tgSecret, tgUpdate(101, 2, "позовите оператора"))
	items := e.items(t, acd.Telegram)
	if len(items) != 1 || items[0].State != acd.StateQueued || items[0].Queue != "chats" {
		t.Fatalf("after the handoff: items %+v, want one queued in chats", items)
	}
	it := items[0]
	if got := len(e.messages(t, it.ID)); got != 4 {
		t.Errorf("transcript: %d messages, want 4 (two in, two from the bot)", got)
	}

	photo := tgUpdate(102, 3, "")
	photo.Message.Caption = "моя ёлка"
	photo.Message.Photo = []botapi.PhotoSize{{FileID: "photo-small", FileUniqueID: "ps", Width: 90}, {FileID: "photo-big", FileUniqueID: "pb", Width: 800}}
	voiceUpd := tgUpdate(103, 4, "")
	voiceUpd.Message.Voice = &botapi.Voice{FileID: "voice-1", FileUniqueID: "v1", Duration: 3, MimeType: "audio/ogg"}
	for _, u := range []botapi.Update{photo, voiceUpd, photo} {
		if got := e.deliver(t, tgSecret, u); got != http.StatusOK {
			t.Fatalf("update %d: status %d", u.UpdateID, got)
		}
	}
	restarted := photo
	restarted.UpdateID = 7 // ids restart after a quiet week; the message is the same
	e.deliver(t, tgSecret, restarted)

	msgs := e.messages(t, it.ID)
	if len(msgs) != 6 {
		t.Fatalf("%d messages after photo, voice and two redeliveries, want 6", len(msgs))
	}
	if msgs[4].Text != "моя ёлка" || msgs[4].ExternalID != "tg:4242:3" {
		t.Errorf("photo message: text %q ext %q", msgs[4].Text, msgs[4].ExternalID)
	}
	var h struct{ Attachments []Attachment }
	json.Unmarshal(msgs[5].Headers, &h)
	want := []Attachment{{Kind: "voice", File: "telegram/4242/v1.ogg", Mime: "audio/ogg", Size: int64(len(voice)), Duration: 3}}
	if diff := cmp.Diff(h.Attachments, want); diff != "" {
		t.Errorf("voice attachment (-got +want):\n%s", diff)
	}
	if b, err := os.ReadFile(filepath.Join(e.dir, "attachments", "telegram", "4242", "pb.jpg")); err != nil || !bytes.Equal(b, []byte("\xff\xd8 a big jpeg")) {
		t.Errorf("stored photo: %q, %v; want the largest size", b, err)
	}

	checkVoicePlayable(t, e, it.ID, msgs[5].ID, voice)

	elf := e.helper(t, "elf")
	if err := e.work.SetStatus(ctx, elf.ID, acd.StatusAvailable, ""); err != nil {
		t.Fatal(err)
	}
	e.waitEvent(t, acd.EventOffered, it.ID)
	if err := e.work.Accept(ctx, it.ID, elf.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.work.Reply(ctx, it.ID, elf.ID, store.Message{Text: "Какая красивая ёлка!"}); err != nil {
		t.Fatal(err)
	}
	sent := waitSent(t, fake, 3)
	if last := sent[len(sent)-1]; last.ChatID != olyaChat || last.Text != "Какая красивая ёлка!" {
		t.Errorf("helper's reply sent as %+v", last)
	}
	e.deliver(t, tgSecret, tgUpdate(104, 5, "спасибо!"))
	if got := e.messages(t, it.ID); len(got) != 8 || got[7].Text != "спасибо!" {
		t.Errorf("%d messages after the answer, want 8 ending with the thanks", len(got))
	}
	if got := len(e.items(t, acd.Telegram)); got != 1 {
		t.Errorf("%d telegram items, want the chat's one", got)
	}
}

// checkVoicePlayable fetches a voice note the way the console does.
func checkVoicePlayable(t *testing.T, e *env, itemID, msgID int64, want []byte) {
	t.Helper()
	path := "/messenger/attachments/" + itoa(itemID) + "/" + itoa(msgID) + "/0"
	if status, _, _ := e.do(t, "GET", path, "", "", nil); status != http.StatusUnauthorized {
		t.Errorf("attachment without a login: status %d, want 401", status)
	}
	helperTok := consoleTokenPrefix + "helper-secret"
	if _, err := e.st.CreateToken(context.Background(), store.Token{Name: "script", Role: store.RoleHelper, Hash: digest(helperTok)}); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := e.do(t, "GET", path, "", "", map[string]string{"Authorization": "Bearer " + helperTok}); status != http.StatusForbidden {
		t.Errorf("attachment with a helper's token: status %d, want 403 (no item is a token's)", status)
	}
	tok := consoleTokenPrefix + "player-secret"
	if _, err := e.st.CreateToken(context.Background(), store.Token{Name: "player", Role: store.RoleSupervisor, Hash: digest(tok)}); err != nil {
		t.Fatal(err)
	}
	auth := map[string]string{"Authorization": "Bearer " + tok}
	status, hdr, body := e.do(t, "GET", path, "", "", auth)
	if status != http.StatusOK || hdr.Get("Content-Type") != "audio/ogg" || body != string(want) {
		t.Errorf("voice note: status %d type %q body %q", status, hdr.Get("Content-Type"), body)
	}
	if status, _, _ := e.do(t, "GET", "/messenger/attachments/"+itoa(itemID)+"/"+itoa(msgID)+"/9", "", "", auth); status != http.StatusNotFound {
		t.Errorf("attachment 9: status %d, want 404", status)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestTelegramUpdateKeptWhenFileCannotBeFetched(t *testing.T) {
	e, _ := tgEnv(t, false)
	e.deliver(t, tgSecret, tgUpdate(1, 1, "оператор")) // greeting and handoff: an item
	u := tgUpdate(2, 2, "")
	u.Message.Photo = []botapi.PhotoSize{{FileID: "gone", FileUniqueID: "g"}}
	if got := e.deliver(t, tgSecret, u); got != http.StatusInternalServerError {
		t.Errorf("status %d, want 500 so that Telegram sends it again", got)
	}
	items := e.items(t, acd.Telegram)
	if len(items) != 1 || len(e.messages(t, items[0].ID)) != 3 {
		t.Errorf("items %d; want one item with its 3 transcript messages and no half-stored photo", len(items))
	}
}

func TestTelegramLongPolling(t *testing.T) {
	e, fake := tgEnv(t, true)
	fake.Push(10, tgUpdate(10, 1, "привет"))
	waitSent(t, fake, 1)
	fake.Push(11, tgUpdate(11, 2, "human"))
	waitSent(t, fake, 2)
	items := e.items(t, acd.Telegram)
	if len(items) != 1 {
		t.Fatalf("%d items after asking for a person, want 1", len(items))
	}
	e.m.Close() // stops the poller; Close waits for it
	offs := fake.Offsets()
	if !slices.Contains(offs, 11) || !slices.Contains(offs, 12) {
		t.Errorf("offsets asked %v; want 11 and 12, confirming each handled update", offs)
	}
}

// handlerTransport serves HTTP requests with a handler in memory, so that
// the Bot API fake runs inside a synctest bubble.
type handlerTransport struct{ h http.Handler }

func (tr handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	tr.h.ServeHTTP(rec, r)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

// memMarks records the outbox marks and item events of a sender run
// without a store.
type memMarks struct {
	mu     sync.Mutex
	marks  []store.OutLetter
	events []store.Event
}

func (mm *memMarks) MarkOut(ctx context.Context, u store.OutLetter) error {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	mm.marks = append(mm.marks, u)
	return nil
}

func (mm *memMarks) UpdateItem(ctx context.Context, id int64, u store.ItemUpdate) (store.Item, error) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	u.Event.ItemID = id
	mm.events = append(mm.events, u.Event)
	return store.Item{ID: id}, nil
}

// sender starts a Telegram sender on fake inside a synctest bubble; rows
// queued with send get ids in order.
func sender(t *testing.T, fake *telegramtest.Server) (tg *telegram, mm *memMarks, send func(chat int64, text string), stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	m := &Messenger{log: logging.Discard(), cfg: Config{}.WithDefaults(), ctx: ctx, cancel: cancel, now: time.Now}
	mm = &memMarks{}
	tg = &telegram{m: m, shards: newShards(), marks: mm,
		api:     botapi.New("http://api.invalid", botToken, &http.Client{Transport: handlerTransport{fake}}),
		overall: rate.NewLimiter(30, 30), perChat: map[int64]*rate.Limiter{}}
	for _, sh := range tg.shards {
		m.goOwned(func(ctx context.Context) { tg.sendLoop(ctx, sh) })
	}
	var id int64
	send = func(chat int64, text string) {
		rows, err := outRows(9, chat, "k"+strconv.FormatInt(id, 10), []string{text})
		if err != nil {
			t.Fatal(err)
		}
		for i := range rows {
			id++
			rows[i].ID, rows[i].State, rows[i].NextAt = id, store.OutPending, time.Now()
		}
		tg.queue(rows)
	}
	return tg, mm, send, func() { cancel(); m.wg.Wait() }
}

func TestTelegramSendLimitsAndFloodControl(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := telegramtest.New(botToken)
		fake.Flood(1, 3) // the first send is refused: retry after 3s
		_, mm, send, stop := sender(t, fake)
		start := time.Now()
		send(1, "a1")
		synctest.Wait() // a1 met flood control and waits
		send(1, "a2")
		send(2, "b1")
		send(1, "a3")
		sent := fake.WaitSent(t.Context(), 4)
		synctest.Wait()
		stop()
		type at struct {
			Chat int64
			Text string
			Sec  int
		}
		var got []at
		for _, s := range sent {
			got = append(got, at{s.ChatID, s.Text, int(s.At.Sub(start).Round(time.Second) / time.Second)})
		}
		// b1, to another chat, is not held by chat 1; a1 waits out the flood
		// (3s), then a2 and a3 keep to one a second.
		want := []at{{2, "b1", 0}, {1, "a1", 3}, {1, "a2", 4}, {1, "a3", 5}}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("sends in fake seconds (-got +want):\n%s", diff)
		}
		if n := len(mm.marks); n != 4 {
			t.Errorf("%d marks, want one per reply (flood control is no attempt): %+v", n, mm.marks)
		}
		for _, l := range mm.marks {
			if l.State != store.OutSent || l.Attempts != 1 {
				t.Errorf("mark %+v, want sent at its first attempt", l)
			}
		}
	})
}

func TestTelegramSendRetriesAndGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := telegramtest.New(botToken)
		fake.Refuse(2, http.StatusBadGateway) // Telegram's servers are away for two sends
		fake.FailChat(5, http.StatusForbidden, "Forbidden: bot was blocked by the user")
		_, mm, send, stop := sender(t, fake)
		start := time.Now()
		send(1, "after two failures")
		send(5, "to a chat that blocked the bot")
		sent := fake.WaitSent(t.Context(), 1)
		synctest.Wait()
		stop()
		if len(sent) != 1 || sent[0].Text != "after two failures" {
			t.Fatalf("sent %+v, want only the retried reply", sent)
		}
		if got := sent[0].At.Sub(start).Round(time.Second); got != 3*time.Second {
			t.Errorf("sent after %v, want 3s (waits of 1s and 2s)", got)
		}
		states := map[string][]string{}
		for _, l := range mm.marks {
			states[first(l.To)] = append(states[first(l.To)], l.State)
		}
		want := map[string][]string{"1": {"pending", "pending", "sent"}, "5": {"failed"}}
		if diff := cmp.Diff(states, want); diff != "" {
			t.Errorf("marks by chat (-got +want):\n%s", diff)
		}
		if len(mm.events) != 1 || mm.events[0].Type != EventSendFailed || mm.events[0].ItemID != 9 {
			t.Errorf("item events %+v, want one send_failed on item 9", mm.events)
		}
	})
}

func TestSplitText(t *testing.T) {
	tests := []struct {
		name string
		text string
		max  int
		want []string
	}{
		{"short", "привет", 10, []string{"привет"}},
		{"empty", "", 10, nil},
		{"at a space", "один два три", 9, []string{"один два", "три"}},
		{"at the last break", "строка\nещё строка", 12, []string{"строка\nещё", "строка"}},
		{"no space", "абвгдеёжзи", 4, []string{"абвг", "деёж", "зи"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(splitText(tt.text, tt.max), tt.want); diff != "" {
				t.Errorf("parts (-got +want):\n%s", diff)
			}
		})
	}
}
