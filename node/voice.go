package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/morozhq/moroz/config"
	"github.com/morozhq/moroz/sip"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/voice"
	"github.com/morozhq/moroz/voicemail"
	"github.com/morozhq/moroz/work"
)

// drainPoll is how often a draining node looks whether its calls ended.
const drainPoll = 100 * time.Millisecond

// startVoice builds the phone side from cfg.SIP: the voicemail recorder,
// the SIP edge (bound here, so that a taken port fails at start) with its
// dialer for helpers' phones, and the call flow. An empty sip.addr turns
// SIP off; voicemail audio is still served.
func (n *Node) startVoice() error {
	vm, err := voicemail.New(voicemail.Options{Store: n.store, Work: n.work, Dir: n.cfg.Data,
		Max: n.cfg.SIP.VoicemailMax, Logger: n.log.With("component", "voicemail")})
	if err != nil {
		return err
	}
	n.voicemail = vm
	if n.cfg.SIP.Addr == "" {
		n.log.Info("sip off: sip.addr is empty")
		return nil
	}
	low, high, _ := config.ParsePortRange(n.cfg.SIP.RTPPorts) // validated
	srv, err := sip.New(sip.Config{UDPAddr: n.cfg.SIP.Addr, TCPAddr: n.cfg.SIP.Addr, RTPPortMin: low,
		RTPPortMax: high, PublicIP: n.cfg.SIP.PublicAddr, Logger: n.log.With("component", "sip"),
		Registrar: sip.RegistrarConfig{Credentials: deskSecrets{n.store}, Realm: n.cfg.SIP.Realm}}, n.handleCall)
	if err != nil {
		return fmt.Errorf("sip: %w", err)
	}
	n.sip = srv
	if n.dialer, err = srv.NewDialer(); err != nil {
		return fmt.Errorf("sip: %w", err)
	}
	if n.flow, err = n.newFlow(vm); err != nil {
		return err
	}
	if err := n.newCallbacks(); err != nil {
		return err
	}
	if err := srv.Start(context.Background()); err != nil { // after the flow is set: calls see it
		return fmt.Errorf("sip.addr %s: %w", n.cfg.SIP.Addr, err)
	}
	n.setAddr("sip", srv.UDPAddr().String())
	return nil
}

// newFlow checks the prompts (an uploaded greeting that does not load
// fails the start, not a call) and builds the flow.
func (n *Node) newFlow(vm *voicemail.Recorder) (*voice.Flow, error) {
	prompts := voice.NewPrompts(n.DataPath("prompts"))
	if err := prompts.Validate([]string{work.QueueCalls}, []string{n.cfg.SIP.Lang}); err != nil {
		return nil, fmt.Errorf("voice prompts: %w", err)
	}
	return voice.New(voice.Options{Work: n.work, Store: n.store, Prompts: prompts, Voicemail: vm,
		Dialer: n.phone.Dialer(voice.SIPDialer(n.dialer)), Phone: n.helperPhone(), Talking: n.deskTalking,
		Lang: n.cfg.SIP.Lang, AnnounceEvery: n.cfg.SIP.AnnounceEvery,
		Logger: n.log.With("component", "voice")})
}

// deskSecrets are the registrar's Credentials: the digest secrets the
// helpers' desk phones register with, by extension.
type deskSecrets struct{ st store.Store }

func (d deskSecrets) SIPHA1(ctx context.Context, ext string) (string, bool, error) {
	h, err := d.st.HelperByExtension(ctx, ext)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return h.SIPHA1, h.SIPHA1 != "", nil
}

// deskTarget is the SIP URI that rings a helper's desk phone of
// extension ext: ext itself when it is a SIP URI, else the phone that
// registered it most recently; "" when it is not registered.
func (n *Node) deskTarget(ext string) string {
	if strings.HasPrefix(ext, "sip:") {
		return ext
	}
	if ext == "" || n.sip == nil {
		return ""
	}
	return n.sip.Target(ext)
}

