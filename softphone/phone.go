package softphone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/pion/webrtc/v4"

	"github.com/morozhq/moroz/sip/media"
	"github.com/morozhq/moroz/voice"
)

// targetPrefix starts the dial target of a helper's browser.
const targetPrefix = "webrtc:"

// Errors the phone's operations return, for errors.Is.
var (
	// ErrClosed is returned once the phone or the leg has closed.
	ErrClosed = errors.New("softphone closed")
	// ErrNoBrowser means the helper has no console open to ring.
	ErrNoBrowser = errors.New("helper has no console open")
	// ErrLost is the end of a leg whose browser vanished mid-call and
	// did not re-attach within the grace period.
	ErrLost = errors.New("helper's browser lost")
)

// Signaller carries the phone's messages to helpers' browsers; the
// console's websocket hub is one.
type Signaller interface {
	// SendSoftphone sends msg (JSON-encoded) to every open console of
	// the helper and returns how many it was queued for.
	SendSoftphone(helperID int64, msg any) int
	// Connected reports whether the helper has a console open.
	Connected(helperID int64) bool
}

// Supervisors is what a Signaller may also say about supervisors: whether
// the user has a console open and still may monitor calls (an enabled
// supervisor or admin). A monitor ends once it is false; a Signaller
// without it is asked Connected instead.
type Supervisors interface {
	MaySupervise(userID int64) bool
}

// Options configure a Phone. Signal is required.
type Options struct {
	Config Config
	Signal Signaller
	// HoldMusic returns what the caller hears while the helper holds;
	// nil means silence.
	HoldMusic func() media.Source
	// Logger receives the phone's logs; nil discards them.
	Logger *slog.Logger
	// Describe returns the work item and queue of a call (by the
	// caller's call id) for the wallboard's live calls; nil or zero
	// values leave them out.
	Describe func(ctx context.Context, callID string) (itemID int64, queue string)
}

// Phone is the browser legs of one node. Its methods are safe for
// concurrent use; Close is idempotent.
type Phone struct {
	opt  Options
	log  *slog.Logger
	apis map[media.Codec]*webrtc.API // one per codec: the answer offers only it

	mu     sync.Mutex
	legs   map[string]*Leg      // guarded by mu: by call id
	desks  map[string]*deskCall // guarded by mu: desk-phone calls, by call id
	closed bool                 // guarded by mu
}

// New checks opt and builds the WebRTC engines.
func New(opt Options) (*Phone, error) {
	if opt.Signal == nil {
		return nil, errors.New("new softphone: Signal is required")
	}
	if err := opt.Config.Validate(); err != nil {
		return nil, fmt.Errorf("new softphone: %w", err)
	}
	if opt.Config.Grace == 0 {
		opt.Config.Grace = DefaultGrace
	}
	if opt.HoldMusic == nil {
		opt.HoldMusic = media.Silence
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Phone{opt: opt, log: opt.Logger, apis: map[media.Codec]*webrtc.API{}, legs: map[string]*Leg{},
		desks: map[string]*deskCall{}}
	for _, c := range []media.Codec{media.PCMU, media.PCMA} {
		api, err := newAPI(opt.Config, c)
		if err != nil {
			return nil, fmt.Errorf("new softphone: %w", err)
		}
		p.apis[c] = api
	}
	return p, nil
}

// newAPI builds an engine that speaks codec and telephone-event only.
func newAPI(cfg Config, codec media.Codec) (*webrtc.API, error) {
	var me webrtc.MediaEngine
	audio := webrtc.RTPCodecParameters{PayloadType: webrtc.PayloadType(codec.PayloadType),
		RTPCodecCapability: capability(codec)}
	if err := me.RegisterCodec(audio, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("register %s: %w", codec.Name, err)
	}
	dtmf := webrtc.RTPCodecParameters{PayloadType: 101, RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: "audio/telephone-event", ClockRate: media.SampleRate, SDPFmtpLine: "0-16"}}
	if err := me.RegisterCodec(dtmf, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("register telephone-event: %w", err)
	}
	se, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(&me), webrtc.WithSettingEngine(se)), nil
}

func capability(c media.Codec) webrtc.RTPCodecCapability {
	mime := webrtc.MimeTypePCMU
	if c == media.PCMA {
		mime = webrtc.MimeTypePCMA
	}
	return webrtc.RTPCodecCapability{MimeType: mime, ClockRate: media.SampleRate, Channels: 1}
}

// Target is the dial target that rings helperID's browser.
func Target(helperID int64) string { return targetPrefix + strconv.FormatInt(helperID, 10) }

