package voice

import (
	"context"
	"errors"
	"fmt"

	sipmsg "github.com/emiago/sipgo/sip"

	"github.com/morozhq/moroz/sip"
	"github.com/morozhq/moroz/sip/media"
)

// SIPHandler returns the invite handler that runs the flow for calls of
// the native SIP edge.
func SIPHandler(f *Flow) sip.InviteHandler {
	return func(ctx context.Context, c *sip.Call) {
		f.Handle(ctx, sipCall{c})
	}
}

// sipCall is a sip.Call seen as a Call.
type sipCall struct {
	*sip.Call
}

func (c sipCall) Caller() string  { return uriUser(c.From()) }
func (c sipCall) Dialled() string { return uriUser(c.To()) }
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
	o, err := s.d.Dial(ctx, target, sip.DialOptions{FromUser: num, FromName: num})
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

// sipLeg is an answered outbound SIP leg seen as a Leg.
type sipLeg struct {
	*sip.Outbound
}
