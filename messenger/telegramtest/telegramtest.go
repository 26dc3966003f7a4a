// Package telegramtest is a fake Telegram Bot API server for tests, since
// Telegram's servers cannot be reached from tests. It follows the published
// Bot API (https://core.telegram.org/bots/api): requests to
// /bot<token>/<method> with JSON or form parameters, answers
// {"ok":true,"result":...} or {"ok":false,"error_code":N,"description":...},
// the methods getUpdates (with offset and long-poll timeout), getFile,
// sendMessage, sendChatAction, setWebhook, deleteWebhook and
// getWebhookInfo, and file
// downloads from /file/bot<token>/<file_path>.
//
// Like Telegram, setWebhook takes only an HTTPS url and a secret_token of
// 1 to 256 characters A-Z, a-z, 0-9, _ and -, and getUpdates answers 409
// while a webhook is set. Unlike Telegram, any port is taken (Telegram
// allows 443, 80, 88 and 8443), since test servers listen on random ones.
//
// It keeps what a test needs to look at (the messages the bot sent, the
// offsets it asked for) and can answer sendMessage with flood control (429
// with parameters.retry_after) to exercise the client's back-off.
package telegramtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Sent is one message the bot sent with sendMessage.
type Sent struct {
	ChatID int64
	Text   string
	At     time.Time // by the clock of the fake's goroutine (fake time under synctest)
}

// Server is the fake Bot API of one bot. Its methods are safe for
// concurrent use; ServeHTTP serves the API.
type Server struct {
	token string

	mu       sync.Mutex
	updates  []json.RawMessage    // queued for getUpdates, by update_id order; guarded by mu
	ids      []int64              // update_id of each queued update; guarded by mu
	files    map[string]fileEntry // by file_id; guarded by mu
	sent     []Sent               // guarded by mu
	offsets  []int64              // offsets getUpdates was called with; guarded by mu
	flood    int                  // sendMessage calls still to answer 429; guarded by mu
	retry    int                  // retry_after of those answers, seconds; guarded by mu
	refuse   int                  // sendMessage calls still to refuse, -1 for all; guarded by mu
	refuseAs int                  // the status they get; guarded by mu
	refused  int                  // sendMessage calls refused so far; guarded by mu
	chatFail map[int64]failure    // sendMessage answers by chat; guarded by mu
	nextMsg  int64                // guarded by mu
	arrived  chan struct{}        // closed and replaced when an update is queued; guarded by mu
	sentNote chan struct{}        // closed and replaced when a message is sent; guarded by mu
	actions  []Action             // sendChatAction calls; guarded by mu
	hook     Webhook              // the webhook set, zero when none; guarded by mu
	hookNote chan struct{}        // closed and replaced when the webhook changes; guarded by mu
}

// Webhook is the webhook the bot set with setWebhook.
type Webhook struct {
	URL            string
	Secret         string   // secret_token
	AllowedUpdates []string // as given, nil when not
	MaxConnections int      // 40 when not given
}

// failure is a refusal the fake gives.
type failure struct {
	code int
	desc string
}

type fileEntry struct {
	path string
	data []byte
}

// New returns a fake for the bot with token.
func New(token string) *Server {
	return &Server{token: token, files: map[string]fileEntry{}, nextMsg: 1000, chatFail: map[int64]failure{},
		arrived: make(chan struct{}), sentNote: make(chan struct{}), hookNote: make(chan struct{})}
}

// AddFile makes a file downloadable under fileID, at path.
func (s *Server) AddFile(fileID, path string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[fileID] = fileEntry{path: path, data: data}
}

// Push queues an update (any JSON-encodable value shaped like an Update,
// with its update_id) for getUpdates.
func (s *Server) Push(id int64, update any) {
	b, err := json.Marshal(update)
	if err != nil {
		panic(fmt.Sprintf("telegramtest: update: %v", err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updates = append(s.updates, b)
	s.ids = append(s.ids, id)
	close(s.arrived)
	s.arrived = make(chan struct{})
}

// Flood makes the next n sendMessage calls fail with 429 and retry_after
// seconds.
func (s *Server) Flood(n, retryAfter int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flood, s.retry = n, retryAfter
}

// Refuse makes the next n sendMessage calls (every one while n is
// negative, none from n 0 on) fail with status code, as Telegram does
// while its servers are in trouble (500, 502); they count in Refused.
func (s *Server) Refuse(n, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse, s.refuseAs = n, code
}

// Refused returns how many sendMessage calls Refuse has refused. A call
// refused wakes WaitSent as a send does.
func (s *Server) Refused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// FailChat makes every sendMessage to chat fail with code and desc, as
// Telegram answers a chat that blocked the bot (403 "Forbidden: bot was
// blocked by the user") or is gone (400 "Bad Request: chat not found").
func (s *Server) FailChat(chat int64, code int, desc string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chatFail[chat] = failure{code, desc}
}

// Sent returns the messages sent so far.
func (s *Server) Sent() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sent(nil), s.sent...)
}

// Offsets returns the offsets getUpdates was called with.
func (s *Server) Offsets() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.offsets...)
}

// WaitSent blocks until at least n messages were sent or ctx ends, and
// returns those sent.
func (s *Server) WaitSent(ctx context.Context, n int) []Sent {
	return waitLen(ctx, s, n, func() []Sent { return s.sent })
}

// waitLen blocks until list (read with s.mu held) has at least n entries
// or ctx ends, and returns a copy of it; every send wakes it.
func waitLen[T any](ctx context.Context, s *Server, n int, list func() []T) []T {
	for {
		s.mu.Lock()
		got := list()
		if len(got) >= n || ctx.Err() != nil {
			out := append([]T(nil), got...)
			s.mu.Unlock()
			return out
		}
		note := s.sentNote
		s.mu.Unlock()
		select {
		case <-note:
		case <-ctx.Done():
		}
	}
}