// ParseTarget returns the helper a Target names.
func ParseTarget(target string) (int64, bool) {
	s, ok := strings.CutPrefix(target, targetPrefix)
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}

// PhoneOf returns the flow's Phone function: a helper's desk phone when
// desk names one, else their browser while they have a console open.
func (p *Phone) PhoneOf(desk func(ctx context.Context, helperID int64) (string, error)) func(context.Context, int64) (string, error) {
	return func(ctx context.Context, helperID int64) (string, error) {
		if desk != nil {
			uri, err := desk(ctx, helperID)
			if err != nil || uri != "" {
				return uri, err
			}
		}
		if p.opt.Signal.Connected(helperID) {
			return Target(helperID), nil
		}
		return "", nil
	}
}

// Dialer returns a voice.Dialer that rings browsers for targets made by
// Target and hands every other target to desk (nil: none).
func (p *Phone) Dialer(desk voice.Dialer) voice.Dialer { return dialer{p, desk} }

type dialer struct {
	p    *Phone
	desk voice.Dialer
}

func (d dialer) Dial(ctx context.Context, target string, caller voice.Call) (voice.Leg, error) {
	if _, ok := ParseTarget(target); ok || d.desk == nil {
		return d.p.Dial(ctx, target, caller)
	}
	return d.desk.Dial(ctx, target, caller)
}

// Caller is what the phone needs of the caller's call (voice.Call is one).
type Caller interface {
	ID() string
	Caller() string
}

// Dial rings the browser target names and returns the leg once the
// helper answered and their audio arrived. It fails with an error
// wrapping voice.ErrDeclined when the helper rejected, voice.ErrNoAnswer
// when no console is open or the leg ended while ringing, and ctx's
// error when ctx ended first (the browser stops ringing).
func (p *Phone) Dial(ctx context.Context, target string, caller Caller) (*Leg, error) {
	helper, ok := ParseTarget(target)
	if !ok {
		return nil, fmt.Errorf("dial %s: not a softphone target", target)
	}
	l, err := p.ring(helper, caller)
	if err != nil {
		return nil, err
	}
	select {
	case <-l.answered:
		return l, nil
	case <-l.rejected:
		l.end(errRejected)
		return nil, fmt.Errorf("dial %s: %w", target, voice.ErrDeclined)
	case <-l.done:
		return nil, fmt.Errorf("dial %s: %w: %w", target, voice.ErrNoAnswer, l.Err())
	case <-ctx.Done():
		l.end(errCancelled)
		return nil, ctx.Err()
	}
}

var (
	errRejected    = errors.New("rejected by the helper")
	errCancelled   = errors.New("ringing cancelled")
	errHangup      = errors.New("hung up")
	errTransferred = errors.New("transferred")
)

// ring registers a new leg for the call and rings the helper's consoles.
func (p *Phone) ring(helper int64, caller Caller) (*Leg, error) {
	l := p.newLeg(helper, caller)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if old, ok := p.legs[l.callID]; ok && !old.ended() {
		p.mu.Unlock()
		return nil, fmt.Errorf("dial %s: call %s: %w", Target(helper), l.callID, voice.ErrBusy)
	}
	p.legs[l.callID] = l
	p.mu.Unlock()

	if p.opt.Signal.SendSoftphone(helper, l.event("ring", "")) == 0 {
		l.end(ErrNoBrowser)
		return nil, fmt.Errorf("dial %s: %w: %w", Target(helper), voice.ErrNoAnswer, ErrNoBrowser)
	}
	l.log.Info("ringing browser")
	return l, nil
}

// forget removes l from the phone once it ended.
func (p *Phone) forget(l *Leg) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.legs[l.callID] == l {
		delete(p.legs, l.callID)
	}
}

// leg returns the helper's leg of a call.
func (p *Phone) leg(helper int64, callID string) (*Leg, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.legs[callID]
	if !ok || l.helper != helper {
		return nil, &signalError{codeNotFound, "no such call: " + callID}
	}
	return l, nil
}

// Legs returns the live legs of a helper (all helpers when helper is 0).
func (p *Phone) Legs(helper int64) []*Leg {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*Leg
	for _, l := range p.legs {
		if helper == 0 || l.helper == helper {
			out = append(out, l)
		}
	}
	return out
}

// Close ends every leg and waits for them; it is idempotent.
func (p *Phone) Close() error {
	p.mu.Lock()
	p.closed = true
	legs := make([]*Leg, 0, len(p.legs))
	for _, l := range p.legs {
		legs = append(legs, l)
	}
	p.mu.Unlock()
	for _, l := range legs {
		l.end(ErrClosed)
	}
	for _, d := range p.deskCalls() {
		d.end()
	}
	return nil
}
