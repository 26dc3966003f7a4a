package voice

import (
	"context"
	"errors"
	"fmt"
	"strings"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/morozhq/moroz/sip"
	"github.com/morozhq/moroz/sip/media"
)

// SIPHandler returns the invite handler that runs the flow for calls of
// the native SIP edge.
func SIPHandler(f *Flow) sip.InviteHandler {
	return func(ctx context.Context, c *sip.Call) {
		f.Handle(ctx, sipCall{Call: c, caller: uriUser(c.From()), dialled: uriUser(c.To())})
	}
}

// sipCall is a sip.Call seen as a Call; the caller's and the dialled
// numbers are parsed out of their URIs once.
type sipCall struct {
	*sip.Call
	caller, dialled string
}

func (c sipCall) Caller() string  { return c.caller }
func (c sipCall) Dialled() string { return c.dialled }
func (c sipCall) Hangup() error   { return c.Call.Hangup(sip.CauseNormal) }

// mediaLeg is a helper leg with RTP media: a desk phone's (SIPDialer)
// or a browser's (package softphone).
type mediaLeg interface {
	Media() *media.Leg
}

// Bridge relays RTP between the caller and a helper leg with media,
// without decoding.
func (c sipCall) Bridge(ctx context.Context, helper Leg) error {
	out, ok := helper.(mediaLeg)
	if !ok || out.Media() == nil {
		return fmt.Errorf("bridge %s: helper leg %T has no media", c.ID(), helper)
	}
	return c.Media().Bridge(ctx, out.Media())
}

// uriUser returns the user part of a SIP URI, or the URI when it has none.
func uriUser(s string) string {
	var u sipmsg.Uri
	if err := sipmsg.ParseUri(s, &u); err != nil || u.User == "" {
		return s
	}
	return u.User
}

// SIPDialer rings helpers' phones with outbound INVITEs from d.
func SIPDialer(d *sip.Dialer) Dialer { return sipDialer{d} }

type sipDialer struct {
	d *sip.Dialer
}

// Dial rings target showing the caller's number, and maps SIP failures to
// ErrBusy, ErrDeclined and ErrNoAnswer.
func (s sipDialer) Dial(ctx context.Context, target string, caller Call) (Leg, error) {
	num := normalizeNumber(caller.Caller())
	return legOrErr(s.d.Dial(ctx, target, sip.DialOptions{FromUser: num, FromName: num}))
}

// sipLeg is an answered outbound SIP leg seen as a Leg.
type sipLeg struct {
	*sip.Outbound
}

// TrunkConfig is the SIP trunk that callbacks go out through.
type TrunkConfig struct {
	// Target is the trunk: a sip: URI or host:port; the number called
	// becomes the URI's user part.
	Target string
	// Username and Password answer the trunk's digest challenge; empty
	// when it needs none.
	Username, Password string
	// CallerID is the From user the called number sees; default "moroz".
	CallerID string
}

// SIPCallbacks returns the CallbackDialer of the native SIP edge: both
// legs go out from d, the number's through trunk.
func SIPCallbacks(d *sip.Dialer, trunk TrunkConfig) (CallbackDialer, error) {
	base, err := trunkURI(trunk.Target)
	if err != nil {
		return nil, err
	}
	return sipCallbacks{d: d, trunk: trunk, base: base}, nil
}

// trunkURI parses a trunk's sip: URI or host:port.
func trunkURI(target string) (sipmsg.Uri, error) {
	var u sipmsg.Uri
	s := target
	if !strings.HasPrefix(s, "sip:") {
		s = "sip:" + s
	}
	if err := sipmsg.ParseUri(s, &u); err != nil || u.Host == "" {
		return u, fmt.Errorf("sip trunk %q: want a sip: URI or host:port", target)
	}
	return u, nil
}

type sipCallbacks struct {
	d     *sip.Dialer
	trunk TrunkConfig
	base  sipmsg.Uri
}

func (s sipCallbacks) RingHelper(ctx context.Context, target, number string) (Leg, error) {
	return SIPRing(ctx, s.d, target, number)
}

// SIPRing rings the phone target through d showing number, with
// Dialer.Dial's errors: a helper's phone for a callback.
func SIPRing(ctx context.Context, d *sip.Dialer, target, number string) (Leg, error) {
	o, err := d.Dial(ctx, target, sip.DialOptions{FromUser: number, FromName: number})
	return legOrErr(o, err)
}

// CallNumber offers the trunk the codec of helper's media only.
func (s sipCallbacks) CallNumber(ctx context.Context, number string, helper Leg) (Leg, error) {
	u := *s.base.Clone()
	u.User = number
	opt := sip.DialOptions{FromUser: s.trunk.CallerID, Username: s.trunk.Username, Password: s.trunk.Password}
	if m, ok := helper.(mediaLeg); ok && m.Media() != nil {
		opt.Codec = m.Media().Codec()
	}
	o, err := s.d.Dial(ctx, u.String(), opt)
	return legOrErr(o, err)
}

func (s sipCallbacks) Bridge(ctx context.Context, helper, callee Leg) error {
	h, ok1 := helper.(mediaLeg)
	c, ok2 := callee.(mediaLeg)
	if !ok1 || !ok2 {
		return fmt.Errorf("bridge callback: legs %T and %T have no media", helper, callee)
	}
	return h.Media().Bridge(ctx, c.Media())
}

// legOrErr maps a dial's result as sipDialer.Dial does.
func legOrErr(o *sip.Outbound, err error) (Leg, error) {
	switch {
	case err == nil:
		return sipLeg{o}, nil
	case errors.Is(err, sip.ErrDialBusy):
		return nil, fmt.Errorf("%w: %w", ErrBusy, err)
	case errors.Is(err, sip.ErrDialDeclined):
		return nil, fmt.Errorf("%w: %w", ErrDeclined, err)
	case errors.Is(err, sip.ErrDialNoAnswer):
		return nil, fmt.Errorf("%w: %w", ErrNoAnswer, err)
	}
	return nil, err
}
