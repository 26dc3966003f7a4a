package media

import (
	"encoding/binary"
	"errors"
	"time"
)

// DTMF is one key press received as an RFC 4733 telephone-event.
type DTMF struct {
	// Digit is '0'-'9', '*', '#' or 'A'-'D'.
	Digit rune
	// Duration is how long the key was held, from the end packet.
	Duration time.Duration
}

// telephoneEvent is the 4-byte RFC 4733 §2.3 payload.
type telephoneEvent struct {
	event    uint8
	end      bool
	volume   uint8
	duration uint16 // in timestamp units
}

var errShortEvent = errors.New("telephone-event payload shorter than 4 bytes")

func parseTelephoneEvent(p []byte) (telephoneEvent, error) {
	if len(p) < 4 {
		return telephoneEvent{}, errShortEvent
	}
	return telephoneEvent{
		event:    p[0],
		end:      p[1]&0x80 != 0,
		volume:   p[1] & 0x3f,
		duration: binary.BigEndian.Uint16(p[2:4]),
	}, nil
}

// eventDigit maps RFC 4733 §3.2 event codes 0-15 to keys.
func eventDigit(e uint8) (rune, bool) {
	const keys = "0123456789*#ABCD"
	if int(e) < len(keys) {
		return rune(keys[e]), true
	}
	return 0, false
}

// dtmfDetector turns telephone-event packets into key presses. An event is
// reported once, on its first end packet: RFC 4733 §2.5.1.4 has senders
// repeat the end packet (usually three times) with the same RTP timestamp,
// and the timestamp identifies the event, so repeats are dropped.
type dtmfDetector struct {
	lastTS   uint32
	reported bool
}

func (d *dtmfDetector) packet(timestamp uint32, payload []byte) (DTMF, bool) {
	ev, err := parseTelephoneEvent(payload)
	if err != nil || !ev.end {
		return DTMF{}, false
	}
	if d.reported && d.lastTS == timestamp {
		return DTMF{}, false
	}
	digit, ok := eventDigit(ev.event)
	if !ok {
		return DTMF{}, false
	}
	d.lastTS, d.reported = timestamp, true
	dur := time.Duration(ev.duration) * time.Second / SampleRate
	return DTMF{Digit: digit, Duration: dur}, true
}

// appendTelephoneEvent appends an RFC 4733 payload, for tests and for
// sending events towards a peer.
func appendTelephoneEvent(dst []byte, e telephoneEvent) []byte {
	b1 := e.volume & 0x3f
	if e.end {
		b1 |= 0x80
	}
	return binary.BigEndian.AppendUint16(append(dst, e.event, b1), e.duration)
}
