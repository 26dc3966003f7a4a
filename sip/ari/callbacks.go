package ari

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/morozhq/moroz/voice"
)

// Callbacks returns the voice.CallbackDialer of Asterisk mode: both legs
// of a callback are originated into the app, the helper's to their
// phone's endpoint (as Dialer does), the number's through trunk, the
// PJSIP endpoint of the provider (the dial string PJSIP/number@trunk),
// showing callerID ("" leaves Asterisk's default). Moroz's media layer
// bridges the two, as it bridges a caller to a helper.
func (a *App) Callbacks(trunk, callerID string) (voice.CallbackDialer, error) {
	if trunk == "" || strings.ContainsAny(trunk, "/@&,") {
		return nil, fmt.Errorf("ari callbacks: trunk %q is not a PJSIP endpoint name", trunk)
	}
	return callbacks{a: a, trunk: trunk, callerID: callerID}, nil
}

type callbacks struct {
	a               *App
	trunk, callerID string
}

// errBadNumber is a callback number that cannot go in a dial string.
var errBadNumber = errors.New("number is not digits with an optional leading +")

func (c callbacks) RingHelper(ctx context.Context, target, number string) (voice.Leg, error) {
	return c.a.ring(ctx, Endpoint(target), number, "")
}

// CallNumber originates to PJSIP/number@trunk; only digits (and a
// leading +) may go in the dial string. Both legs' media is µ-law
// external media, whatever the phones speak (Asterisk transcodes), so
// the helper's leg changes nothing here.
func (c callbacks) CallNumber(ctx context.Context, number string, _ voice.Leg) (voice.Leg, error) {
	if !dialable(number) {
		return nil, fmt.Errorf("call %q back: %w", number, errBadNumber)
	}
	return c.a.ring(ctx, "PJSIP/"+number+"@"+c.trunk, c.callerID, "")
}

func (c callbacks) Bridge(ctx context.Context, helper, callee voice.Leg) error {
	h, ok1 := helper.(mediaLeg)
	n, ok2 := callee.(mediaLeg)
	if !ok1 || !ok2 || h.Media() == nil || n.Media() == nil {
		return fmt.Errorf("bridge callback: legs %T and %T have no media", helper, callee)
	}
	return h.Media().Bridge(ctx, n.Media())
}

func dialable(number string) bool {
	digits := strings.TrimPrefix(number, "+")
	if digits == "" {
		return false
	}
	for _, r := range digits {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
