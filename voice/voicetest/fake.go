// Package voicetest has hand-written fakes of the voice flow's call
// interfaces, for tests that need no SIP peer: a Call whose audio is
// consumed at once rather than paced, and a Dialer whose phones answer,
// refuse or ring as a test scripts them.
package voicetest

import (
	"context"
	"sync"
	"time"

	"github.com/morozhq/moroz/sip/media"
	"github.com/morozhq/moroz/voice"
)

// holdFrames is how many frames of one Play the fake consumes before it
// treats the source as endless (hold music) and waits for the Play to
// be stopped: ten minutes of audio.
const holdFrames = 30000

// Call is a fake voice.Call. Play reads its source as fast as it can;
// Record writes Speech as the caller's message. Its methods are safe for
// concurrent use.
type Call struct {
	// CallID, From and To are what ID, Caller and Dialled return.
	CallID, From, To string
	// Speech is what Record writes as the caller's message.
	Speech []int16
	// OnPlay, if set, is called after each Play that ran to its end, with
	// the number of frames played; a test presses keys or hangs up from it.
	OnPlay func(frames int)
	// OnRecord, if set, is called once Record has written Speech; a test
	// hangs up from it to end the message.
	OnRecord func()

	dtmf     chan media.DTMF
	done     chan struct{}
	hangOnce sync.Once

	mu       sync.Mutex
	answered bool // guarded by mu
	plays    int  // guarded by mu: Play calls that ran to their end
	bridged  bool // guarded by mu
}

// NewCall returns a fake call from caller to dialled.
func NewCall(id, caller, dialled string) *Call {
	return &Call{CallID: id, From: caller, To: dialled, dtmf: make(chan media.DTMF, 16), done: make(chan struct{})}
}

// ID returns CallID.
func (c *Call) ID() string { return c.CallID }

// Caller returns From.
func (c *Call) Caller() string { return c.From }

// Dialled returns To.
func (c *Call) Dialled() string { return c.To }

// Answer marks the call answered.
func (c *Call) Answer() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answered = true
	return nil
}

// Hangup ends the call, as when the caller hangs up; it is idempotent.
func (c *Call) Hangup() error {
	c.hangOnce.Do(func() { close(c.done) })
	return nil
}

// Done is closed by Hangup.
func (c *Call) Done() <-chan struct{} { return c.done }

// Press sends a key press as the caller.
func (c *Call) Press(digit rune) {
	c.dtmf <- media.DTMF{Digit: digit, Duration: 100 * time.Millisecond}
}

// DTMF delivers what Press sent.
func (c *Call) DTMF() <-chan media.DTMF { return c.dtmf }

// Play consumes src without pacing; an endless source is held until ctx
// ends or the call does.
func (c *Call) Play(ctx context.Context, src media.Source) error {
	frame := make([]int16, media.FrameSamples)
	n := 0
	for ; n < holdFrames; n++ {
		if !src.ReadFrame(frame) {
			break
		}
	}
	if n == holdFrames {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.done:
			return media.ErrClosed
		}
	}
	select {
	case <-c.done:
		return media.ErrClosed
	default:
	}
	c.mu.Lock()
	c.plays++
	c.mu.Unlock()
	if c.OnPlay != nil {
		c.OnPlay(n)
	}
	return nil
}

// Record writes Speech to path and returns once the call ends or ctx does.
func (c *Call) Record(ctx context.Context, path string, max time.Duration) (media.RecordInfo, error) {
	samples := c.Speech
	if limit := int(max * media.SampleRate / time.Second); len(samples) > limit {
		samples = samples[:limit]
	}
	if err := media.WriteWAV(path, samples); err != nil {
		return media.RecordInfo{}, err
	}
	if c.OnRecord != nil {
		c.OnRecord()
	}
	select {
	case <-ctx.Done():
	case <-c.done:
	}
	return media.RecordInfo{Path: path, Duration: time.Duration(len(samples)) * time.Second / media.SampleRate}, nil
}

// Bridge holds until ctx ends or either leg ends.
func (c *Call) Bridge(ctx context.Context, helper voice.Leg) error {
	c.mu.Lock()
	c.bridged = true
	c.mu.Unlock()
	select {
	case <-ctx.Done():
	case <-c.done:
	case <-helper.Done():
	}
	return nil
}

// Answered reports whether Answer was called.
func (c *Call) Answered() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.answered
}

// Bridged reports whether Bridge was called.
func (c *Call) Bridged() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bridged
}

// Leg is a fake helper leg.
type Leg struct {
	done chan struct{}
	once sync.Once
}

// NewLeg returns a leg that lasts until Hangup.
func NewLeg() *Leg { return &Leg{done: make(chan struct{})} }

// Done is closed by Hangup.
func (l *Leg) Done() <-chan struct{} { return l.done }

// Hangup ends the leg; it is idempotent.
func (l *Leg) Hangup() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Dialer is a fake voice.Dialer: Phones maps a target to what ringing it
// does. A target missing from Phones rings until the ring is cancelled.
type Dialer struct {
	// Phones: a nil error answers with a new Leg; an error refuses.
	Phones map[string]error

	mu    sync.Mutex
	dials []string // guarded by mu
	legs  []*Leg   // guarded by mu
}

// Dial answers, refuses or rings as Phones says.
func (d *Dialer) Dial(ctx context.Context, target string, caller voice.Call) (voice.Leg, error) {
	d.mu.Lock()
	d.dials = append(d.dials, target)
	err, scripted := d.Phones[target]
	d.mu.Unlock()
	if !scripted {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	l := NewLeg()
	d.mu.Lock()
	d.legs = append(d.legs, l)
	d.mu.Unlock()
	return l, nil
}

// Dials returns the targets rung so far, in order.
func (d *Dialer) Dials() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.dials...)
}

// Legs returns the legs that answered, in order.
func (d *Dialer) Legs() []*Leg {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*Leg(nil), d.legs...)
}
