package media

// Source produces the audio a leg sends, one 20 ms frame at a time. A
// Source is used by one leg's sender only and need not be safe for
// concurrent use.
type Source interface {
	// ReadFrame fills frame (FrameSamples long) and reports whether it did;
	// false means the source is exhausted and frame is not used.
	ReadFrame(frame []int16) bool
}

// Once returns a Source that plays c once; the last frame is padded with
// silence.
func (c *Clip) Once() Source { return &clipSource{clip: c} }

// Loop returns a Source that plays c over and over, for hold music. An
// empty clip is silence forever.
func (c *Clip) Loop() Source { return &clipSource{clip: c, loop: true} }

type clipSource struct {
	clip *Clip
	pos  int
	loop bool
}

func (s *clipSource) ReadFrame(frame []int16) bool {
	samples := s.clip.samples
	if len(samples) == 0 {
		clear(frame)
		return s.loop
	}
	if s.pos >= len(samples) && !s.loop {
		return false
	}
	for i := range frame {
		if s.pos >= len(samples) {
			if !s.loop {
				clear(frame[i:])
				break
			}
			s.pos = 0
		}
		frame[i] = samples[s.pos]
		s.pos++
	}
	return true
}

// Silence returns a Source of silence that never ends, to keep a stream
// alive (and a NAT binding open) while nothing else plays.
func Silence() Source { return silence{} }

type silence struct{}

func (silence) ReadFrame(frame []int16) bool {
	clear(frame)
	return true
}
