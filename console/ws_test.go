package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/console/hub"
	"github.com/morozhq/moroz/store"
)

// wsClient reads the console's messages one by one, unpacking frames that
// carry several.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
	buf  []map[string]any
	next int64
}

func (f *fixture) desk(t *testing.T) *fakeDesk {
	t.Helper()
	return f.console.opt.Desk.(*fakeDesk)
}

func newDeskFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, Options{Desk: newFakeDesk(), Hub: hub.Options{Gather: -1}})
}

// ws logs login in and opens the websocket with its cookie.
func (f *fixture) ws(login string, hdr http.Header) *wsClient {
	f.t.Helper()
	conn, res, err := f.dialWS(login, hdr)
	if err != nil {
		f.t.Fatalf("dial websocket as %s: %v (status %v)", login, err, res)
	}
	f.t.Cleanup(func() { conn.Close() })
	return &wsClient{t: f.t, conn: conn}
}

func (f *fixture) dialWS(login string, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	f.t.Helper()
	c := f.browser(login)
	u, _ := url.Parse(f.srv.URL)
	if hdr == nil {
		hdr = http.Header{}
	}
	for _, ck := range c.Jar.Cookies(u) {
		hdr.Add("Cookie", ck.Name+"="+ck.Value)
	}
	if hdr.Get("Origin") == "" {
		hdr.Set("Origin", f.srv.URL)
	}
	return websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(f.srv.URL, "http")+"/api/v1/ws", hdr)
}

// read returns the next message.
func (c *wsClient) read() map[string]any {
	c.t.Helper()
	for len(c.buf) == 0 {
		_, b, err := c.conn.ReadMessage()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		if len(b) > 0 && b[0] == '[' {
			if err := json.Unmarshal(b, &c.buf); err != nil {
				c.t.Fatalf("frame %s: %v", b, err)
			}
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			c.t.Fatalf("frame %s: %v", b, err)
		}
		c.buf = append(c.buf, m)
	}
	m := c.buf[0]
	c.buf = c.buf[1:]
	if m["v"] != float64(ProtocolVersion) {
		c.t.Fatalf("message without v=%d: %v", ProtocolVersion, m)
	}
	return m
}

// readType skips to the next message of type typ.
func (c *wsClient) readType(typ string) map[string]any {
	c.t.Helper()
	for {
		if m := c.read(); m["type"] == typ {
			return m
		}
	}
}

// request sends a request and returns its result.
func (c *wsClient) request(req map[string]any) map[string]any {
	c.t.Helper()
	c.next++
	req["id"] = c.next
	if _, ok := req["v"]; !ok {
		req["v"] = ProtocolVersion
	}
	if err := c.conn.WriteJSON(req); err != nil {
		c.t.Fatal(err)
	}
	for {
		m := c.readType(msgResult)
		if m["id"] == float64(c.next) {
			return m
		}
	}
}

// closeCode reads until the socket closes and returns the close code.
func (c *wsClient) closeCode() int {
	c.t.Helper()
	for {
		_, _, err := c.conn.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		c.t.Fatalf("socket ended without a close frame: %v", err)
	}
}

func TestWebsocketOriginChecked(t *testing.T) {
	f := newDeskFixture(t)
	f.user("elf", store.RoleHelper)
	tests := []struct {
		name   string
		origin string
		ok     bool
	}{
		{"own origin", f.srv.URL, true},
		{"foreign site", "https://evil.example", false},
		{"lookalike host", strings.Replace(f.srv.URL, "127.0.0.1", "127.0.0.1.evil.example", 1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, res, err := f.dialWS("elf", http.Header{"Origin": {tt.origin}})
			if tt.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				conn.Close()
				return
			}
			if err == nil {
				conn.Close()
				t.Fatal("handshake from a foreign origin accepted")
			}
			if res == nil || res.StatusCode != http.StatusForbidden {
				t.Errorf("response %v, want 403", res)
			}
		})
	}
}

func TestWebsocketNeedsLogin(t *testing.T) {
	f := newDeskFixture(t)
	_, res, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(f.srv.URL, "http")+"/api/v1/ws", nil)
	if err == nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous handshake: %v, %v; want 401", err, res)
	}
}

