package ari

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// DefaultConnectTimeout bounds the events websocket's handshake when
// ClientConfig leaves ConnectTimeout zero.
const DefaultConnectTimeout = 10 * time.Second

// Event types Moroz handles. Every other type is read, counted in
// Client.UnknownEvents and dropped.
const (
	EventStasisStart         = "StasisStart"
	EventStasisEnd           = "StasisEnd"
	EventChannelDestroyed    = "ChannelDestroyed"
	EventChannelDtmfReceived = "ChannelDtmfReceived"
	EventChannelStateChange  = "ChannelStateChange"
	EventChannelHangup       = "ChannelHangupRequest"
	EventPlaybackFinished    = "PlaybackFinished"
	EventRecordingFinished   = "RecordingFinished"
	EventRecordingFailed     = "RecordingFailed"
	EventBridgeDestroyed     = "BridgeDestroyed"
)

var knownEvents = map[string]bool{
	EventStasisStart: true, EventStasisEnd: true, EventChannelDestroyed: true,
	EventChannelDtmfReceived: true, EventChannelStateChange: true, EventChannelHangup: true,
	EventPlaybackFinished: true, EventRecordingFinished: true, EventRecordingFailed: true,
	EventBridgeDestroyed: true,
}

// Event is one ARI event of a handled type; which fields are set depends
// on Type (see Asterisk's events.json).
type Event struct {
	Type        string         `json:"type"`
	Application string         `json:"application"`
	Timestamp   string         `json:"timestamp"`
	AsteriskID  string         `json:"asterisk_id,omitempty"`
	Channel     *Channel       `json:"channel,omitempty"`
	Bridge      *Bridge        `json:"bridge,omitempty"`
	Args        []string       `json:"args,omitempty"`      // StasisStart
	Digit       string         `json:"digit,omitempty"`     // ChannelDtmfReceived
	DurationMS  int            `json:"duration_ms"`         // ChannelDtmfReceived
	Cause       int            `json:"cause"`               // ChannelDestroyed, ChannelHangupRequest (Q.850)
	CauseText   string         `json:"cause_txt,omitempty"` // ChannelDestroyed
	Playback    *Playback      `json:"playback,omitempty"`
	Recording   *LiveRecording `json:"recording,omitempty"`
}

// Q.850 hangup causes ChannelDestroyed carries, those Moroz tells apart.
const (
	CauseNormal       = 16
	CauseBusy         = 17
	CauseNoResponse   = 18
	CauseNoAnswer     = 19
	CauseCallRejected = 21
)

// EventConn is one events websocket. Read from one goroutine; Close is
// safe from any and idempotent.
type EventConn struct {
	ws        *websocket.Conn
	client    *Client
	closeOnce sync.Once
}

// UnknownEvents is how many events of types Moroz does not handle (or
// that did not parse) this client's connections have read and dropped.
func (c *Client) UnknownEvents() uint64 { return c.unknown.Load() }

// ConnectEvents opens the events websocket of the client's app
// (GET /ari/events?app=…). The handshake is bounded by ctx and by
// ClientConfig.ConnectTimeout.
func (c *Client) ConnectEvents(ctx context.Context) (*EventConn, error) {
	u := *c.base
	u.Path += "/events"
	u.RawQuery = url.Values{"app": {c.cfg.App}}.Encode()
	u.Scheme = map[string]string{"http": "ws", "https": "wss"}[c.base.Scheme]
	d := websocket.Dialer{HandshakeTimeout: c.cfg.ConnectTimeout}
	h := http.Header{}
	auth := base64.StdEncoding.EncodeToString([]byte(c.cfg.User + ":" + c.cfg.Password))
	h.Set("Authorization", "Basic "+auth)
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	defer cancel()
	ws, res, err := d.DialContext(ctx, u.String(), h)
	if err != nil {
		if res != nil {
			return nil, fmt.Errorf("ari events %s: %w", c.cfg.App, &Error{Method: "GET", Path: "/events", Status: res.StatusCode, Message: res.Status})
		}
		return nil, fmt.Errorf("ari events %s: %w", c.cfg.App, err)
	}
	ws.SetReadLimit(1 << 20)
	return &EventConn{ws: ws, client: c}, nil
}

// Read returns the next event of a handled type. Events of other types,
// and messages that are not JSON events, are counted and skipped. It
// fails when the connection drops or is closed.
func (e *EventConn) Read() (Event, error) {
	for {
		_, data, err := e.ws.ReadMessage()
		if err != nil {
			return Event{}, fmt.Errorf("ari events: read: %w", err)
		}
		ev, ok := decodeEvent(data)
		if !ok {
			e.client.unknown.Add(1)
			continue
		}
		return ev, nil
	}
}

// decodeEvent parses a message; ok is false when it is not an event of
// a handled type.
func decodeEvent(data []byte) (ev Event, ok bool) {
	var head struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(data, &head) != nil || !knownEvents[head.Type] {
		return Event{}, false
	}
	if json.Unmarshal(data, &ev) != nil {
		return Event{}, false
	}
	return ev, true
}

// Close closes the websocket; a blocked Read returns.
func (e *EventConn) Close() error {
	var err error
	e.closeOnce.Do(func() {
		err = e.ws.Close()
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
	})
	return err
}

// HandledEvents lists the event types Moroz reads; the others are
// counted in UnknownEvents and dropped.
func HandledEvents() []string {
	out := make([]string, 0, len(knownEvents))
	for t := range knownEvents {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}
