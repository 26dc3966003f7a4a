package messenger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/work"
)

// Chat socket limits.
const (
	// VisitorCookie holds a chat visitor's random id.
	VisitorCookie  = "moroz_chat"
	visitorMaxAge  = 365 * 24 * time.Hour
	sendBuffer     = 64               // frames queued to one socket before it is dropped
	maxFrame       = 16 << 10         // bytes of one frame from a visitor
	writeTimeout   = 10 * time.Second // for one frame
	pingEvery      = 30 * time.Second
	positionEvery  = 5 * time.Second // how often waiting visitors hear their place
	replayFor      = 24 * time.Hour  // a closed chat is replayed this long
	visitorRate    = 2               // messages a second from one visitor
	visitorBurst   = 10
	maxClientMsgID = 64
	// socketsPerMinute and socketBurst limit chat connections per address:
	// enough for a family browsing the site behind one address.
	socketsPerMinute = 120
	socketBurst      = 60
)

var visitorID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// frame is one websocket message, both ways.
type frame struct {
	Type string `json:"type"` // message, queue, offline, error, typing (both ways)
	// message
	From string `json:"from,omitempty"` // visitor, bot, helper
	Text string `json:"text,omitempty"`
	ID   string `json:"id,omitempty"` // the visitor's id of their message, for dedupe on resend
	// queue
	Position    int     `json:"position,omitempty"`
	WaitSeconds float64 `json:"wait_seconds,omitempty"`
	WithHelper  bool    `json:"with_helper,omitempty"`
	// offline
	Form string `json:"form,omitempty"` // the form to post a letter to
}

// chatHub holds the live chat sockets, by visitor.
type chatHub struct {
	m  *Messenger
	up websocket.Upgrader

	mu     sync.Mutex
	conns  map[string]map[*chatConn]bool // by visitor id; guarded by mu
	items  map[string]int64              // visitor id to their chat item; guarded by mu
	owners map[int64]string              // chat item to its visitor id; guarded by mu
	closed bool                          // guarded by mu
	stop   func()                        // ends the router event listener
}

// chatConn is one visitor socket; its writer goroutine owns ws writes.
type chatConn struct {
	visitor string
	ws      *websocket.Conn
	send    chan frame
	gone    chan struct{} // closed when the socket is dropped
	once    sync.Once
}

func newChatHub(m *Messenger) *chatHub {
	h := &chatHub{m: m, conns: map[string]map[*chatConn]bool{}, items: map[string]int64{},
		owners: map[int64]string{}}
	h.up = websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096, CheckOrigin: m.originAllowed}
	h.stop = m.work.Listen(h.routerEvent)
	m.goOwned(h.positions)
	return h
}

// routerEvent tells a visitor at once when a helper takes their chat or
// it returns to the queue. It runs on the work service's persister and
// only queues frames.
func (h *chatHub) routerEvent(ev acd.Event) {
	if ev.Channel != acd.Chat {
		return
	}
	h.mu.Lock()
	vid, ok := h.owners[ev.ItemID]
	if ev.Type == acd.EventClosed {
		delete(h.owners, ev.ItemID)
		if h.items[vid] == ev.ItemID {
			delete(h.items, vid)
		}
		ok = false
	}
	h.mu.Unlock()
	switch ev.Type {
	case acd.EventAccepted, acd.EventEnqueued, acd.EventWithdrawn:
	default:
		return
	}
	if ok {
		h.push(vid, h.position(ev.ItemID))
	}
}

// originAllowed accepts requests without an Origin, same-origin ones and
// the configured sites.
func (m *Messenger) originAllowed(r *http.Request) bool {
	o := r.Header.Get("Origin")
	return o == "" || sameOrigin(r, o) || m.origins[o]
}

// serveWS upgrades a visitor's chat socket, replays their chat and reads
// their messages until they leave or the Messenger closes.
func (h *chatHub) serveWS(w http.ResponseWriter, r *http.Request) {
	if wait, ok := h.m.sockets.allow(clientAddr(r, h.m.cfg.TrustProxy), h.m.now()); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		writeError(w, http.StatusTooManyRequests, "too many connections from this address")
		return
	}
	vid, hdr := h.m.visitorCookie(r)
	ws, err := h.up.Upgrade(w, r, hdr)
	if err != nil {
		return // the upgrader has answered
	}
	c := &chatConn{visitor: vid, ws: ws, send: make(chan frame, sendBuffer), gone: make(chan struct{})}
	if !h.add(c) {
		ws.Close()
		return
	}
	defer h.m.wg.Done()
	h.m.goOwned(c.writeLoop)
	h.replay(r.Context(), c, hdr != nil)
	h.readLoop(c)
	h.remove(c)
}

