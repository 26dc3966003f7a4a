package node

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/morozhq/moroz/config"
	"github.com/morozhq/moroz/sip/ari"
	"github.com/morozhq/moroz/sip/media"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/voice"
	"github.com/morozhq/moroz/work"
)

// startARI builds Asterisk mode from cfg.ARI: the ARI client, external
// media legs on sip.rtp_ports at ari.external_host, and a call flow whose
// helpers are rung on Asterisk (or in their browsers), and with
// ari.trunk the dialler of accepted callbacks. It connects to
// nothing yet: Run starts the app, which retries until Asterisk answers.
// An empty ari.url leaves Asterisk mode off.
func (n *Node) startARI() error {
	c := n.cfg.ARI
	if !c.Enabled() {
		return nil
	}
	client, err := ari.NewClient(ari.ClientConfig{URL: c.URL, User: c.User, Password: c.Password, App: c.App})
	if err != nil {
		return fmt.Errorf("ari: %w", err)
	}
	ip, _ := netip.ParseAddr(c.ExternalHost)                  // validated
	low, high, _ := config.ParsePortRange(n.cfg.SIP.RTPPorts) // validated
	ports, err := media.NewPortRange(ip, low, high)
	if err != nil {
		return fmt.Errorf("ari: %w", err)
	}
	var flow *voice.Flow // set below: the flow needs the app's dialer
	app, err := ari.New(ari.Options{Client: client, Ports: ports, ExternalHost: ip, Work: n.work, Store: n.store,
		RingTimeout: int(c.RingTimeout / time.Second), Logger: n.log.With("component", "ari"),
		Handler: func(ctx context.Context, call voice.Call) { flow.Handle(ctx, call) }})
	if err != nil {
		return fmt.Errorf("ari: %w", err)
	}
	if flow, err = n.newARIFlow(app); err != nil {
		return err
	}
	if err := n.newARICallbacks(app); err != nil {
		return err
	}
	n.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "moroz_ari_unknown_events_total",
		Help: "ARI events of types Moroz does not handle, read and dropped."},
		func() float64 { return float64(client.UnknownEvents()) }))
	n.ari = app
	return nil
}

// newARIFlow is the call flow of Asterisk's callers: the same prompts,
// voicemail and queues as native calls; a helper's extension is their
// phone on Asterisk, rung through ARI, unless that phone is registered
// with Moroz's own SIP edge (both modes at once), which rings it itself;
// a helper without one is rung in their browser. Both legs of a call
// bridged to a phone on Asterisk are external media legs of this node,
// so the wallboard lists and monitors it as a native desk call.
func (n *Node) newARIFlow(app *ari.App) (*voice.Flow, error) {
	prompts := voice.NewPrompts(n.DataPath("prompts"))
	if err := prompts.Validate([]string{work.QueueCalls}, []string{n.cfg.SIP.Lang}); err != nil {
		return nil, fmt.Errorf("voice prompts: %w", err)
	}
	return voice.New(voice.Options{Work: n.work, Store: n.store, Prompts: prompts, Voicemail: n.voicemail,
		Dialer: n.phone.Dialer(ownEdgeFirst{n, app.Dialer()}), Phone: n.phone.PhoneOf(n.asteriskPhone), Talking: n.deskTalking,
		Lang: n.cfg.SIP.Lang, AnnounceEvery: n.cfg.SIP.AnnounceEvery,
		Logger: n.log.With("component", "voice", "mode", "ari")})
}

