package softphone

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/morozhq/moroz/sip/media"
)

func TestParseOffer(t *testing.T) {
	head := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
	tests := []struct {
		name   string
		sdp    string
		codecs []string
		dtmf   uint8
		err    bool
	}{
		{name: "chromium", sdp: head + "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n" +
			"a=rtpmap:111 opus/48000/2\r\na=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\n" +
			"a=rtpmap:8 PCMA/8000\r\na=rtpmap:110 telephone-event/48000\r\na=rtpmap:126 telephone-event/8000\r\n",
			codecs: []string{"PCMU", "PCMA"}, dtmf: 126},
		{name: "channels said, A-law first", sdp: head + "m=audio 9 UDP/TLS/RTP/SAVPF 8 0 101\r\n" +
			"a=rtpmap:8 PCMA/8000/1\r\na=rtpmap:0 PCMU/8000/1\r\na=rtpmap:101 telephone-event/8000\r\n",
			codecs: []string{"PCMA", "PCMU"}, dtmf: 101},
		{name: "static types without rtpmap", sdp: head + "m=audio 9 RTP/AVP 0\r\n", codecs: []string{"PCMU"}},
		{name: "opus only", sdp: head + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n"},
		{name: "no audio", sdp: head + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n", err: true},
		{name: "not sdp", sdp: "hello", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseOffer(tt.sdp)
			if (err != nil) != tt.err {
				t.Fatalf("parseOffer: got error %v, want error %v", err, tt.err)
			}
			var names []string
			for _, c := range got.codecs {
				names = append(names, c.Name)
			}
			if diff := cmp.Diff(names, tt.codecs); diff != "" {
				t.Errorf("codecs (-got +want):\n%s", diff)
			}
			if got.dtmfPT != tt.dtmf {
				t.Errorf("telephone-event: got %d, want %d", got.dtmfPT, tt.dtmf)
			}
		})
	}
}

func TestChooseCodec(t *testing.T) {
	both := offered{codecs: []media.Codec{media.PCMA, media.PCMU}}
	tests := []struct {
		name string
		o    offered
		want media.Codec
		got  media.Codec
		err  bool
	}{
		{name: "the caller's codec when offered", o: both, want: media.PCMU, got: media.PCMU},
		{name: "else the first offered", o: offered{codecs: []media.Codec{media.PCMA}}, want: media.PCMU, got: media.PCMA},
		{name: "none", o: offered{}, want: media.PCMU, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.o.choose(tt.want)
			if (err != nil) != tt.err || got != tt.got {
				t.Errorf("choose(%s): got %v, %v; want %v, error %v", tt.want.Name, got.Name, err, tt.got.Name, tt.err)
			}
		})
	}
}

// FuzzParseOffer checks that no offer, however broken, panics the parser,
// and that what it returns is usable.
func FuzzParseOffer(f *testing.F) {
	head := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
	for _, seed := range []string{
		head + "m=audio 9 UDP/TLS/RTP/SAVPF 0 8 126\r\na=rtpmap:126 telephone-event/8000\r\n",
		head + "m=audio 9 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000/1\r\n",
		head + "m=audio 9 RTP/AVP 300 -1 x\r\na=rtpmap:300 telephone-event/8000\r\na=rtpmap:\r\n",
		head, "", "v=0\r\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		o, err := parseOffer(raw)
		if err != nil {
			return
		}
		for _, c := range o.codecs {
			if !c.Valid() {
				t.Errorf("parseOffer(%q) returned an invalid codec", raw)
			}
		}
		if o.dtmfPT > 127 {
			t.Errorf("parseOffer(%q): telephone-event type %d is not an RTP payload type", raw, o.dtmfPT)
		}
	})
}
