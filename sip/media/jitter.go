package media

// jitterBuffer reorders received audio frames by sequence number before
// they are recorded. It holds at most capacity frames; a frame is released
// once depth later frames have arrived (or on flush). A missing frame is
// released as a gap so the recording keeps its timing; a frame arriving
// after its slot was released is dropped.
type jitterBuffer struct {
	depth, capacity int
	frames          map[uint16][]byte
	next            uint16 // sequence number of the next frame to release
	started         bool
	late            int // frames dropped because their slot had passed
}

func newJitterBuffer(depth, capacity int) *jitterBuffer {
	return &jitterBuffer{depth: depth, capacity: capacity, frames: make(map[uint16][]byte, capacity)}
}

// push stores a copy of payload under seq.
func (j *jitterBuffer) push(seq uint16, payload []byte) {
	if !j.started {
		j.next, j.started = seq, true
	}
	if int16(seq-j.next) < 0 {
		j.late++
		return
	}
	if int(uint16(seq-j.next)) >= j.capacity {
		// Far ahead: the stream jumped. Release what we hold and restart there.
		j.next = seq
		clear(j.frames)
	}
	j.frames[seq] = append([]byte(nil), payload...)
}

// pop releases the next frame when enough frames are buffered after it.
// A nil frame with ok true is a gap.
func (j *jitterBuffer) pop() (frame []byte, ok bool) {
	if len(j.frames) <= j.depth {
		return nil, false
	}
	return j.release(), true
}

// flush releases the next frame regardless of depth; ok is false when empty.
func (j *jitterBuffer) flush() (frame []byte, ok bool) {
	if len(j.frames) == 0 {
		return nil, false
	}
	return j.release(), true
}

func (j *jitterBuffer) release() []byte {
	f := j.frames[j.next]
	delete(j.frames, j.next)
	j.next++
	return f
}
