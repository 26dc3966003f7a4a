package media

import (
	"fmt"
	"time"
)

// Audio framing shared by every leg: G.711 at 8 kHz in 20 ms packets.
const (
	// SampleRate is the sampling rate of all audio a leg carries, in Hz.
	SampleRate = 8000
	// FrameDuration is the audio carried by one RTP packet.
	FrameDuration = 20 * time.Millisecond
	// FrameSamples is the number of samples (and G.711 bytes) in a frame.
	FrameSamples = SampleRate / 50
)

// Codec is a G.711 variant negotiated for a leg. Its zero value is invalid.
type Codec struct {
	// Name is the SDP encoding name: "PCMU" or "PCMA".
	Name string
	// PayloadType is the static RTP payload type (RFC 3551 §6).
	PayloadType uint8
	law         byte // 'u' or 'a'
}

// The two codecs a leg speaks.
var (
	PCMU = Codec{Name: "PCMU", PayloadType: 0, law: 'u'}
	PCMA = Codec{Name: "PCMA", PayloadType: 8, law: 'a'}
)

// CodecByName returns PCMU or PCMA for an SDP encoding name (case-insensitive).
func CodecByName(name string) (Codec, error) {
	switch name {
	case "PCMU", "pcmu":
		return PCMU, nil
	case "PCMA", "pcma":
		return PCMA, nil
	}
	return Codec{}, fmt.Errorf("codec %q: not supported", name)
}

// Valid reports whether c is PCMU or PCMA.
func (c Codec) Valid() bool { return c.law == 'u' || c.law == 'a' }

// Encode appends the G.711 coding of samples to dst and returns it.
func (c Codec) Encode(dst []byte, samples []int16) []byte {
	initG711()
	table := ulawEncode
	if c.law == 'a' {
		table = alawEncode
	}
	for _, s := range samples {
		dst = append(dst, table[uint16(s)])
	}
	return dst
}

// Decode appends the linear samples of the G.711 payload to dst and returns it.
func (c Codec) Decode(dst []int16, payload []byte) []int16 {
	initG711()
	table := &ulawDecode
	if c.law == 'a' {
		table = &alawDecode
	}
	for _, b := range payload {
		dst = append(dst, table[b])
	}
	return dst
}

// Silence returns the G.711 byte that codes a zero sample.
func (c Codec) Silence() byte {
	initG711()
	if c.law == 'a' {
		return alawEncode[0]
	}
	return ulawEncode[0]
}

// transcode rewrites a payload from one G.711 law to the other in place,
// through a 256-entry table: no linear decoding is needed.
func transcode(from, to Codec, payload []byte) {
	if from.law == to.law {
		return
	}
	initG711()
	table := &ulawToAlaw
	if from.law == 'a' {
		table = &alawToUlaw
	}
	for i, b := range payload {
		payload[i] = table[b]
	}
}
