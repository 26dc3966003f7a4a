package media

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestJitterBuffer(t *testing.T) {
	tests := []struct {
		name string
		in   []uint16
		want []int // released frames by their first byte; -1 is a gap
	}{
		{"in order", []uint16{10, 11, 12, 13, 14}, []int{10, 11, 12, 13, 14}},
		{"reordered", []uint16{10, 12, 11, 14, 13}, []int{10, 11, 12, 13, 14}},
		{"missing frame is a gap", []uint16{10, 12, 13, 14, 15}, []int{10, -1, 12, 13, 14, 15}},
		{"late frame dropped", []uint16{10, 11, 12, 13, 14, 10, 15}, []int{10, 11, 12, 13, 14, 15}},
		{"sequence wraps", []uint16{65534, 65535, 0, 1}, []int{254, 255, 0, 1}},
		{"jump restarts", []uint16{10, 11, 500, 501}, []int{500 & 0xff, 501 & 0xff}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jb := newJitterBuffer(2, 50)
			var got []int
			collect := func(next func() ([]byte, bool)) {
				for f, ok := next(); ok; f, ok = next() {
					if f == nil {
						got = append(got, -1)
					} else {
						got = append(got, int(f[0]))
					}
				}
			}
			for _, s := range tt.in {
				jb.push(s, []byte{byte(s)})
				collect(jb.pop)
			}
			collect(jb.flush)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("released (-want +got):\n%s", diff)
			}
		})
	}
}

func TestJitterBufferBounded(t *testing.T) {
	jb := newJitterBuffer(1000, 8)
	for s := range uint16(100) {
		jb.push(s*3, []byte{0})
		if len(jb.frames) > 8 {
			t.Fatalf("after %d pushes the buffer holds %d frames, want at most 8", s+1, len(jb.frames))
		}
	}
}
