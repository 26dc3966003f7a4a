package node

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/config"
	"github.com/morozhq/moroz/console"
	"github.com/morozhq/moroz/sip/media"
	"github.com/morozhq/moroz/softphone"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/voice"
	"github.com/morozhq/moroz/work"
)

// consoleSignal carries the phone's messages through the console, which
// is built after the phone (the console needs the phone for its requests).
type consoleSignal struct {
	mu  sync.Mutex
	srv *console.Server // guarded by mu; nil until the console is built
}

func (c *consoleSignal) set(srv *console.Server) {
	c.mu.Lock()
	c.srv = srv
	c.mu.Unlock()
}

func (c *consoleSignal) get() *console.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.srv
}

func (c *consoleSignal) SendSoftphone(helperID int64, msg any) int {
	if srv := c.get(); srv != nil {
		return srv.SendSoftphone(helperID, msg)
	}
	return 0
}

func (c *consoleSignal) Connected(helperID int64) bool {
	srv := c.get()
	return srv != nil && srv.Connected(helperID)
}

func (c *consoleSignal) MaySupervise(userID int64) bool {
	srv := c.get()
	return srv != nil && srv.MaySupervise(userID)
}

// startPhone builds the helpers' browser phone from cfg.Softphone; the
// caller on hold hears the calls queue's hold tune.
func (n *Node) startPhone() error {
	prompts := voice.NewPrompts(n.DataPath("prompts"))
	hold := func() media.Source {
		c, err := prompts.Clip(work.QueueCalls, n.cfg.SIP.Lang, voice.PromptHold)
		if err != nil {
			n.log.Warn("hold music missing; the caller hears silence", "err", err)
			return media.Silence()
		}
		return c.Loop()
	}
	n.phoneSignal = &consoleSignal{}
	p, err := softphone.New(softphone.Options{Config: phoneConfig(n.cfg), Signal: n.phoneSignal,
		HoldMusic: hold, Describe: n.describeCall, Logger: n.log.With("component", "softphone")})
	if err != nil {
		return err
	}
	n.phone = p
	return nil
}

// describeCall names the voice item and queue of a call for the
// wallboard's live calls.
func (n *Node) describeCall(ctx context.Context, callID string) (int64, string) {
	it, err := n.store.ItemByExternalID(ctx, acd.Voice, callID)
	if err != nil {
		return 0, ""
	}
	return it.ID, it.Queue
}

// phoneConfig maps the configuration's softphone keys onto the phone's.
// A console on a loopback address serves browsers of this host, so the
// phone offers loopback candidates too.
func phoneConfig(cfg config.Config) softphone.Config {
	s := cfg.Softphone
	out := softphone.Config{PublicIPs: s.PublicIPs, Grace: s.Grace}
	if len(s.STUN) > 0 {
		out.ICEServers = append(out.ICEServers, softphone.ICEServer{URLs: s.STUN})
	}
	if len(s.TURN) > 0 {
		out.ICEServers = append(out.ICEServers, softphone.ICEServer{URLs: s.TURN,
			Username: s.TURNUsername, Credential: s.TURNPassword})
	}
	if low, high, err := config.ParsePortRange(s.Ports); err == nil {
		out.PortMin, out.PortMax = uint16(low), uint16(high)
	}
	out.Loopback = loopbackHost(cfg.HTTP.Addr)
	return out
}

// loopbackHost reports whether addr (host:port) listens on loopback only.
func loopbackHost(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// deskTalking lists a call bridged to a helper's desk phone among the
// wallboard's live calls, where a supervisor may monitor it, until the
// bridge ends (voice.Options.Talking). Browser legs list themselves.
func (n *Node) deskTalking(c voice.Call, helper int64, leg voice.Leg) (ended func()) {
	return n.listDesk(softphone.DeskCall{Call: c.ID(), From: c.Caller(), Helper: helper}, c, leg)
}

// callbackTalking lists a callback bridged between a helper's desk phone
// and the called number as deskTalking lists a call, under the call id
// "callback-<item>" (voice.CallbackOptions.Talking); the number's leg
// is the caller's. A browser's leg, which lists itself, is told its item.
func (n *Node) callbackTalking(it store.Item, helper int64, leg, callee voice.Leg) (ended func()) {
	if bl, ok := leg.(*softphone.Leg); ok {
		bl.SetCallback(it.ID, it.Queue)
		return func() {}
	}
	return n.listDesk(softphone.DeskCall{Call: fmt.Sprintf("callback-%d", it.ID), From: it.Subject,
		Helper: helper, ItemID: it.ID, Queue: it.Queue, Callback: true}, callee, leg)
}

// listDesk lists dc with the media legs of caller and desk (the native
// edge's or Asterisk mode's external media), unless desk is a browser's
// leg (it lists itself) or either leg has no media leg.
func (n *Node) listDesk(dc softphone.DeskCall, caller, desk any) (ended func()) {
	type withMedia interface{ Media() *media.Leg }
	cm, ok1 := caller.(withMedia)
	hm, ok2 := desk.(withMedia)
	if _, browser := desk.(*softphone.Leg); browser || !ok1 || !ok2 || cm.Media() == nil || hm.Media() == nil {
		return func() {}
	}
	dc.Caller, dc.Desk = cm.Media(), hm.Media()
	return n.phone.AddDeskCall(dc)
}

// helperPhone is the flow's Phone: a helper's desk phone (their stored
// extension: a SIP URI, or an extension registered with Moroz) when it
// can ring, else their browser while a console is open.
func (n *Node) helperPhone() func(ctx context.Context, helperID int64) (string, error) {
	return n.phone.PhoneOf(n.deskPhone)
}
