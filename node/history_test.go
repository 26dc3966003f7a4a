package node

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/smtp"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/gorilla/websocket"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/console"
	"github.com/morozhq/moroz/messenger/telegramtest"
	"github.com/morozhq/moroz/store"
)

// TestRefusedTelegramReplyReachesTheDesk checks the node's wiring of a
// reply given up: Telegram refuses a helper's reply (the bot was
// blocked), and the helper's open console hears that the item's history
// changed.
func TestRefusedTelegramReplyReachesTheDesk(t *testing.T) {
	fake := telegramtest.New(tgToken)
	api := httptest.NewServer(fake)
	t.Cleanup(api.Close)
	cfg := testConfig(t)
	cfg.Messenger.Telegram.Token, cfg.Messenger.Telegram.API = tgToken, api.URL
	cfg.Messenger.Telegram.WebhookSecret = tgSecret
	n, _ := startNode(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a hang guard
	defer cancel()
	elf, err := console.AddUser(ctx, n.Store(), "elf", "Эльф", store.RoleHelper, "password-elf")
	if err != nil {
		t.Fatal(err)
	}
	desk := deskSocket(t, "http://"+n.Addr("http"), "elf")

	hook := "http://" + n.Addr("http") + "/telegram/webhook"
	code, err := telegramtest.Deliver(ctx, http.DefaultClient, hook, tgSecret, telegramUpdate(10, 1, "оператор"))
	if err != nil || code != http.StatusOK {
		t.Fatalf("webhook: %d, %v", code, err)
	}
	fake.WaitSent(ctx, 2) // the greeting and the handoff
	fake.FailChat(77, http.StatusForbidden, "Forbidden: bot was blocked by the user")
	items, err := n.Store().ListItems(ctx, store.ItemFilter{Channel: acd.Telegram})
	if err != nil || len(items) != 1 {
		t.Fatalf("telegram items %+v (%v), want one", items, err)
	}
	it := items[0]
	takeAndReply(ctx, t, n, it.ID, elf.ID, "Здравствуй!")

	desk.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		for _, m := range readFrame(t, desk) {
			if m.Type == "history" {
				if m.Data.ItemID != it.ID || m.Data.Type != "send_failed" {
					t.Errorf("history message %+v, want send_failed of item %d", m.Data, it.ID)
				}
				return
			}
		}
	}
}

// takeAndReply makes the helper available, waits for the item's offer,
// accepts it and replies text, as the helper's console would.
func takeAndReply(ctx context.Context, t *testing.T, n *Node, itemID, helperID int64, text string) {
	t.Helper()
	if err := n.Work().SetStatus(ctx, helperID, acd.StatusAvailable, ""); err != nil {
		t.Fatal(err)
	}
	for info, _ := n.Work().Router().Item(itemID); len(info.OfferedTo) == 0; info, _ = n.Work().Router().Item(itemID) {
		if ctx.Err() != nil {
			t.Fatalf("item %d was not offered to the helper", itemID)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := n.Work().Accept(ctx, itemID, helperID); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Work().Reply(ctx, itemID, helperID, store.Message{Text: text}); err != nil {
		t.Fatal(err)
	}
}

// consoleMsg is what this test reads of the console's messages.
type consoleMsg struct {
	Type string `json:"type"`
	Data struct {
		ItemID int64  `json:"item_id"`
		Type   string `json:"type"`
	} `json:"data"`
}

// readFrame reads one websocket frame: one message, or an array of them.
func readFrame(t *testing.T, conn *websocket.Conn) []consoleMsg {
	t.Helper()
	_, b, err := conn.ReadMessage()
	if err != nil {
		t.Fatalf("no history message on the helper's console: %v", err)
	}
	var ms []consoleMsg
	if len(b) > 0 && b[0] == '[' {
		err = json.Unmarshal(b, &ms)
	} else {
		ms = make([]consoleMsg, 1)
		err = json.Unmarshal(b, &ms[0])
	}
	if err != nil {
		t.Fatalf("frame %s: %v", b, err)
	}
	return ms
}

// deskSocket logs login in to the console at base and opens its
// websocket.
func deskSocket(t *testing.T, base, login string) *websocket.Conn {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	res, err := c.Post(base+"/api/v1/session", "application/json",
		strings.NewReader(`{"login":"`+login+`","password":"password-`+login+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("log in %s: status %d", login, res.StatusCode)
	}
	u, _ := url.Parse(base)
	hdr := http.Header{"Origin": {base}}
	for _, ck := range jar.Cookies(u) {
		hdr.Add("Cookie", ck.Name+"="+ck.Value)
	}
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/api/v1/ws", hdr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestRefusedLetterReplyReachesTheDesk is the same for a letter: the
// relay refuses a helper's reply for good (550), the item's history gets
// the send_failed event with the relay's answer, and the helper's open
// console hears of it.
func TestRefusedLetterReplyReachesTheDesk(t *testing.T) {
	relay := newRefusingRelay(t)
	cfg := testConfig(t)
	cfg.Mail.Domains = []string{"ded-moroz.test"}
	cfg.Mail.Relay.Addr = relay
	n, _ := startNode(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a hang guard
	defer cancel()
	elf, err := console.AddUser(ctx, n.Store(), "elf", "Эльф", store.RoleHelper, "password-elf")
	if err != nil {
		t.Fatal(err)
	}
	desk := deskSocket(t, "http://"+n.Addr("http"), "elf")

	letter := "From: Маша <masha@example.org>\r\nTo: ded@ded-moroz.test\r\nSubject: Sanki\r\n" +
		"Message-ID: <wish-refused@example.org>\r\n\r\nHochu sanki.\r\n"
	if err := smtp.SendMail(n.Addr("smtp"), nil, "masha@example.org", []string{"ded@ded-moroz.test"}, []byte(letter)); err != nil {
		t.Fatalf("send the letter: %v", err)
	}
	it, err := n.Store().ItemByExternalID(ctx, acd.Email, "wish-refused@example.org")
	if err != nil {
		t.Fatal(err)
	}
	takeAndReply(ctx, t, n, it.ID, elf.ID, "Будут санки!")

	desk.SetReadDeadline(time.Now().Add(20 * time.Second))
	for heard := false; !heard; {
		for _, m := range readFrame(t, desk) {
			if m.Type == "history" && m.Data.ItemID == it.ID && m.Data.Type == "send_failed" {
				heard = true
			}
		}
	}
	evs, err := n.Store().Events(ctx, it.ID)
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, e := range evs {
		if e.Type == "send_failed" {
			failed = append(failed, string(e.Data))
		}
	}
	if len(failed) != 1 || !strings.Contains(failed[0], "550") || !strings.Contains(failed[0], `"channel":"email"`) {
		t.Errorf("send_failed events %q, want one naming the relay's 550", failed)
	}
}

// newRefusingRelay is an SMTP relay that refuses every recipient for
// good; it returns its address.
func newRefusingRelay(t *testing.T) string {
	t.Helper()
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) {
		return &refusingSession{}, nil
	}))
	srv.Domain = "relay.test"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { srv.Serve(ln) })
	t.Cleanup(func() {
		srv.Close()
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

type refusingSession struct{ sinkSession }

func (*refusingSession) Rcpt(string, *gosmtp.RcptOptions) error {
	return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
}