// ServeHTTP serves the Bot API methods and file downloads.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p, ok := strings.CutPrefix(r.URL.Path, "/file/bot"+s.token+"/"); ok {
		s.serveFile(w, p)
		return
	}
	method, ok := strings.CutPrefix(r.URL.Path, "/bot"+s.token+"/")
	if !ok {
		fail(w, http.StatusUnauthorized, "Unauthorized", 0)
		return
	}
	params, err := readParams(r)
	if err != nil {
		fail(w, http.StatusBadRequest, "Bad Request: "+err.Error(), 0)
		return
	}
	switch method {
	case "getUpdates":
		s.getUpdates(w, r, params)
	case "getFile":
		s.getFile(w, params)
	case "sendMessage":
		s.sendMessage(w, params)
	case "sendChatAction":
		s.sendChatAction(w, params)
	case "setWebhook":
		s.setWebhook(w, params)
	case "deleteWebhook":
		s.deleteWebhook(w, params)
	case "getWebhookInfo":
		s.getWebhookInfo(w)
	default:
		fail(w, http.StatusNotFound, "Not Found: method not found", 0)
	}
}

// readParams reads JSON, form-encoded or query parameters as strings.
func readParams(r *http.Request) (map[string]string, error) {
	out := map[string]string{}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		raw := map[string]json.RawMessage{}
		if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
			return nil, err
		}
		for k, v := range raw {
			var str string
			if json.Unmarshal(v, &str) == nil {
				out[k] = str
			} else {
				out[k] = string(v)
			}
		}
		return out, nil
	}
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	for k := range r.Form {
		out[k] = r.Form.Get(k)
	}
	return out, nil
}

// getUpdates confirms updates below offset and returns the rest, waiting up
// to timeout seconds for one when there is none.
func (s *Server) getUpdates(w http.ResponseWriter, r *http.Request, p map[string]string) {
	if s.Webhook().URL != "" {
		fail(w, http.StatusConflict, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first", 0)
		return
	}
	offset, _ := strconv.ParseInt(p["offset"], 10, 64)
	timeout, _ := strconv.Atoi(p["timeout"])
	deadline := time.After(time.Duration(timeout) * time.Second)
	for {
		s.mu.Lock()
		s.offsets = append(s.offsets, offset)
		var keep []json.RawMessage
		var keepIDs []int64
		for i, id := range s.ids {
			if id >= offset {
				keep, keepIDs = append(keep, s.updates[i]), append(keepIDs, id)
			}
		}
		s.updates, s.ids = keep, keepIDs
		arrived := s.arrived
		s.mu.Unlock()
		if len(keep) > 0 || timeout == 0 {
			ok200(w, keep)
			return
		}
		select {
		case <-arrived:
		case <-deadline:
			ok200(w, []json.RawMessage{})
			return
		case <-r.Context().Done():
			return
		}
	}
}

func (s *Server) getFile(w http.ResponseWriter, p map[string]string) {
	s.mu.Lock()
	f, ok := s.files[p["file_id"]]
	s.mu.Unlock()
	if !ok {
		fail(w, http.StatusBadRequest, "Bad Request: invalid file_id", 0)
		return
	}
	ok200(w, map[string]any{"file_id": p["file_id"], "file_unique_id": "u" + p["file_id"],
		"file_size": len(f.data), "file_path": f.path})
}

func (s *Server) serveFile(w http.ResponseWriter, path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.files {
		if f.path == path {
			w.Write(f.data)
			return
		}
	}
	http.NotFound(w, nil)
}

func (s *Server) sendMessage(w http.ResponseWriter, p map[string]string) {
	chat, err := strconv.ParseInt(p["chat_id"], 10, 64)
	if err != nil || p["text"] == "" {
		fail(w, http.StatusBadRequest, "Bad Request: chat_id and text are required", 0)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.chatFail[chat]; ok {
		fail(w, f.code, f.desc, 0)
		return
	}
	if s.refuse != 0 {
		s.refuse--
		if s.refuse < 0 {
			s.refuse = -1
		}
		s.refused++
		close(s.sentNote)
		s.sentNote = make(chan struct{})
		fail(w, s.refuseAs, http.StatusText(s.refuseAs), 0)
		return
	}
	if s.flood > 0 {
		s.flood--
		fail(w, http.StatusTooManyRequests, "Too Many Requests: retry after "+strconv.Itoa(s.retry), s.retry)
		return
	}
	s.sent = append(s.sent, Sent{ChatID: chat, Text: p["text"], At: time.Now()})
	close(s.sentNote)
	s.sentNote = make(chan struct{})
	s.nextMsg++
	ok200(w, map[string]any{"message_id": s.nextMsg, "date": time.Now().Unix(),
		"chat": map[string]any{"id": chat, "type": "private"}, "text": p["text"]})
}

func ok200(w http.ResponseWriter, result any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"ok": true, "result": result})
}

func fail(w http.ResponseWriter, code int, desc string, retryAfter int) {
	body := map[string]any{"ok": false, "error_code": code, "description": desc}
	if retryAfter > 0 {
		body["parameters"] = map[string]any{"retry_after": retryAfter}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(body)
}

// Deliver posts update to a webhook the way Telegram does, with the secret
// token header, and returns the status it answered.
func Deliver(ctx context.Context, client *http.Client, webhook, secret string, update any) (int, error) {
	b, err := json.Marshal(update)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhook, strings.NewReader(string(b)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
