package ari

import (
	"context"
	"net/url"
	"strings"
)

// Channel is ARI's Channel model, the fields Moroz reads.
type Channel struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	State       string            `json:"state"` // Down, Ring, Ringing, Up, …
	Caller      CallerID          `json:"caller"`
	Connected   CallerID          `json:"connected"`
	Dialplan    Dialplan          `json:"dialplan"`
	Language    string            `json:"language"`
	ChannelVars map[string]string `json:"channelvars,omitempty"`
}

// CallerID is ARI's CallerID model.
type CallerID struct {
	Name   string `json:"name"`
	Number string `json:"number"`
}

// Dialplan is ARI's DialplanCEP model: where the channel is in the dialplan.
type Dialplan struct {
	Context string `json:"context"`
	Exten   string `json:"exten"`
	AppName string `json:"app_name"`
	AppData string `json:"app_data"`
}

// Bridge is ARI's Bridge model, the fields Moroz reads.
type Bridge struct {
	ID       string   `json:"id"`
	Type     string   `json:"bridge_type"`
	Name     string   `json:"name"`
	Channels []string `json:"channels"`
}

// Playback is ARI's Playback model.
type Playback struct {
	ID        string `json:"id"`
	MediaURI  string `json:"media_uri"`
	TargetURI string `json:"target_uri"`
	State     string `json:"state"` // queued, playing, continuing, done, failed
}

// LiveRecording is ARI's LiveRecording model.
type LiveRecording struct {
	Name   string `json:"name"`
	Format string `json:"format"`
	State  string `json:"state"`
	Cause  string `json:"cause,omitempty"`
}

// Hangup reasons ARI accepts (DELETE /channels/{id}?reason=…).
const (
	ReasonNormal     = "normal"
	ReasonBusy       = "busy"
	ReasonNoAnswer   = "no_answer"
	ReasonCongestion = "congestion"
	ReasonFailure    = "failure"
)

// Channels lists the channels Asterisk has (GET /channels).
func (c *Client) Channels(ctx context.Context) ([]Channel, error) {
	var out []Channel
	return out, c.do(ctx, "GET", "/channels", nil, nil, &out)
}

// Channel returns one channel (GET /channels/{id}); a gone channel is an
// error for which IsNotFound holds.
func (c *Client) Channel(ctx context.Context, id string) (Channel, error) {
	var out Channel
	return out, c.do(ctx, "GET", "/channels/"+seg(id), nil, nil, &out)
}

// Answer answers a ringing channel (POST /channels/{id}/answer).
func (c *Client) Answer(ctx context.Context, id string) error {
	return c.do(ctx, "POST", "/channels/"+seg(id)+"/answer", nil, nil, nil)
}

// Hangup hangs up a channel with reason, one of the Reason constants or
// "" for normal (DELETE /channels/{id}).
func (c *Client) Hangup(ctx context.Context, id, reason string) error {
	q := url.Values{}
	set(q, "reason", reason)
	return c.do(ctx, "DELETE", "/channels/"+seg(id), q, nil, nil)
}

// OriginateParams say whom to ring and how (POST /channels).
type OriginateParams struct {
	Endpoint  string   // e.g. PJSIP/helper7; required
	ChannelID string   // the new channel's id, so events can be matched before the answer
	AppArgs   []string // arguments its StasisStart carries
	CallerID  string   // e.g. "+375291234567" or `"Name" <number>`
	Timeout   int      // seconds to ring; 0 means Asterisk's default (30)
}

// Originate rings an endpoint into the client's Stasis app: the channel
// enters it (StasisStart) when answered, or is destroyed with a cause.
func (c *Client) Originate(ctx context.Context, p OriginateParams) (Channel, error) {
	q := url.Values{"endpoint": {p.Endpoint}, "app": {c.cfg.App}}
	set(q, "channelId", p.ChannelID)
	set(q, "appArgs", strings.Join(p.AppArgs, ","))
	set(q, "callerId", p.CallerID)
	setInt(q, "timeout", p.Timeout)
	var out Channel
	return out, c.do(ctx, "POST", "/channels", q, nil, &out)
}

// ExternalMediaParams describe an external media channel.
type ExternalMediaParams struct {
	ChannelID    string // the new channel's id
	ExternalHost string // host:port Asterisk sends RTP to; required
	Format       string // e.g. ulaw; required
}

// Channel variables of an external media channel: where Asterisk itself
// receives the RTP (RTP over UDP encapsulation).
const (
	VarRTPLocalAddress = "UNICASTRTP_LOCAL_ADDRESS"
	VarRTPLocalPort    = "UNICASTRTP_LOCAL_PORT"
)

