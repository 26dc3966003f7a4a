package ari

import (
	"context"
	"fmt"
	"time"

	"github.com/morozhq/moroz/sip/media"
	"github.com/morozhq/moroz/voice"
)

// Call is a caller's channel in the Stasis app, seen by the voice flow as
// a voice.Call. Its methods are safe for concurrent use.
type Call struct {
	ch *channel
}

var _ voice.Call = Call{}

// ID is the caller's Asterisk channel id.
func (c Call) ID() string { return c.ch.id }

// Caller is the caller id number Asterisk gave the channel.
func (c Call) Caller() string { return c.ch.info.Caller.Number }

// Dialled is the extension the channel was in when it entered Stasis.
func (c Call) Dialled() string { return c.ch.info.Dialplan.Exten }

// Answer answers the channel and starts its media: an external media
// channel and a bridge. A failure leaves nothing behind in Asterisk but
// the caller's channel, which the flow then hangs up.
func (c Call) Answer() error {
	ctx, cancel := context.WithTimeout(context.Background(), c.ch.app.c.cfg.RequestTimeout*3)
	defer cancel()
	if err := c.ch.app.c.Answer(ctx, c.ch.id); err != nil {
		return c.ch.app.requestFailed("answer", err)
	}
	return c.ch.startMedia(ctx)
}

// Hangup hangs up the caller's channel; a no-op on an ended channel.
func (c Call) Hangup() error { return c.ch.hangup(ReasonNormal) }

// Done is closed when the channel has ended.
func (c Call) Done() <-chan struct{} { return c.ch.done }

// Play sends src to the caller through the external media channel.
func (c Call) Play(ctx context.Context, src media.Source) error {
	leg, err := c.ch.media()
	if err != nil {
		return err
	}
	return leg.Play(ctx, src)
}

// Media is the caller's external media leg, which Bridge joins to a
// helper's (the node lists the bridge on the wallboard with it); nil
// before Answer started it and once the channel ended.
func (c Call) Media() *media.Leg {
	leg, _ := c.ch.media()
	return leg
}

// DTMF delivers the caller's key presses (ChannelDtmfReceived events).
func (c Call) DTMF() <-chan media.DTMF { return c.ch.dtmf }

// Record writes the caller's audio, as it arrives over external media, to
// a WAV file at path (see media.Leg.Record).
func (c Call) Record(ctx context.Context, path string, max time.Duration) (media.RecordInfo, error) {
	leg, err := c.ch.media()
	if err != nil {
		return media.RecordInfo{}, err
	}
	return leg.Record(ctx, path, max)
}

// mediaLeg is a helper leg with RTP media: a phone on Asterisk (the
// app's Dialer) or a browser (package softphone).
type mediaLeg interface {
	Media() *media.Leg
}

// Bridge relays audio between the caller and a helper's leg through
// Moroz's media layer, as in native mode: a phone on Asterisk rung by the
// app's Dialer, or any leg with media (the browser softphone's).
func (c Call) Bridge(ctx context.Context, helper voice.Leg) error {
	h, ok := helper.(mediaLeg)
	if !ok || h.Media() == nil {
		return fmt.Errorf("bridge %s: helper leg %T has no media", c.ch.id, helper)
	}
	mine, err := c.ch.media()
	if err != nil {
		return err
	}
	return mine.Bridge(ctx, h.Media())
}
