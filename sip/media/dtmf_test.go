package media

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDTMFDetectorDedupesEndPackets(t *testing.T) {
	type pkt struct {
		ts    uint32
		event uint8
		end   bool
		dur   uint16
	}
	tests := []struct {
		name string
		pkts []pkt
		want []DTMF
	}{
		{
			name: "one press with three end packets",
			pkts: []pkt{{1000, 5, false, 160}, {1000, 5, false, 320}, {1000, 5, true, 800}, {1000, 5, true, 800}, {1000, 5, true, 800}},
			want: []DTMF{{Digit: '5', Duration: 100 * time.Millisecond}},
		},
		{
			name: "same digit twice",
			pkts: []pkt{{1000, 1, true, 400}, {1000, 1, true, 400}, {5000, 1, true, 400}},
			want: []DTMF{{'1', 50 * time.Millisecond}, {'1', 50 * time.Millisecond}},
		},
		{
			name: "star pound and letters",
			pkts: []pkt{{1, 10, true, 8}, {2, 11, true, 8}, {3, 12, true, 8}, {4, 15, true, 8}},
			want: []DTMF{{'*', time.Millisecond}, {'#', time.Millisecond}, {'A', time.Millisecond}, {'D', time.Millisecond}},
		},
		{
			name: "no end bit reports nothing",
			pkts: []pkt{{1, 3, false, 160}, {1, 3, false, 320}},
		},
		{
			name: "flash event ignored",
			pkts: []pkt{{1, 16, true, 160}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d dtmfDetector
			var got []DTMF
			for _, p := range tt.pkts {
				payload := appendTelephoneEvent(nil, telephoneEvent{event: p.event, end: p.end, volume: 10, duration: p.dur})
				if e, ok := d.packet(p.ts, payload); ok {
					got = append(got, e)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDTMFDetectorShortPayload(t *testing.T) {
	var d dtmfDetector
	if _, ok := d.packet(1, []byte{1, 0x80}); ok {
		t.Error("a 2-byte payload was reported as a key press")
	}
}
