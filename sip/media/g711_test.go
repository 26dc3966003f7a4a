package media

import (
	"math"
	"testing"
)

func TestG711RoundTrip(t *testing.T) {
	for _, c := range []Codec{PCMU, PCMA} {
		t.Run(c.Name, func(t *testing.T) {
			for _, s := range []int16{0, 1, -1, 100, -100, 1000, -1000, 8000, -8000, 32000, -32000, math.MaxInt16, math.MinInt16} {
				enc := c.Encode(nil, []int16{s})
				got := c.Decode(nil, enc)[0]
				// G.711 keeps 4 mantissa bits: the error stays within 1/16 of the value plus the step at zero.
				tol := math.Abs(float64(s))/16 + 16
				if math.Abs(float64(got)-float64(s)) > tol {
					t.Errorf("%s round trip of %d: got %d, want within %.0f", c.Name, s, got, tol)
				}
			}
		})
	}
}

func TestG711KnownCodes(t *testing.T) {
	tests := []struct {
		name  string
		codec Codec
		in    int16
		want  byte
	}{
		{"ulaw zero", PCMU, 0, 0xff},
		{"ulaw max", PCMU, math.MaxInt16, 0x80},
		{"ulaw min", PCMU, math.MinInt16, 0x00},
		{"alaw zero", PCMA, 0, 0xd5},
		{"alaw max", PCMA, math.MaxInt16, 0xaa},
		{"alaw min", PCMA, math.MinInt16, 0x2a},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.codec.Encode(nil, []int16{tt.in})[0]; got != tt.want {
				t.Errorf("encode %d: got %#x, want %#x", tt.in, got, tt.want)
			}
		})
	}
}

func TestTranscodeMatchesDecodeEncode(t *testing.T) {
	for b := range 256 {
		p := []byte{byte(b)}
		transcode(PCMU, PCMA, p)
		want := PCMA.Encode(nil, PCMU.Decode(nil, []byte{byte(b)}))[0]
		if p[0] != want {
			t.Fatalf("ulaw %#x to alaw: got %#x, want %#x", b, p[0], want)
		}
	}
}
