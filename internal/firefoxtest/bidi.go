package firefoxtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Browser is one Firefox and its BiDi session.
type Browser struct {
	width, height int // of each tab's viewport
	proc          *process
	ws            *websocket.Conn
	done          chan struct{} // closed when the reader ends
	wg            sync.WaitGroup

	writeMu sync.Mutex // one frame at a time on ws

	mu      sync.Mutex
	next    uint64                   // guarded by mu: the last command id used
	pending map[uint64]chan response // guarded by mu: commands awaiting their answer
	logs    []LogEntry               // guarded by mu: the pages' console and errors
	readErr error                    // guarded by mu: why the reader ended
	closed  bool                     // guarded by mu
}

// message is any message from the remote end (WebDriver BiDi §6, "Local
// end definition": CommandResponse, ErrorResponse and Event).
type message struct {
	Type    string          `json:"type"` // success, error or event
	ID      *uint64         `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   string          `json:"error"`
	Message string          `json:"message"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

type response struct {
	result json.RawMessage
	err    error
}

// Error is a command's ErrorResponse: its error code ("no such frame",
// "invalid argument"...) and message.
type Error struct {
	Method  string
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s: %s", e.Method, e.Code, e.Message) }

// LogEntry is a log.entryAdded event: a console message or an uncaught
// error of a page.
type LogEntry struct {
	Type  string `json:"type"` // console or javascript
	Level string `json:"level"`
	Text  string `json:"text"`
}

func (e LogEntry) String() string { return e.Level + " " + e.Type + ": " + e.Text }

func dial(ctx context.Context, url string, p *process) (*Browser, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	ws, _, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", url, err)
	}
	b := &Browser{proc: p, ws: ws, done: make(chan struct{}), pending: map[uint64]chan response{}}
	b.wg.Add(1)
	go func() { defer b.wg.Done(); b.read() }()
	return b, nil
}

func (b *Browser) newSession(ctx context.Context) error {
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"acceptInsecureCerts": true, "unhandledPromptBehavior": map[string]string{"default": "dismiss"},
	}}}
	if err := b.Call(ctx, "session.new", caps, nil); err != nil {
		return err
	}
	return b.Call(ctx, "session.subscribe", map[string]any{"events": []string{"log.entryAdded"}}, nil)
}

// read dispatches answers to their commands and keeps log events, until
// the websocket closes; then it fails the commands still waiting.
func (b *Browser) read() {
	defer close(b.done)
	var err error
	for {
		var m message
		if err = b.ws.ReadJSON(&m); err != nil {
			break
		}
		switch {
		case m.Type == "event" && m.Method == "log.entryAdded":
			var e LogEntry
			if json.Unmarshal(m.Params, &e) == nil {
				b.mu.Lock()
				b.logs = append(b.logs, e)
				b.mu.Unlock()
			}
		case m.ID != nil:
			b.mu.Lock()
			ch := b.pending[*m.ID]
			delete(b.pending, *m.ID)
			b.mu.Unlock()
			if ch == nil {
				continue
			}
			if m.Type == "error" {
				ch <- response{err: &Error{Code: m.Error, Message: m.Message}}
			} else {
				ch <- response{result: m.Result}
			}
		}
	}
	b.mu.Lock()
	b.readErr = err
	for id, ch := range b.pending {
		ch <- response{err: fmt.Errorf("connection to firefox lost: %w", err)}
		delete(b.pending, id)
	}
	b.mu.Unlock()
}

// Call sends the command method with params (marshalled as JSON; nil is
// {}) and unmarshals its result into result unless that is nil. It
// blocks until the answer arrives, ctx ends or the connection is lost; an
// ErrorResponse is an *Error.
func (b *Browser) Call(ctx context.Context, method string, params, result any) error {
	if params == nil {
		params = struct{}{}
	}
	ch := make(chan response, 1)
	b.mu.Lock()
	if b.closed || b.readErr != nil {
		b.mu.Unlock()
		return fmt.Errorf("%s: browser closed", method)
	}
	b.next++
	id := b.next
	b.pending[id] = ch
	b.mu.Unlock()

	b.writeMu.Lock()
	err := b.ws.WriteJSON(map[string]any{"id": id, "method": method, "params": params})
	b.writeMu.Unlock()
	if err != nil {
		b.forget(id)
		return fmt.Errorf("%s: send: %w", method, err)
	}

	select {
	case r := <-ch:
		if r.err != nil {
			var e *Error
			if errors.As(r.err, &e) {
				e.Method = method
				return e
			}
			return fmt.Errorf("%s: %w", method, r.err)
		}
		if result == nil {
			return nil
		}
		if err := json.Unmarshal(r.result, result); err != nil {
			return fmt.Errorf("%s: decode result: %w", method, err)
		}
		return nil
	case <-ctx.Done():
		b.forget(id)
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

func (b *Browser) forget(id uint64) {
	b.mu.Lock()
	delete(b.pending, id)
	b.mu.Unlock()
}

// Logs returns the pages' console messages and uncaught errors so far.
func (b *Browser) Logs() []LogEntry {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]LogEntry(nil), b.logs...)
}

// close asks Firefox to quit (browser.close ends the session and the
// process), then makes sure the process and the reader are gone.
func (b *Browser) close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	alive := b.readErr == nil
	b.mu.Unlock()
	if alive {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		b.Call(ctx, "browser.close", nil, nil) // the connection may drop before the answer
		cancel()
	}
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	err := b.proc.stop(10 * time.Second)
	b.ws.Close()
	b.wg.Wait()
	return err
}
