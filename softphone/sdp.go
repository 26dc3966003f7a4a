package softphone

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"

	"github.com/morozhq/moroz/sip/media"
)

// offered is what a browser's offer allows for the audio.
type offered struct {
	codecs []media.Codec // G.711 variants, in the offer's order
	dtmfPT uint8         // telephone-event/8000; 0 when absent
}

// parseOffer reads the first audio section of an SDP offer (RFC 3264 §5).
func parseOffer(raw string) (offered, error) {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(raw); err != nil {
		return offered{}, fmt.Errorf("parse offer: %w", err)
	}
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media == "audio" {
			return parseAudio(m), nil
		}
	}
	return offered{}, fmt.Errorf("parse offer: no audio section")
}

func parseAudio(m *sdp.MediaDescription) offered {
	var o offered
	names := map[string]string{} // payload type to encoding/rate
	for _, a := range m.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		pt, enc, ok := strings.Cut(a.Value, " ")
		if ok {
			names[pt] = strings.TrimSuffix(strings.ToLower(enc), "/1") // one channel, said or not
		}
	}
	for _, f := range m.MediaName.Formats {
		switch enc := names[f]; {
		case enc == "pcmu/8000" || (enc == "" && f == "0"):
			o.codecs = append(o.codecs, media.PCMU)
		case enc == "pcma/8000" || (enc == "" && f == "8"):
			o.codecs = append(o.codecs, media.PCMA)
		case enc == "telephone-event/8000" && o.dtmfPT == 0:
			if pt, err := strconv.ParseUint(f, 10, 7); err == nil {
				o.dtmfPT = uint8(pt)
			}
		}
	}
	return o
}

// choose picks the codec to use: want when offered (the caller's codec,
// so that audio passes unchanged), else the first G.711 one offered.
func (o offered) choose(want media.Codec) (media.Codec, error) {
	for _, c := range o.codecs {
		if c == want {
			return c, nil
		}
	}
	if len(o.codecs) == 0 {
		return media.Codec{}, fmt.Errorf("offer has neither PCMU nor PCMA")
	}
	return o.codecs[0], nil
}