// newARICallbacks dials accepted callbacks through Asterisk when
// ari.trunk is set and sip.trunk has not already: the helper's phone on
// Asterisk (their extension) or else their browser, then
// PJSIP/<number>@<ari.trunk>; retries follow sip.callbacks as in native
// mode.
func (n *Node) newARICallbacks(app *ari.App) error {
	c := n.cfg.ARI
	if c.Trunk == "" {
		return nil
	}
	if n.callbacks != nil {
		n.log.Warn("ari.trunk ignored: callbacks dial through sip.trunk", "component", "ari")
		return nil
	}
	d, err := app.Callbacks(c.Trunk, c.CallerID)
	if err != nil {
		return fmt.Errorf("ari.trunk: %w", err)
	}
	n.callbacks, err = voice.NewCallbacks(voice.CallbackOptions{Work: n.work, Store: n.store,
		Dialer: n.phone.CallbackDialer(ownEdgeFirstCallbacks{d, n}), Phone: n.phone.PhoneOf(n.asteriskPhone),
		RetryAfter: n.cfg.SIP.Callbacks.RetryAfter, MaxAttempts: n.cfg.SIP.Callbacks.MaxAttempts,
		Talking: n.callbackTalking, Logger: n.log.With("component", "callbacks", "mode", "ari")})
	if err != nil {
		return err
	}
	return n.restoreCallbacks()
}

// asteriskPhone is the extension of a helper's phone on Asterisk (the
// app's Dialer and Callbacks make it an endpoint); "" when they have
// none.
func (n *Node) asteriskPhone(ctx context.Context, helperID int64) (string, error) {
	h, err := n.store.Helper(ctx, helperID)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	return h.Extension, err
}

// ownEdgeTarget is the SIP URI of ext's phone when it is registered with
// the node's own SIP edge, else "": such a phone is not Asterisk's, and
// ringing PJSIP/<ext> would find no one (Asterisk answers busy).
func (n *Node) ownEdgeTarget(ext string) string {
	if n.sip == nil || n.dialer == nil || ext == "" {
		return ""
	}
	return n.sip.Target(ext)
}

// ownEdgeFirst rings a helper's phone for an Asterisk call through the
// node's own SIP edge when the phone registered there, else through
// Asterisk. The edge's leg has media on this node like Asterisk's
// external media, so the call's Bridge joins the two legs all the same.
type ownEdgeFirst struct {
	n   *Node
	ari voice.Dialer
}

func (d ownEdgeFirst) Dial(ctx context.Context, target string, caller voice.Call) (voice.Leg, error) {
	if own := d.n.ownEdgeTarget(target); own != "" {
		return voice.SIPDialer(d.n.dialer).Dial(ctx, own, caller)
	}
	return d.ari.Dial(ctx, target, caller)
}

// ownEdgeFirstCallbacks rings the helper of an Asterisk-dialled callback
// as ownEdgeFirst does; the number is still called through Asterisk.
type ownEdgeFirstCallbacks struct {
	voice.CallbackDialer
	n *Node
}

func (d ownEdgeFirstCallbacks) RingHelper(ctx context.Context, target, number string) (voice.Leg, error) {
	if own := d.n.ownEdgeTarget(target); own != "" {
		return voice.SIPRing(ctx, d.n.dialer, own, number)
	}
	return d.CallbackDialer.RingHelper(ctx, target, number)
}

// runARI runs the Stasis app until ctx ends, or, after a Drain, until
// its calls ended or the drain deadline passed; it returns once the app
// and its calls have.
func (n *Node) runARI(ctx context.Context) error {
	if n.ari == nil {
		return nil
	}
	n.log.Info("asterisk mode", "component", "ari", "url", n.cfg.ARI.URL, "app", n.cfg.ARI.App)
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel: the app's calls end with ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() { n.ari.Run(ctx) })
	select {
	case <-ctx.Done():
		return nil
	case <-n.drained:
	}
	n.ari.Drain()
	deadline := time.NewTimer(n.cfg.Drain)
	defer deadline.Stop()
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	for n.ari.ActiveCalls() > 0 {
		select {
		case <-ctx.Done():
			return nil
		case <-deadline.C:
			n.log.Warn("drain deadline passed; hanging up asterisk calls", "active_calls", n.ari.ActiveCalls())
			return nil
		case <-tick.C:
		}
	}
	return nil
}
