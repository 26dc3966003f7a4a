package messenger

import (
	"context"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
)

// chatClient is a visitor's socket with the cookie jar of their browser.
type chatClient struct {
	t  *testing.T
	ws *websocket.Conn
}

func (e *env) dialChat(t *testing.T, jar http.CookieJar, origin string) (*chatClient, *http.Response, error) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/chat/ws"
	d := websocket.Dialer{Jar: jar, HandshakeTimeout: waitLimit}
	hdr := http.Header{}
	if origin != "" {
		hdr.Set("Origin", origin)
	}
	ws, resp, err := d.Dial(u, hdr)
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { ws.Close() })
	return &chatClient{t: t, ws: ws}, resp, nil
}

func (c *chatClient) say(text, id string) {
	c.t.Helper()
	if err := c.ws.WriteJSON(frame{Type: "message", Text: text, ID: id}); err != nil {
		c.t.Fatal(err)
	}
}

// next reads frames until one of type typ (and, for messages, from from).
func (c *chatClient) next(typ, from string) frame {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(waitLimit)) // a hang guard
	for {
		var f frame
		if err := c.ws.ReadJSON(&f); err != nil {
			c.t.Fatalf("waiting for %s from %q: %v", typ, from, err)
		}
		if f.Type == typ && (from == "" || f.From == from) {
			return f
		}
	}
}

func TestChatFromBotToHelperAndBack(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	jar, _ := cookiejar.New(nil)
	c, resp, err := e.dialChat(t, jar, "")
	if err != nil {
		t.Fatal(err)
	}
	if ck := resp.Header.Get("Set-Cookie"); !strings.Contains(ck, VisitorCookie+"=") || !strings.Contains(ck, "HttpOnly") {
		t.Errorf("Set-Cookie %q: want the visitor cookie, HttpOnly", ck)
	}
	c.next("offline", "") // nobody is logged in yet
	c.say("привет", "m1")
	if f := c.next("message", "visitor"); f.Text != "привет" || f.ID != "m1" {
		t.Errorf("echo %+v", f)
	}
	c.next("message", botName)

	c.say("позовите человека", "m2")
	c.next("offline", "") // still nobody: the widget shows the letter form
	if got := e.items(t, acd.Chat); len(got) != 1 || got[0].State != acd.StateNew {
		t.Fatalf("chat items %+v while nobody is on duty, want one kept for the bot (new)", got)
	}

	elf := e.helper(t, "elf")
	if err := e.work.SetStatus(ctx, elf.ID, acd.StatusAway, "обед"); err != nil {
		t.Fatal(err)
	}
	c.say("оператор", "m3")
	if f := c.next("queue", ""); f.Position != 1 {
		t.Errorf("queue frame %+v, want position 1", f)
	}
	items := e.items(t, acd.Chat)
	if len(items) != 1 || items[0].State != acd.StateQueued {
		t.Fatalf("chat items %+v, want one queued", items)
	}
	it := items[0]
	if got := len(e.messages(t, it.ID)); got != 6 {
		t.Errorf("transcript of %d messages, want 6 (three lines each way)", got)
	}

	c.ws.Close()
	c2, _, err := e.dialChat(t, jar, "") // the cookie brings the visitor back
	if err != nil {
		t.Fatal(err)
	}
	var replayed []string
	for range 6 {
		replayed = append(replayed, c2.next("message", "").Text)
	}
	if replayed[0] != "привет" || replayed[4] != "оператор" {
		t.Errorf("replayed %q", replayed)
	}
	c2.next("queue", "")

	if err := e.work.SetStatus(ctx, elf.ID, acd.StatusAvailable, ""); err != nil {
		t.Fatal(err)
	}
	e.waitEvent(t, acd.EventOffered, it.ID)
	if err := e.work.Accept(ctx, it.ID, elf.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.work.Reply(ctx, it.ID, elf.ID, store.Message{Text: "Здравствуй! Чем помочь?"}); err != nil {
		t.Fatal(err)
	}
	if f := c2.next("message", "helper"); f.Text != "Здравствуй! Чем помочь?" {
		t.Errorf("helper's reply frame %+v", f)
	}
	c2.say("хочу санки", "m4")
	c2.next("message", "visitor")
	c2.say("хочу санки", "m4") // a resend after a reconnect
	c2.next("ack", "")
	if got := e.messages(t, it.ID); len(got) != 8 || got[7].Text != "хочу санки" {
		t.Errorf("%d messages, want 8 ending with the visitor's line once", len(got))
	}
}

func TestChatRefusesOtherSites(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Config.AllowedOrigins = []string{siteOrigin} })
	if _, resp, err := e.dialChat(t, nil, "https://evil.example"); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("socket from another site: %v, want 403", err)
	}
	if _, _, err := e.dialChat(t, nil, siteOrigin); err != nil {
		t.Errorf("socket from the site: %v", err)
	}
}

func TestChatRefusesBadMessages(t *testing.T) {
	e := newEnv(t, nil)
	c, _, err := e.dialChat(t, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, text, id string }{
		{"empty", "", ""},
		{"too long", strings.Repeat("я", DefaultChatMaxMessage+1), ""},
		{"long id", "привет", strings.Repeat("x", maxClientMsgID+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.say(tt.text, tt.id)
			if f := c.next("error", ""); f.Text == "" {
				t.Errorf("error frame without a text")
			}
		})
	}
	// The server may drop the socket while the frame is still being written.
	c.ws.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("x", maxFrame+1)))
	c.ws.SetReadDeadline(time.Now().Add(waitLimit))
	for {
		_, _, err := c.ws.ReadMessage()
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("the socket is still open after an oversized frame")
		}
		if err != nil {
			break // the oversized frame closed the socket
		}
	}
}

func TestWidgetScriptServed(t *testing.T) {
	e := newEnv(t, nil)
	status, hdr, body := e.do(t, "GET", "/chat/widget.js", "", "", nil)
	if status != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/javascript") ||
		!strings.Contains(body, "/chat/ws") {
		t.Errorf("widget.js: status %d type %q", status, hdr.Get("Content-Type"))
	}
}
