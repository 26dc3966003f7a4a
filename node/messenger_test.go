package node

// Telegram's servers cannot be reached from tests: these run against
// telegramtest, a fake Bot API server that follows the published Bot API.

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/config"
	"github.com/morozhq/moroz/logging"
	"github.com/morozhq/moroz/messenger/telegramtest"
	"github.com/morozhq/moroz/store"
)

const (
	tgToken  = "123456:node-test"
	tgSecret = "node-s3cret"
)

// startNode runs a node on cfg until the test ends or stop is called.
func startNode(t *testing.T, cfg config.Config) (n *Node, stop func()) {
	t.Helper()
	n, err := New(context.Background(), cfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		n.Drain()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		cancel()
	}
	t.Cleanup(stop)
	return n, stop
}

func telegramUpdate(id, msg int64, text string) map[string]any {
	return map[string]any{"update_id": id, "message": map[string]any{"message_id": msg, "date": time.Now().Unix(),
		"text": text, "from": map[string]any{"id": 77, "first_name": "Ваня", "language_code": "ru"},
		"chat": map[string]any{"id": 77, "type": "private"}}}
}

// TestTelegramRepliesSurviveANodeRestart stops a node while the Bot API
// refuses its replies; the next node on the same data folder sends them,
// each once.
func TestTelegramRepliesSurviveANodeRestart(t *testing.T) {
	fake := telegramtest.New(tgToken)
	fake.Refuse(-1, http.StatusBadGateway)
	api := httptest.NewServer(fake)
	t.Cleanup(api.Close)
	cfg := testConfig(t)
	cfg.Messenger.Telegram.Token, cfg.Messenger.Telegram.API = tgToken, api.URL
	cfg.Messenger.Telegram.WebhookSecret = tgSecret

	n, stop := startNode(t, cfg)
	hook := "http://" + n.Addr("http") + "/telegram/webhook"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a hang guard
	defer cancel()
	code, err := telegramtest.Deliver(ctx, http.DefaultClient, hook, tgSecret, telegramUpdate(10, 1, "когда придут подарки?"))
	if err != nil || code != http.StatusOK {
		t.Fatalf("webhook: %d, %v", code, err)
	}
	for fake.Refused() == 0 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	stop()

	fake.Refuse(0, 0)
	n, _ = startNode(t, cfg)
	sent := fake.WaitSent(ctx, 2) // the greeting and the answer about gifts
	items, err := n.Store().ListItems(ctx, store.ItemFilter{Channel: acd.Telegram})
	if err != nil || len(items) != 1 {
		t.Fatalf("telegram items %+v (%v), want one", items, err)
	}
	msgs, err := n.Store().Messages(ctx, items[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, m := range msgs {
		if m.Direction == "out" {
			want = append(want, m.Text)
		}
	}
	for pending := 1; pending > 0 && ctx.Err() == nil; time.Sleep(10 * time.Millisecond) {
		ls, err := n.Store().PendingOut(ctx, acd.Telegram, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		pending = len(ls)
	}
	sent = fake.Sent()
	if len(sent) != len(want) || len(want) != 2 {
		t.Fatalf("sent %+v, want the %d stored answers once each", sent, len(want))
	}
	for i, s := range sent {
		if s.ChatID != 77 || s.Text != want[i] {
			t.Errorf("sent[%d] = %d %q, want 77 %q", i, s.ChatID, s.Text, want[i])
		}
	}
}

// TestLetterFormBecomesAnItem posts the letter form to a running node.
func TestLetterFormBecomesAnItem(t *testing.T) {
	n, _ := startNode(t, testConfig(t))
	body := `{"name":"Петя","age":8,"city":"Минск","wish":"Конструктор","email":"petya@example.org"}`
	res, err := http.Post("http://"+n.Addr("http")+"/api/v1/forms/letter", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("status %d, want 201", res.StatusCode)
	}
	items, err := n.Store().ListItems(context.Background(), store.ItemFilter{Channel: acd.Form})
	if err != nil || len(items) != 1 {
		t.Fatalf("form items %+v (%v), want one", items, err)
	}
	var data struct{ Fields map[string]string }
	if err := json.Unmarshal(items[0].Data, &data); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"name": "Петя", "age": "8", "city": "Минск", "wish": "Конструктор", "email": "petya@example.org"}
	for k, v := range want {
		if data.Fields[k] != v {
			t.Errorf("field %s = %q, want %q", k, data.Fields[k], v)
		}
	}
	if items[0].Subject != "Конструктор" || items[0].State != acd.StateQueued {
		t.Errorf("item subject %q state %q, want the wish, queued", items[0].Subject, items[0].State)
	}
}