// visitorCookie returns the visitor's id from their cookie, or a new id
// with the header that sets it.
func (m *Messenger) visitorCookie(r *http.Request) (string, http.Header) {
	if c, err := r.Cookie(VisitorCookie); err == nil && visitorID.MatchString(c.Value) {
		return c.Value, nil
	}
	id := randomID()
	ck := &http.Cookie{Name: VisitorCookie, Value: id, Path: "/", MaxAge: int(visitorMaxAge.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteLaxMode}
	if m.cfg.SecureCookie {
		ck.Secure, ck.SameSite = true, http.SameSiteNoneMode
	}
	return id, http.Header{"Set-Cookie": {ck.String()}}
}

// add registers c; it fails once the hub is closed. A registered socket
// counts in the Messenger's wait group until serveWS ends.
func (h *chatHub) add(c *chatConn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.m.wg.Add(1)
	if h.conns[c.visitor] == nil {
		h.conns[c.visitor] = map[*chatConn]bool{}
	}
	h.conns[c.visitor][c] = true
	return true
}

func (h *chatHub) remove(c *chatConn) {
	h.mu.Lock()
	delete(h.conns[c.visitor], c)
	if len(h.conns[c.visitor]) == 0 {
		delete(h.conns, c.visitor)
	}
	h.mu.Unlock()
	c.drop()
}

// drop closes the socket once; the reader and writer then end.
func (c *chatConn) drop() {
	c.once.Do(func() {
		close(c.gone)
		c.ws.Close()
	})
}

// closeAll drops every socket and refuses new ones.
func (h *chatHub) closeAll() {
	h.stop()
	h.mu.Lock()
	h.closed = true
	var all []*chatConn
	for _, cs := range h.conns {
		for c := range cs {
			all = append(all, c)
		}
	}
	h.mu.Unlock()
	for _, c := range all {
		c.drop()
	}
}

// push queues f to every socket of the visitor; a socket too slow to take
// it is dropped (it replays on reconnect).
func (h *chatHub) push(vid string, f frame) {
	h.mu.Lock()
	var slow []*chatConn
	for c := range h.conns[vid] {
		select {
		case c.send <- f:
		default:
			slow = append(slow, c)
		}
	}
	h.mu.Unlock()
	for _, c := range slow {
		c.drop()
	}
}

func (c *chatConn) writeLoop(ctx context.Context) {
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	defer c.drop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.gone:
			return
		case f := <-c.send:
			c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
			if err := c.ws.WriteJSON(f); err != nil {
				return
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeTimeout)); err != nil {
				return
			}
		}
	}
}

// readLoop reads the visitor's frames until the socket ends.
func (h *chatHub) readLoop(c *chatConn) {
	c.ws.SetReadLimit(maxFrame)
	lim := rate.NewLimiter(visitorRate, visitorBurst)
	typing := typingLimiter()
	for {
		var f frame
		if err := c.ws.ReadJSON(&f); err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) && !errors.Is(err, websocket.ErrCloseSent) {
				h.m.log.Debug("chat socket ended", "peer", c.visitor, "err", err)
			}
			return
		}
		if f.Type == "typing" && typing.AllowN(h.m.now(), 1) {
			h.visitorTyping(c)
		}
		if f.Type != "message" {
			continue
		}
		if !lim.Allow() {
			c.trySend(frame{Type: "error", Text: "too many messages; slow down"})
			continue
		}
		h.message(c, f)
	}
}

func (c *chatConn) trySend(f frame) {
	select {
	case c.send <- f:
	default:
	}
}

// message handles one line from the visitor: it is echoed to their other
// sockets, stored or given to the bot, and answered.
func (h *chatHub) message(c *chatConn, f frame) {
	text := f.Text
	if text == "" || !utf8.ValidString(text) || utf8.RuneCountInString(text) > DefaultChatMaxMessage || len(f.ID) > maxClientMsgID {
		c.trySend(frame{Type: "error", Text: fmt.Sprintf("a message is 1 to %d characters", DefaultChatMaxMessage)})
		return
	}
	in := inbound{Text: text, At: h.m.now()}
	if f.ID != "" {
		in.ExternalID = "chat:" + c.visitor + ":" + f.ID
	}
	v := visitor{ch: acd.Chat, id: store.Identity{Kind: "chat", Value: c.visitor}}
	out, err := h.m.receive(h.m.ctx, v, in)
	if err != nil {
		h.m.log.Error("chat message not stored", "peer", c.visitor, "err", err)
		c.trySend(frame{Type: "error", Text: "the message was not saved; please send it again"})
		return
	}
	if out.Duplicate {
		c.trySend(frame{Type: "ack", ID: f.ID}) // a resend after a reconnect: already shown
		return
	}
	h.push(c.visitor, frame{Type: "message", From: "visitor", Text: text, ID: f.ID})
	for _, r := range out.Replies {
		h.push(c.visitor, frame{Type: "message", From: botName, Text: r})
	}
	if out.Offline {
		h.push(c.visitor, frame{Type: "offline", Form: "letter"})
	}
	if out.Queued {
		h.setItem(c.visitor, out.Item.ID)
		h.push(c.visitor, h.position(out.Item.ID))
	}
}

