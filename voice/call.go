package voice

import (
	"context"
	"errors"
	"time"

	"github.com/morozhq/moroz/sip/media"
)

// Call is what the flow needs of a caller's leg. The native SIP edge
// (sip.Call, through SIPHandler) implements it; the Asterisk ARI mode
// will too. Methods are safe for concurrent use.
type Call interface {
	// ID identifies the call: the SIP Call-ID or the ARI channel id. It is
	// the voice item's external id and the call record's key.
	ID() string
	// Caller is the caller's number (or user), as the network gave it.
	Caller() string
	// Dialled is the number or user the caller dialled.
	Dialled() string
	// Answer answers the call; media flows from then on.
	Answer() error
	// Hangup ends the call; it is a no-op on an ended call.
	Hangup() error
	// Done is closed when the call has ended, whoever ended it.
	Done() <-chan struct{}
	// Play sends src to the caller until it ends (nil), ctx ends, another
	// Play replaces it or the call ends.
	Play(ctx context.Context, src media.Source) error
	// DTMF delivers the caller's key presses.
	DTMF() <-chan media.DTMF
	// Record writes the caller's audio to a WAV file at path until max,
	// ctx or the end of the call; the file is committed in each case.
	Record(ctx context.Context, path string, max time.Duration) (media.RecordInfo, error)
	// Bridge joins the caller and a helper's leg from the same
	// implementation's Dialer until ctx ends or either leg ends.
	Bridge(ctx context.Context, helper Leg) error
}

// Leg is a helper's answered phone.
type Leg interface {
	// Done is closed when the helper's leg has ended.
	Done() <-chan struct{}
	// Hangup ends the leg; it is a no-op on an ended leg.
	Hangup() error
}

// Dialer rings helpers' phones.
type Dialer interface {
	// Dial rings target (a SIP URI) on behalf of caller and returns the
	// helper's leg once it answered. It fails with an error wrapping
	// ErrBusy, ErrDeclined or ErrNoAnswer when the phone refused or rang
	// out, or ctx's error when ctx ended first (the ringing is cancelled).
	Dial(ctx context.Context, target string, caller Call) (Leg, error)
}

// Errors a Dialer returns, for errors.Is.
var (
	// ErrBusy means the phone answered busy (486, 600).
	ErrBusy = errors.New("helper phone busy")
	// ErrDeclined means the helper declined (603).
	ErrDeclined = errors.New("helper declined")
	// ErrNoAnswer means the phone did not answer or could not be reached.
	ErrNoAnswer = errors.New("helper phone did not answer")
)