// ExternalMedia starts an external media channel in the client's app
// that exchanges RTP over UDP with p.ExternalHost
// (POST /channels/externalMedia).
func (c *Client) ExternalMedia(ctx context.Context, p ExternalMediaParams) (Channel, error) {
	q := url.Values{"app": {c.cfg.App}, "external_host": {p.ExternalHost}, "format": {p.Format},
		"encapsulation": {"rtp"}, "transport": {"udp"}, "direction": {"both"}}
	set(q, "channelId", p.ChannelID)
	var out Channel
	return out, c.do(ctx, "POST", "/channels/externalMedia", q, nil, &out)
}

// Dial dials a channel created with /channels/create (POST
// /channels/{id}/dial); timeout is in seconds, 0 for Asterisk's default.
func (c *Client) Dial(ctx context.Context, id, caller string, timeout int) error {
	q := url.Values{}
	set(q, "caller", caller)
	setInt(q, "timeout", timeout)
	return c.do(ctx, "POST", "/channels/"+seg(id)+"/dial", q, nil, nil)
}

// Variable reads a channel variable (GET /channels/{id}/variable).
func (c *Client) Variable(ctx context.Context, id, name string) (string, error) {
	var out struct {
		Value string `json:"value"`
	}
	err := c.do(ctx, "GET", "/channels/"+seg(id)+"/variable", url.Values{"variable": {name}}, nil, &out)
	return out.Value, err
}

// SetVariable sets a channel variable (POST /channels/{id}/variable).
func (c *Client) SetVariable(ctx context.Context, id, name, value string) error {
	q := url.Values{"variable": {name}, "value": {value}}
	return c.do(ctx, "POST", "/channels/"+seg(id)+"/variable", q, nil, nil)
}

// Play starts Asterisk playing media (a sound: or recording: URI) to a
// channel under playbackID (POST /channels/{id}/play); Moroz plays its own
// prompts through external media, this is for Asterisk-side sounds.
func (c *Client) Play(ctx context.Context, id, playbackID, media string) (Playback, error) {
	q := url.Values{"media": {media}}
	set(q, "playbackId", playbackID)
	var out Playback
	return out, c.do(ctx, "POST", "/channels/"+seg(id)+"/play", q, nil, &out)
}

// StopPlayback stops a playback (DELETE /playbacks/{id}).
func (c *Client) StopPlayback(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/playbacks/"+seg(id), nil, nil, nil)
}

// Record starts Asterisk recording a channel into its recordings store
// as name.format (POST /channels/{id}/record).
func (c *Client) Record(ctx context.Context, id, name, format string, maxSeconds int) (LiveRecording, error) {
	q := url.Values{"name": {name}, "format": {format}, "ifExists": {"overwrite"}}
	setInt(q, "maxDurationSeconds", maxSeconds)
	var out LiveRecording
	return out, c.do(ctx, "POST", "/channels/"+seg(id)+"/record", q, nil, &out)
}

// StopRecording stops a live recording and keeps it
// (POST /recordings/live/{name}/stop).
func (c *Client) StopRecording(ctx context.Context, name string) error {
	return c.do(ctx, "POST", "/recordings/live/"+seg(name)+"/stop", nil, nil, nil)
}

// Bridges lists the bridges Asterisk has (GET /bridges).
func (c *Client) Bridges(ctx context.Context) ([]Bridge, error) {
	var out []Bridge
	return out, c.do(ctx, "GET", "/bridges", nil, nil, &out)
}

// CreateBridge creates a mixing bridge with id and name (POST /bridges).
func (c *Client) CreateBridge(ctx context.Context, id, name string) (Bridge, error) {
	q := url.Values{"type": {"mixing"}}
	set(q, "bridgeId", id)
	set(q, "name", name)
	var out Bridge
	return out, c.do(ctx, "POST", "/bridges", q, nil, &out)
}

// AddChannel puts channel into bridge (POST /bridges/{id}/addChannel).
func (c *Client) AddChannel(ctx context.Context, bridge string, channels ...string) error {
	q := url.Values{"channel": {strings.Join(channels, ",")}}
	return c.do(ctx, "POST", "/bridges/"+seg(bridge)+"/addChannel", q, nil, nil)
}

// RemoveChannel takes channel out of bridge (POST
// /bridges/{id}/removeChannel).
func (c *Client) RemoveChannel(ctx context.Context, bridge, channel string) error {
	q := url.Values{"channel": {channel}}
	return c.do(ctx, "POST", "/bridges/"+seg(bridge)+"/removeChannel", q, nil, nil)
}

// DestroyBridge destroys a bridge (DELETE /bridges/{id}).
func (c *Client) DestroyBridge(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/bridges/"+seg(id), nil, nil, nil)
}

// StartupTime is when Asterisk last started (GET /asterisk/info,
// status.startup_time): a changed value means it restarted.
func (c *Client) StartupTime(ctx context.Context) (string, error) {
	var out struct {
		Status struct {
			StartupTime string `json:"startup_time"`
		} `json:"status"`
	}
	err := c.do(ctx, "GET", "/asterisk/info", url.Values{"only": {"status"}}, nil, &out)
	return out.Status.StartupTime, err
}
