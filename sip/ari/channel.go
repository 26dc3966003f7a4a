package ari

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/morozhq/moroz/sip/media"
)

// Errors of a channel's media operations, for errors.Is.
var (
	// ErrNotAnswered is returned by media operations before Answer.
	ErrNotAnswered = errors.New("ari channel not answered")
	// ErrEnded is returned by operations on a channel that has ended.
	ErrEnded = errors.New("ari channel ended")
)

// cleanupTimeout bounds the REST requests that tear a channel's media
// down after its call (and its context) ended.
const cleanupTimeout = 5 * time.Second

// channel is one Asterisk channel Moroz drives (a caller or a helper's
// phone) and, once answered, its media: a media.Leg that exchanges RTP
// with an external media channel, both in one mixing bridge.
type channel struct {
	app   *App
	id    string
	info  Channel
	log   *slog.Logger
	dtmf  chan media.DTMF
	done  chan struct{}
	up    chan struct{} // closed when an originated channel entered Stasis
	clean chan struct{} // closed when the ended channel's media is torn down

	mu      sync.Mutex
	leg     *media.Leg // guarded by mu: nil until answered
	extID   string     // guarded by mu: the external media channel
	bridge  string     // guarded by mu: the mixing bridge
	cause   int        // guarded by mu: Q.850 cause of the end
	dropped bool       // guarded by mu: Asterisk lost it (restart), no StasisEnd
	ended   bool       // guarded by mu
	isUp    bool       // guarded by mu
	onEnd   func()     // guarded by mu: ends the call's context
}

// setOnEnd sets what runs when the channel ends; at once if it has.
func (ch *channel) setOnEnd(f func()) {
	ch.mu.Lock()
	ended := ch.ended
	ch.onEnd = f
	ch.mu.Unlock()
	if ended {
		f()
	}
}

func (a *App) newChannel(info Channel) *channel {
	return &channel{app: a, id: info.ID, info: info, log: a.log.With("call_id", info.ID),
		dtmf: make(chan media.DTMF, 16), done: make(chan struct{}), up: make(chan struct{}),
		clean: make(chan struct{})}
}

// entered marks an originated channel as answered (its StasisStart).
func (ch *channel) entered(info Channel) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.isUp || ch.ended {
		return
	}
	ch.info, ch.isUp = info, true
	close(ch.up)
}

// key delivers a key press; one nobody reads in time is dropped.
func (ch *channel) key(digit string, ms int) {
	if len(digit) != 1 {
		return
	}
	select {
	case ch.dtmf <- media.DTMF{Digit: rune(digit[0]), Duration: time.Duration(ms) * time.Millisecond}:
	default:
		ch.log.Warn("key press dropped: nobody read it", "digit", digit)
	}
}

// finish marks the channel ended (Asterisk said so, or lost it) and tears
// its media down. It reports whether this call ended it; either way it
// returns once the media is torn down.
func (ch *channel) finish(cause int, dropped bool) bool {
	ch.mu.Lock()
	if ch.ended {
		ch.mu.Unlock()
		<-ch.clean
		return false
	}
	ch.ended, ch.cause, ch.dropped = true, cause, ch.dropped || dropped
	leg, ext, bridge, onEnd := ch.leg, ch.extID, ch.bridge, ch.onEnd
	ch.mu.Unlock()

	close(ch.done)
	if onEnd != nil {
		onEnd()
	}
	ch.app.forget(ch.id)
	ch.teardown(leg, ext, bridge)
	close(ch.clean)
	return true
}

// markDropped notes that Asterisk lost the channel, before it is ended:
// whoever ends it, the call is recorded as dropped.
func (ch *channel) markDropped() {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.dropped = true
}