func TestSnapshotOnConnectAndReconnect(t *testing.T) {
	f := newDeskFixture(t)
	ctx := context.Background()
	elf := f.user("elf", store.RoleHelper)
	if err := f.store.PutHelper(ctx, store.Helper{UserID: elf.ID, Queues: []string{"letters"}}); err != nil {
		t.Fatal(err)
	}
	it, _, err := f.store.CreateItem(ctx, store.Item{Channel: acd.Email, Queue: "letters", State: acd.StateActive,
		HelperID: elf.ID, Subject: "Хочу велосипед", CreatedAt: time.Now()}, store.Event{Type: "enqueued", At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // the second connection is a reconnect
		c := f.ws("elf", nil)
		snap := c.readType(msgSnapshot)["snapshot"].(map[string]any)
		me := snap["me"].(map[string]any)
		if me["login"] != "elf" || me["lang"] != "ru" {
			t.Errorf("connection %d: me = %v", i, me)
		}
		items := snap["items"].([]any)
		if len(items) != 1 || items[0].(map[string]any)["id"] != float64(it.ID) {
			t.Errorf("connection %d: items = %v, want item %d", i, items, it.ID)
		}
		var queues []string
		for _, q := range snap["queues"].([]any) {
			queues = append(queues, q.(map[string]any)["name"].(string))
		}
		if diff := cmp.Diff(queues, []string{"letters"}); diff != "" {
			t.Errorf("connection %d: queues (-got +want):\n%s", i, diff)
		}
		if _, ok := snap["board"]; ok {
			t.Errorf("connection %d: a helper got the wallboard", i)
		}
		c.conn.Close()
	}
}

func TestRequestsCheckedPerMessage(t *testing.T) {
	f := newDeskFixture(t)
	helper := f.user("elf", store.RoleHelper)
	f.user("boss", store.RoleSupervisor)
	h := f.ws("elf", nil)
	h.readType(msgSnapshot)
	s := f.ws("boss", nil)
	if b := s.readType(msgSnapshot)["snapshot"].(map[string]any)["board"]; b == nil {
		t.Error("a supervisor's snapshot has no wallboard")
	}
	tests := []struct {
		name string
		c    *wsClient
		req  map[string]any
		want string // error code, "" for success
	}{
		{"helper sets own status", h, map[string]any{"type": "status", "status": "available"}, ""},
		{"helper sends an unknown status", h, map[string]any{"type": "status", "status": "asleep"}, errBadRequest},
		{"helper forces a status", h, map[string]any{"type": "force_status", "helper_id": helper.ID, "status": "away"}, errForbidden},
		{"helper recalls an item", h, map[string]any{"type": "recall", "item_id": 1}, errForbidden},
		{"supervisor forces a status", s, map[string]any{"type": "force_status", "helper_id": helper.ID, "status": "away"}, ""},
		{"accepting a gone offer", h, map[string]any{"type": "accept", "item_id": 404}, errNoOffer},
		{"replying to an item not held", h, map[string]any{"type": "send", "item_id": 999, "text": "hi"}, errNotFound},
		{"unknown type", h, map[string]any{"type": "launch"}, errBadRequest},
		{"old protocol", h, map[string]any{"type": "status", "status": "away", "v": 0}, errBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := tt.c.request(tt.req)
			got, _ := res["error"].(string)
			if got != tt.want {
				t.Errorf("error %q, want %q (result %v)", got, tt.want, res)
			}
			if (res["ok"] == true) != (tt.want == "") {
				t.Errorf("ok = %v with error %q", res["ok"], got)
			}
		})
	}
	want := []string{"status " + itoa64(helper.ID) + " available ", "status " + itoa64(helper.ID) + " away supervisor",
		"accept 404 " + itoa64(helper.ID)}
	if diff := cmp.Diff(f.desk(t).Calls(), want); diff != "" {
		t.Errorf("desk calls (-got +want):\n%s", diff)
	}
	if entries := f.console.audit.latest(); len(entries) != 1 || entries[0].Action != "force_status" {
		t.Errorf("audit log %v, want the forced status", entries)
	}
}

func TestDisabledUsersSocketIsClosed(t *testing.T) {
	f := newDeskFixture(t)
	elf := f.user("elf", store.RoleHelper)
	c := f.ws("elf", nil)
	c.readType(msgSnapshot)
	admin := f.token(store.RoleAdmin)
	res := f.do(http.DefaultClient, "PATCH", "/api/v1/users/"+itoa64(elf.ID), `{"disabled":true}`, bearer(admin))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("disable: status %d", res.StatusCode)
	}
	if code := c.closeCode(); code != hub.CodeRevoked {
		t.Errorf("close code %d, want %d", code, hub.CodeRevoked)
	}
}

