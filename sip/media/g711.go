package media

import "sync"

// G.711 (ITU-T G.711) µ-law and A-law coding. Decoding uses 256-entry
// tables; encoding uses 64 Ki-entry tables indexed by the 16-bit sample,
// built once on first use and read-only after.

const (
	ulawBias = 0x84
	ulawClip = 32635
)

var (
	g711Once   sync.Once
	ulawDecode [256]int16
	alawDecode [256]int16
	ulawEncode []byte // indexed by uint16(sample)
	alawEncode []byte
	ulawToAlaw [256]byte
	alawToUlaw [256]byte
)

func initG711() {
	g711Once.Do(func() {
		for i := range 256 {
			ulawDecode[i] = decodeULawSample(byte(i))
			alawDecode[i] = decodeALawSample(byte(i))
		}
		ulawEncode = make([]byte, 1<<16)
		alawEncode = make([]byte, 1<<16)
		for i := range 1 << 16 {
			s := int16(uint16(i))
			ulawEncode[i] = encodeULawSample(s)
			alawEncode[i] = encodeALawSample(s)
		}
		for i := range 256 {
			ulawToAlaw[i] = alawEncode[uint16(ulawDecode[i])]
			alawToUlaw[i] = ulawEncode[uint16(alawDecode[i])]
		}
	})
}

// encodeULawSample codes one linear sample as µ-law (G.711 §3).
func encodeULawSample(s int16) byte {
	v := int(s)
	sign := 0
	if v < 0 {
		v = -v
		sign = 0x80
	}
	if v > ulawClip {
		v = ulawClip
	}
	v += ulawBias
	exp := 7
	for mask := 0x4000; v&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := (v >> (exp + 3)) & 0x0f
	return ^byte(sign | exp<<4 | mant)
}

// decodeULawSample expands one µ-law byte to a linear sample.
func decodeULawSample(b byte) int16 {
	b = ^b
	exp := int(b>>4) & 0x07
	mant := int(b & 0x0f)
	v := ((mant << 3) + ulawBias) << exp
	v -= ulawBias
	if b&0x80 != 0 {
		return int16(-v)
	}
	return int16(v)
}

// encodeALawSample codes one linear sample as A-law (G.711 §2).
func encodeALawSample(s int16) byte {
	v := int(s) >> 3 // A-law works on 13-bit magnitudes
	sign := byte(0x80)
	if v < 0 {
		v = -v - 1
		sign = 0
	}
	var out byte
	switch {
	case v < 32:
		out = byte(v >> 1)
	default:
		exp := 1
		for t := v >> 5; t > 1 && exp < 7; t >>= 1 {
			exp++
		}
		if v > 0xfff {
			v, exp = 0xfff, 7
		}
		out = byte(exp<<4) | byte((v>>exp)&0x0f)
	}
	return (out | sign) ^ 0x55
}

// decodeALawSample expands one A-law byte to a linear sample.
func decodeALawSample(b byte) int16 {
	b ^= 0x55
	exp := int(b>>4) & 0x07
	mant := int(b & 0x0f)
	var v int
	if exp == 0 {
		v = mant<<4 + 8
	} else {
		v = (mant<<4 + 0x108) << (exp - 1)
	}
	if b&0x80 == 0 {
		return int16(-v)
	}
	return int16(v)
}