// teardown closes the leg and asks Asterisk to drop the external media
// channel and the bridge; what is already gone is not an error.
func (ch *channel) teardown(leg *media.Leg, ext, bridge string) {
	if leg != nil {
		leg.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if ext != "" {
		ch.app.forget(ext)
		if err := ch.app.c.Hangup(ctx, ext, ""); err != nil && !IsNotFound(err) {
			ch.log.Warn("external media channel not hung up", "request", "DELETE /channels/"+ext, "err", err)
		}
	}
	if bridge != "" {
		if err := ch.app.c.DestroyBridge(ctx, bridge); err != nil && !IsNotFound(err) {
			ch.log.Warn("bridge not destroyed", "request", "DELETE /bridges/"+bridge, "err", err)
		}
		ch.app.ownBridge(bridge, false)
	}
}

// hangup hangs the channel up in Asterisk and ends it here.
func (ch *channel) hangup(reason string) error {
	select {
	case <-ch.done:
		return nil
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	err := ch.app.c.Hangup(ctx, ch.id, reason)
	if IsNotFound(err) {
		err = nil
	}
	if err != nil {
		ch.log.Warn("channel not hung up; retried after the next reconnection", "request", "DELETE /channels/"+ch.id, "err", err)
		ch.app.hangupLater(ch.id)
	}
	ch.finish(CauseNormal, false)
	return err
}

// startMedia gives the channel its external media channel, leg and
// bridge. On failure what was made is torn down.
func (ch *channel) startMedia(ctx context.Context) (err error) {
	leg, ext, bridge, err := ch.app.newMedia(ctx, ch.id)
	ch.mu.Lock()
	if err == nil && !ch.ended {
		ch.leg, ch.extID, ch.bridge = leg, ext, bridge
		ch.mu.Unlock()
		return nil
	}
	ch.mu.Unlock()
	if err == nil {
		err = ErrEnded
	}
	ch.teardown(leg, ext, bridge)
	return fmt.Errorf("media of channel %s: %w", ch.id, err)
}

// media returns the answered channel's leg.
func (ch *channel) media() (*media.Leg, error) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	switch {
	case ch.ended:
		return nil, ErrEnded
	case ch.leg == nil:
		return nil, ErrNotAnswered
	}
	return ch.leg, nil
}

// newMedia makes the media of channel id: a leg on a port of the range,
// an external media channel sending to it, and a bridge holding both
// channels. It returns what it made even on failure, for teardown.
func (a *App) newMedia(ctx context.Context, id string) (leg *media.Leg, ext, bridge string, err error) {
	conn, err := a.opt.Ports.Listen()
	if err != nil {
		return nil, "", "", err
	}
	leg, err = media.NewLeg(conn, media.LegConfig{Codec: media.PCMU, Logger: a.log.With("call_id", id)})
	if err != nil {
		return nil, "", "", err
	}
	host := netip.AddrPortFrom(a.opt.ExternalHost, leg.LocalAddr().Port())
	ext = a.newID("media")
	a.remember(ext, nil)
	em, err := a.c.ExternalMedia(ctx, ExternalMediaParams{ChannelID: ext, ExternalHost: host.String(), Format: "ulaw"})
	if err != nil {
		return leg, ext, "", a.requestFailed("external media", err)
	}
	if to, ok := rtpAddress(em); ok {
		leg.SetRemote(to)
	}
	bridge = a.newID("bridge")
	a.ownBridge(bridge, true)
	if _, err := a.c.CreateBridge(ctx, bridge, "moroz "+id); err != nil {
		a.ownBridge(bridge, false)
		return leg, ext, "", a.requestFailed("bridge", err)
	}
	if err := a.c.AddChannel(ctx, bridge, id, ext); err != nil {
		return leg, ext, bridge, a.requestFailed("bridge channels", err)
	}
	return leg, ext, bridge, nil
}

// rtpAddress is where an external media channel receives RTP, from its
// channel variables.
func rtpAddress(ch Channel) (netip.AddrPort, bool) {
	ip, err := netip.ParseAddr(ch.ChannelVars[VarRTPLocalAddress])
	if err != nil {
		return netip.AddrPort{}, false
	}
	port, err := strconv.ParseUint(ch.ChannelVars[VarRTPLocalPort], 10, 16)
	if err != nil || port == 0 {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ip, uint16(port)), true
}

// endCause is the Q.850 cause the channel ended with.
func (ch *channel) endCause() int {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.cause
}

// wasDropped reports whether Asterisk lost the channel without ending it.
func (ch *channel) wasDropped() bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.dropped
}
