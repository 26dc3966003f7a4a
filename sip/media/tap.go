package media

// Tap sees the audio a bridged leg relays to its remote party and may
// rewrite it: a supervisor listening to a call, whispering to the helper
// or barging in. It is installed on one leg ([Leg.SetTap]) and so sees
// one direction of a bridge, the one that leg's party hears; a monitor of
// both directions installs a tap on each leg.
//
// A leg without a tap pays one atomic load per relayed packet and nothing
// else: the payload is never decoded.
type Tap interface {
	// Relay is called with the G.711 payload of each audio packet the
	// leg relays from its bridged peer, in the leg's own codec (after
	// any µ-law↔A-law mapping, so c is what the leg's party hears), just
	// before it is sent. Telephone-events are not shown to it.
	//
	// It returns the payload to send: payload itself, payload rewritten
	// in place, or a buffer of its own of the same length, which must
	// stay untouched until Relay is called again. A result of another
	// length is ignored and payload is sent as it then is. The packet's
	// header (SSRC, sequence number, timestamp, marker) is the bridge's,
	// whatever the tap does, so the stream stays continuous when a tap
	// comes or goes.
	//
	// Relay runs on the bridged peer's receiver goroutine, one packet at
	// a time per leg, while the leg's sender is locked: it must be quick
	// and must not call the leg's methods.
	Relay(payload []byte, c Codec) []byte
}

// tapBox holds a Tap for an atomic pointer.
type tapBox struct{ Tap }

// SetTap installs t on the leg, replacing any tap it had, and returns the
// one it replaced (nil if none); SetTap(nil) removes it. It takes effect
// at the next relayed packet, and works whether or not the leg is bridged
// at the time: a tap stays installed across bridges until removed.
func (l *Leg) SetTap(t Tap) Tap {
	var box *tapBox
	if t != nil {
		box = &tapBox{t}
	}
	if old := l.tap.Swap(box); old != nil {
		return old.Tap
	}
	return nil
}

// tapped passes payload through the leg's tap, if it has one; sendMu is
// held.
func (l *Leg) tapped(payload []byte, c Codec) []byte {
	box := l.tap.Load()
	if box == nil {
		return payload
	}
	if out := box.Relay(payload, c); len(out) == len(payload) {
		return out
	}
	return payload
}