func TestRoleChangeSeenOnNextMessage(t *testing.T) {
	f := newDeskFixture(t)
	boss := f.user("boss", store.RoleSupervisor)
	c := f.ws("boss", nil)
	c.readType(msgSnapshot)
	boss.Role = store.RoleHelper // behind the API's back: only the next message can notice
	if err := f.store.UpdateUser(context.Background(), boss); err != nil {
		t.Fatal(err)
	}
	c.conn.WriteJSON(map[string]any{"v": 1, "type": "force_status", "helper_id": 5, "status": "away", "id": 1})
	if got := c.readType(msgRevoked)["error"]; got != "role changed" {
		t.Errorf("revoked because %v", got)
	}
	if code := c.closeCode(); code != hub.CodeRevoked {
		t.Errorf("close code %d, want %d", code, hub.CodeRevoked)
	}
	if calls := f.desk(t).Calls(); len(calls) != 0 {
		t.Errorf("the demoted supervisor's request ran: %v", calls)
	}
}

func TestEventsReachOnlyWhoMaySeeThem(t *testing.T) {
	f := newDeskFixture(t)
	a := f.user("a", store.RoleHelper)
	f.user("b", store.RoleHelper)
	f.user("boss", store.RoleSupervisor)
	ca, cb, cs := f.ws("a", nil), f.ws("b", nil), f.ws("boss", nil)
	for _, c := range []*wsClient{ca, cb, cs} {
		c.readType(msgSnapshot)
	}
	d := f.desk(t)
	d.emit(acd.Event{Seq: 1, Type: acd.EventOffered, ItemID: 7, HelperID: a.ID, Queue: "letters",
		Deadline: time.Now().Add(time.Minute)})
	d.emit(acd.Event{Seq: 2, Type: acd.EventClosed, ItemID: 7, Queue: "letters"}) // no helper: the console knows whose
	d.emit(acd.Event{Seq: 3, Type: acd.EventEnqueued, ItemID: 8, Queue: "calls"})
	for name, c := range map[string]*wsClient{"helper a": ca, "supervisor": cs} {
		var seqs []float64
		for len(seqs) < 2 {
			seqs = append(seqs, c.readType(msgEvent)["event"].(map[string]any)["seq"].(float64))
		}
		if diff := cmp.Diff(seqs, []float64{1, 2}); diff != "" {
			t.Errorf("%s events (-got +want):\n%s", name, diff)
		}
	}
	// Helper b saw none of it: the next thing it gets is its own result.
	if res := cb.request(map[string]any{"type": "end_wrapup"}); res["ok"] != true {
		t.Errorf("end_wrapup: %v", res)
	}
	for _, m := range cb.buf {
		if m["type"] == msgEvent {
			t.Errorf("helper b got %v", m)
		}
	}
}

func TestRequestFloodClosesTheSocket(t *testing.T) {
	f := newDeskFixture(t)
	f.user("elf", store.RoleHelper)
	c := f.ws("elf", nil)
	c.readType(msgSnapshot)
	for i := range requestBurst * 5 { // far past the burst, however slowly the server reads
		if err := c.conn.WriteJSON(map[string]any{"v": 1, "type": "end_wrapup", "id": i}); err != nil {
			break // closed already
		}
	}
	if code := c.closeCode(); code != hub.CodeBadProtocol {
		t.Errorf("close code %d, want %d", code, hub.CodeBadProtocol)
	}
}

func TestDeletedTokenLosesItsSocket(t *testing.T) {
	f := newDeskFixture(t)
	secret := f.token(store.RoleSupervisor)
	hdr := http.Header{"Authorization": {"Bearer " + secret}}
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(f.srv.URL, "http")+"/api/v1/ws", hdr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &wsClient{t: t, conn: conn}
	if c.readType(msgSnapshot)["snapshot"].(map[string]any)["board"] == nil {
		t.Error("a supervisor token's snapshot has no wallboard")
	}
	tokens, err := f.store.ListTokens(context.Background())
	if err != nil || len(tokens) != 1 {
		t.Fatalf("tokens %v, %v", tokens, err)
	}
	if err := f.store.DeleteToken(context.Background(), tokens[0].ID); err != nil {
		t.Fatal(err)
	}
	conn.WriteJSON(map[string]any{"v": 1, "type": "recall", "item_id": 1, "id": 1})
	if got := c.readType(msgRevoked)["error"]; got != "token deleted" {
		t.Errorf("revoked because %v", got)
	}
	if calls := f.desk(t).Calls(); len(calls) != 0 {
		t.Errorf("the deleted token's request ran: %v", calls)
	}
}