// newCallbacks dials accepted callbacks through sip.trunk, when set,
// ringing the helper's desk phone or, without one, their browser.
func (n *Node) newCallbacks() error {
	t := n.cfg.SIP.Trunk
	if t.Target == "" {
		return nil
	}
	d, err := voice.SIPCallbacks(n.dialer, voice.TrunkConfig{Target: t.Target, Username: t.Username,
		Password: t.Password, CallerID: t.CallerID})
	if err != nil {
		return err
	}
	n.callbacks, err = voice.NewCallbacks(voice.CallbackOptions{Work: n.work, Store: n.store,
		Dialer: n.phone.CallbackDialer(d), Phone: n.helperPhone(), RetryAfter: n.cfg.SIP.Callbacks.RetryAfter, MaxAttempts: n.cfg.SIP.Callbacks.MaxAttempts,
		Talking: n.callbackTalking, Logger: n.log.With("component", "callbacks")})
	if err != nil {
		return err
	}
	return n.restoreCallbacks()
}

// restoreCallbacks holds back again the callbacks that were waiting for a
// retry when the node stopped.
func (n *Node) restoreCallbacks() error {
	ctx, cancel := context.WithTimeout(context.Background(), callbackRestoreTimeout)
	defer cancel()
	return n.callbacks.Restore(ctx)
}

// callbackRestoreTimeout bounds reading the callbacks waiting for a retry
// at start.
const callbackRestoreTimeout = 30 * time.Second

// deskPhone is the SIP URI of a helper's desk phone; "" when they have
// none that can ring.
func (n *Node) deskPhone(ctx context.Context, helperID int64) (string, error) {
	h, err := n.store.Helper(ctx, helperID)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	return n.deskTarget(h.Extension), err
}

// runCallbacks dials callbacks until ctx ends; after a drain those in
// progress go on for at most the drain period.
func (n *Node) runCallbacks(ctx context.Context) {
	if n.callbacks == nil {
		return
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	defer func() { cancel(); <-done }()
	go func() {
		defer close(done)
		select {
		case <-cctx.Done():
			return
		case <-n.drained:
		}
		deadline := time.NewTimer(n.cfg.Drain)
		defer deadline.Stop()
		select {
		case <-cctx.Done():
		case <-deadline.C:
			cancel()
		}
	}()
	n.callbacks.Run(cctx, n.drained)
}

// handleCall runs the flow for one call of the SIP edge.
func (n *Node) handleCall(ctx context.Context, c *sip.Call) {
	voice.SIPHandler(n.flow)(ctx, c)
}

// withVoiceMounts adds the voicemail audio and greeting endpoints to the
// console's mounts m (which may be nil).
func (n *Node) withVoiceMounts(m map[string]http.Handler) map[string]http.Handler {
	out := map[string]http.Handler{}
	for p, h := range m {
		out[p] = h
	}
	if n.voicemail == nil {
		return out
	}
	for p, h := range n.voicemail.Mounts(voicemail.StoreAuth(n.store, nil), n.DataPath("prompts")) {
		out[p] = h
	}
	return out
}

// drainCalls refuses new calls (503 with Retry-After) and waits until the
// live ones ended, stop ends or the drain deadline passes.
func (n *Node) drainCalls(stop <-chan struct{}) {
	if n.sip == nil {
		return
	}
	n.sip.Drain()
	deadline := time.NewTimer(n.cfg.Drain)
	defer deadline.Stop()
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	for n.sip.ActiveCalls() > 0 {
		select {
		case <-stop:
			return
		case <-deadline.C:
			n.log.Warn("drain deadline passed; hanging up", "active_calls", n.sip.ActiveCalls())
			return
		case <-tick.C:
		}
	}
}

// closeVoice hangs up every call and waits for their flows, then closes
// the dialer; the work service must still be open.
func (n *Node) closeVoice() error {
	var errs []error
	if n.sip != nil {
		errs = append(errs, n.sip.Close())
	}
	if n.dialer != nil {
		errs = append(errs, n.dialer.Close())
	}
	return errors.Join(errs...)
}
