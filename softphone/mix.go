package softphone

import (
	"sync"

	"github.com/pion/rtp"

	"github.com/morozhq/moroz/sip/media"
)

// mixDepth is how many samples of one voice may wait for the mixer
// before the oldest are dropped: six 20 ms frames, enough to ride out the
// jitter between two streams of the same clock rate, short enough to add
// little delay.
const mixDepth = 6 * media.FrameSamples

// maxPayload bounds the G.711 payloads a monitor mixes: 80 ms.
const maxPayload = 4 * media.FrameSamples

// sampleQueue is one voice on its way to a mix: decoded samples, oldest
// first, whatever the packets' length (a phone may send 30 ms while the
// mixer takes 20). It is safe for concurrent use.
type sampleQueue struct {
	mu  sync.Mutex
	buf []int16 // guarded by mu
}

// push queues a copy of s, dropping the oldest samples beyond mixDepth.
func (q *sampleQueue) push(s []int16) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.buf = append(q.buf, s...)
	if over := len(q.buf) - mixDepth; over > 0 {
		q.buf = append(q.buf[:0], q.buf[over:]...)
	}
}

// pop fills dst with the oldest samples and reports whether there were
// enough; when there were not, it takes none.
func (q *sampleQueue) pop(dst []int16) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.buf) < len(dst) {
		return false
	}
	copy(dst, q.buf)
	q.buf = append(q.buf[:0], q.buf[len(dst):]...)
	return true
}

// reset drops every queued sample.
func (q *sampleQueue) reset() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.buf = q.buf[:0]
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
	if end <= n || end-n > maxPayload {
		return 0, 0, false
	}
	return n, end, true
}
