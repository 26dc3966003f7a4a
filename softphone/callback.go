package softphone

import (
	"context"
	"crypto/rand"

	"github.com/morozhq/moroz/voice"
)

// CallbackDialer returns a voice.CallbackDialer that rings the helper's
// browser for targets made by Target and hands every other target, the
// number's leg and the bridge to trunk. A browser leg is a media leg like
// a desk phone's, so trunk bridges it to the callee without decoding;
// trunk is offered the browser's codec (PCMU: a callback has no caller's
// codec to follow).
func (p *Phone) CallbackDialer(trunk voice.CallbackDialer) voice.CallbackDialer {
	return callbackDialer{p, trunk}
}

type callbackDialer struct {
	p     *Phone
	trunk voice.CallbackDialer
}

func (d callbackDialer) RingHelper(ctx context.Context, target, number string) (voice.Leg, error) {
	if _, ok := ParseTarget(target); !ok {
		return d.trunk.RingHelper(ctx, target, number)
	}
	l, err := d.p.Dial(ctx, target, callback{id: "callback-" + rand.Text(), number: number})
	if err != nil {
		return nil, err
	}
	return l, nil
}

func (d callbackDialer) CallNumber(ctx context.Context, number string, helper voice.Leg) (voice.Leg, error) {
	return d.trunk.CallNumber(ctx, number, helper)
}

func (d callbackDialer) Bridge(ctx context.Context, helper, callee voice.Leg) error {
	return d.trunk.Bridge(ctx, helper, callee)
}

// callback is the Caller of a callback's browser leg: the browser shows
// the number it calls.
type callback struct{ id, number string }

func (c callback) ID() string     { return c.id }
func (c callback) Caller() string { return c.number }