func (h *chatHub) setItem(vid string, id int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.items[vid] = id
	h.owners[id] = vid
}

// position is the queue frame of an item: its place and expected wait, or
// that a helper has it.
func (h *chatHub) position(id int64) frame {
	est, err := h.m.work.Router().Position(id)
	if err != nil {
		return frame{Type: "queue", WithHelper: true}
	}
	return frame{Type: "queue", Position: est.Position, WaitSeconds: est.Wait.Seconds()}
}

// positions tells every waiting visitor their place now and then, until
// the Messenger closes.
func (h *chatHub) positions(ctx context.Context) {
	t := time.NewTicker(positionEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h.mu.Lock()
		waiting := map[string]int64{}
		for vid, id := range h.items {
			if len(h.conns[vid]) > 0 {
				waiting[vid] = id
			}
		}
		h.mu.Unlock()
		for vid, id := range waiting {
			h.push(vid, h.position(id))
		}
	}
}

// replay tells a visitor whether anyone is on duty and sends a returning
// one (not fresh) their chat so far: the stored messages of their chat
// item, the bot's conversation included.
func (h *chatHub) replay(ctx context.Context, c *chatConn, fresh bool) {
	if !h.m.env(work.DefaultQueueFor(acd.Chat)).OnDuty {
		c.trySend(frame{Type: "offline", Form: "letter"})
	}
	if fresh {
		return // a new visitor has nothing to replay
	}
	it, msgs, err := h.m.lastChat(ctx, c.visitor)
	if err != nil {
		h.m.log.Warn("chat history not replayed", "peer", c.visitor, "err", err)
		return
	}
	for _, msg := range msgs {
		c.trySend(messageFrame(msg))
	}
	if it.ID != 0 && it.State != acd.StateClosed && it.State != acd.StateNew {
		h.setItem(c.visitor, it.ID)
		c.trySend(h.position(it.ID))
	}
}

// lastChat returns the visitor's open chat item or the one closed in the
// last day, with its messages; a zero item when there is none.
func (m *Messenger) lastChat(ctx context.Context, vid string) (store.Item, []store.Message, error) {
	ct, err := m.st.ResolveContact(ctx, store.Identity{Kind: "chat", Value: vid}, "")
	if err != nil {
		return store.Item{}, nil, err
	}
	items, err := m.st.ListItems(ctx, store.ItemFilter{Channel: acd.Chat, ContactID: ct.ID, Limit: 1000})
	if err != nil || len(items) == 0 {
		return store.Item{}, nil, err
	}
	it := items[len(items)-1]
	if it.State == acd.StateClosed && m.now().Sub(it.ClosedAt) > replayFor {
		return store.Item{}, nil, nil
	}
	msgs, err := m.st.Messages(ctx, it.ID)
	return it, msgs, err
}

func messageFrame(m store.Message) frame {
	f := frame{Type: "message", From: "helper", Text: m.Text}
	switch {
	case m.Direction == "in":
		f.From = "visitor"
	case m.From == botName:
		f.From = botName
	}
	return f
}

// Send hands a helper's reply to the visitor's live sockets (work.Sender).
// A visitor who is away gets it when they come back (replay).
func (h *chatHub) Send(ctx context.Context, it store.Item, m store.Message) error {
	vid, err := chatVisitor(it)
	if err != nil {
		return err
	}
	h.push(vid, messageFrame(m))
	return nil
}

// chatVisitor reads the visitor id a chat item was made for.
func chatVisitor(it store.Item) (string, error) {
	var d struct {
		Peer string `json:"peer"`
	}
	if err := json.Unmarshal(it.Data, &d); err != nil || !visitorID.MatchString(d.Peer) {
		return "", fmt.Errorf("chat item %d: no visitor in its data", it.ID)
	}
	return d.Peer, nil
}
