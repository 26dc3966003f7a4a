package ari

import (
	"context"
	"fmt"
	"strings"

	"github.com/morozhq/moroz/sip/media"

	"github.com/morozhq/moroz/voice"
)

// Dialer returns the voice.Dialer that rings helpers' phones on Asterisk
// by originating to their endpoint into the app.
func (a *App) Dialer() voice.Dialer { return dialer{a} }

type dialer struct{ a *App }

// helperLeg is an answered helper phone: a channel with its own external
// media leg, which Call.Bridge joins to the caller's.
type helperLeg struct {
	ch *channel
}

func (h *helperLeg) Done() <-chan struct{} { return h.ch.done }
func (h *helperLeg) Hangup() error         { return h.ch.hangup(ReasonNormal) }

// Media is the leg's RTP endpoint; nil once the phone hung up.
func (h *helperLeg) Media() *media.Leg {
	leg, _ := h.ch.media()
	return leg
}

// Endpoint turns a helper's extension into an Asterisk endpoint:
// "PJSIP/helper7" stays as it is, "helper7" or "sip:helper7@host"
// become "PJSIP/helper7".
func Endpoint(ext string) string {
	ext = strings.TrimSpace(ext)
	if strings.Contains(ext, "/") {
		return ext
	}
	ext = strings.TrimPrefix(strings.TrimPrefix(ext, "sips:"), "sip:")
	if i := strings.IndexByte(ext, '@'); i >= 0 {
		ext = ext[:i]
	}
	return "PJSIP/" + ext
}

// Dial originates a channel to target's endpoint showing the caller's
// number and waits until it enters the app (answered), is destroyed
// (busy, declined, no answer) or ctx ends (the ringing is hung up). An
// ARI error is returned as it is: the flow treats it as a busy phone and
// the router offers the call again.
func (d dialer) Dial(ctx context.Context, target string, caller voice.Call) (voice.Leg, error) {
	return d.a.ring(ctx, Endpoint(target), caller.Caller(), caller.ID())
}

// ring originates a channel to endpoint into the app showing callerID,
// and gives it media once answered; forID is the caller's channel id it
// rings for ("" for a callback), an argument of its StasisStart.
func (a *App) ring(ctx context.Context, endpoint, callerID, forID string) (*helperLeg, error) {
	id := a.newID("helper")
	ch := a.newChannel(Channel{ID: id})
	a.remember(id, ch)
	args := []string{HelperArg}
	if forID != "" {
		args = append(args, forID)
	}
	_, err := a.c.Originate(ctx, OriginateParams{Endpoint: endpoint, ChannelID: id,
		AppArgs: args, CallerID: callerID, Timeout: a.opt.RingTimeout})
	if err != nil {
		a.forget(id)
		return nil, fmt.Errorf("ring %s: %w", endpoint, a.requestFailed("originate", err))
	}
	select {
	case <-ch.up:
	case <-ch.done:
		return nil, ringFailed(endpoint, ch.endCause())
	case <-ctx.Done():
		ch.hangup(ReasonNormal)
		return nil, ctx.Err()
	}
	if err := ch.startMedia(ctx); err != nil {
		ch.hangup(ReasonFailure)
		return nil, fmt.Errorf("ring %s: %w", endpoint, err)
	}
	ch.log.Info("phone answered", "endpoint", endpoint)
	return &helperLeg{ch}, nil
}

// ringFailed maps a Q.850 cause to the voice package's dial errors; a
// cause that is none of busy, declined or no answer (no route, an
// unregistered phone) is a plain error, which the flow counts as busy.
func ringFailed(target string, cause int) error {
	switch cause {
	case CauseBusy:
		return fmt.Errorf("ring %s: cause %d: %w", target, cause, voice.ErrBusy)
	case CauseCallRejected:
		return fmt.Errorf("ring %s: cause %d: %w", target, cause, voice.ErrDeclined)
	case CauseNoAnswer, CauseNoResponse:
		return fmt.Errorf("ring %s: cause %d: %w", target, cause, voice.ErrNoAnswer)
	}
	return fmt.Errorf("ring %s: cause %d: phone unreachable", target, cause)
}
