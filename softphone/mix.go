package softphone

import (
	"sync"

	"github.com/pion/rtp"

	"github.com/morozhq/moroz/sip/media"
)

// mixDepth is how many 20 ms frames of one voice wait for the mixer
// before the oldest is dropped: enough to ride out the jitter between
// two streams of the same clock rate, short enough to add little delay.
const mixDepth = 6

// frameQueue is one voice on its way to a mix: decoded 20 ms frames,
// oldest first. It is safe for concurrent use.
type frameQueue struct {
	mu   sync.Mutex
	q    [][]int16 // guarded by mu
	free [][]int16 // guarded by mu: spent frames, reused
}

// push queues a copy of s, dropping the oldest frame when full.
func (f *frameQueue) push(s []int16) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.q) == mixDepth {
		f.free = append(f.free, f.q[0])
		f.q = append(f.q[:0], f.q[1:]...)
	}
	var b []int16
	if n := len(f.free); n > 0 {
		b, f.free = f.free[n-1][:0], f.free[:n-1]
	}
	f.q = append(f.q, append(b, s...))
}

// pop copies the oldest frame into dst (zero-filling what it leaves
// short) and reports whether there was one.
func (f *frameQueue) pop(dst []int16) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.q) == 0 {
		return false
	}
	b := f.q[0]
	f.q = append(f.q[:0], f.q[1:]...)
	clear(dst[copy(dst, b):])
	f.free = append(f.free, b)
	return true
}

// reset drops every queued frame.
func (f *frameQueue) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.free = append(f.free, f.q...)
	f.q = f.q[:0]
}

// mixInto adds add to dst sample by sample, clipping at the int16 range.
func mixInto(dst, add []int16) {
	for i := range min(len(dst), len(add)) {
		s := int32(dst[i]) + int32(add[i])
		dst[i] = int16(max(min(s, 32767), -32768))
	}
}

// audioPayload finds the payload of an RTP packet of codec in b: its
// offset and end (before any padding, RFC 3550 §5.1). ok is false for
// anything else (telephone-events, malformed packets).
func audioPayload(b []byte, codec media.Codec) (off, end int, ok bool) {
	var h rtp.Header
	n, err := h.Unmarshal(b)
	if err != nil || h.PayloadType != codec.PayloadType {
		return 0, 0, false
	}
	end = len(b)
	if h.Padding && end > n {
		end -= int(b[end-1])
	}
	if end <= n || end-n > media.FrameSamples*4 {
		return 0, 0, false
	}
	return n, end, true
}
