package sip

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/morozhq/moroz/sip/media"
	"github.com/pion/sdp/v3"
)

// Media directions of RFC 3264 §5.1.
const (
	dirSendRecv = "sendrecv"
	dirSendOnly = "sendonly"
	dirRecvOnly = "recvonly"
	dirInactive = "inactive"
)

// errNoCodec is wrapped when an offer has no codec Moroz speaks (488).
var errNoCodec = errors.New("no common codec")

// offer is what Moroz takes from a caller's SDP offer.
type offer struct {
	remote    netip.AddrPort // where to send RTP; zero when the offer holds (c=0.0.0.0)
	codec     media.Codec    // first of PCMU and PCMA in the offer's order
	dtmfPT    uint8          // telephone-event payload type, 0 if not offered
	direction string         // the offer's direction attribute
}

// parseOffer reads the first audio stream of an SDP offer (RFC 3264 §5).
func parseOffer(body []byte) (offer, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return offer{}, fmt.Errorf("parse sdp: %w", err)
	}
	md := firstAudio(&sd)
	if md == nil {
		return offer{}, fmt.Errorf("parse sdp: %w: no audio stream", errNoCodec)
	}
	o := offer{direction: direction(&sd, md)}
	codec, dtmf, err := pickFormats(md)
	if err != nil {
		return offer{}, fmt.Errorf("parse sdp: %w", err)
	}
	o.codec, o.dtmfPT = codec, dtmf
	addr, err := connectionAddr(&sd, md)
	if err != nil {
		return offer{}, fmt.Errorf("parse sdp: %w", err)
	}
	if !addr.IsUnspecified() {
		o.remote = netip.AddrPortFrom(addr, uint16(md.MediaName.Port.Value))
	}
	return o, nil
}

func firstAudio(sd *sdp.SessionDescription) *sdp.MediaDescription {
	for _, md := range sd.MediaDescriptions {
		if md.MediaName.Media == "audio" && md.MediaName.Port.Value != 0 {
			return md
		}
	}
	return nil
}

// pickFormats keeps the caller's preference order (RFC 3264 §6.1).
func pickFormats(md *sdp.MediaDescription) (media.Codec, uint8, error) {
	names := rtpmaps(md)
	var codec media.Codec
	var dtmf uint8
	for _, f := range md.MediaName.Formats {
		pt, err := strconv.Atoi(f)
		if err != nil || pt < 0 || pt > 127 {
			continue
		}
		name, ok := names[pt]
		if !ok {
			name = staticName(pt)
		}
		switch {
		case strings.EqualFold(name, "telephone-event/8000"):
			if dtmf == 0 {
				dtmf = uint8(pt)
			}
		case !codec.Valid():
			if c, err := media.CodecByName(strings.ToUpper(strings.TrimSuffix(name, "/8000"))); err == nil && strings.HasSuffix(name, "/8000") {
				c.PayloadType = uint8(pt)
				codec = c
			}
		}
	}
	if !codec.Valid() {
		return media.Codec{}, 0, fmt.Errorf("%w: want PCMU or PCMA, offered %s", errNoCodec, strings.Join(md.MediaName.Formats, " "))
	}
	return codec, dtmf, nil
}

// rtpmaps maps payload types to "encoding/clock" from a=rtpmap lines.
func rtpmaps(md *sdp.MediaDescription) map[int]string {
	m := map[int]string{}
	for _, a := range md.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		pt, rest, ok := strings.Cut(a.Value, " ")
		n, err := strconv.Atoi(pt)
		if !ok || err != nil {
			continue
		}
		enc := strings.TrimSpace(rest)
		if parts := strings.Split(enc, "/"); len(parts) > 2 {
			enc = parts[0] + "/" + parts[1] // drop the channel count
		}
		m[n] = enc
	}
	return m
}

func staticName(pt int) string {
	switch pt {
	case 0:
		return "PCMU/8000"
	case 8:
		return "PCMA/8000"
	}
	return ""
}

func direction(sd *sdp.SessionDescription, md *sdp.MediaDescription) string {
	for _, d := range []string{dirSendRecv, dirSendOnly, dirRecvOnly, dirInactive} {
		if _, ok := md.Attribute(d); ok {
			return d
		}
	}
	for _, d := range []string{dirSendOnly, dirRecvOnly, dirInactive} {
		if _, ok := sd.Attribute(d); ok {
			return d
		}
	}
	return dirSendRecv
}

func connectionAddr(sd *sdp.SessionDescription, md *sdp.MediaDescription) (netip.Addr, error) {
	ci := md.ConnectionInformation
	if ci == nil {
		ci = sd.ConnectionInformation
	}
	if ci == nil || ci.Address == nil {
		return netip.Addr{}, errors.New("no connection address")
	}
	addr, err := netip.ParseAddr(ci.Address.Address)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("connection address %q: want an IP address", ci.Address.Address)
	}
	return addr.Unmap(), nil
}

// answerDirection is RFC 3264 §6.1's mirror of the offer's direction.
func answerDirection(offered string) string {
	switch offered {
	case dirSendOnly:
		return dirRecvOnly
	case dirRecvOnly:
		return dirSendOnly
	case dirInactive:
		return dirInactive
	}
	return dirSendRecv
}

// weSend reports whether Moroz may send media under the answer's direction.
func weSend(answer string) bool { return answer == dirSendRecv || answer == dirSendOnly }

// answerParams is what goes into Moroz's SDP.
type answerParams struct {
	local     netip.AddrPort
	sessionID uint64
	version   uint64
	codec     media.Codec
	extra     []media.Codec // further codecs, for an offer
	dtmfPT    uint8
	direction string
}

// lateOfferDTMF is the telephone-event payload type Moroz offers itself.
const lateOfferDTMF = 101

// offerParams are Moroz's own offer, for an INVITE that came without one
// (RFC 3261 §13.2.1: the offer goes in the 2xx, the answer in the ACK).
func offerParams(local netip.AddrPort, sessionID uint64) answerParams {
	return answerParams{local: local, sessionID: sessionID, version: 1, codec: media.PCMU,
		extra: []media.Codec{media.PCMA}, dtmfPT: lateOfferDTMF, direction: dirSendRecv}
}

// buildAnswer writes an SDP answer with the chosen codec (and, in an
// offer, the extra ones) and, if offered, telephone-event (RFC 4733
// §7.1.1, events 0-16).
func buildAnswer(p answerParams) ([]byte, error) {
	addrType := "IP4"
	if p.local.Addr().Is6() {
		addrType = "IP6"
	}
	ip := p.local.Addr().String()
	var formats []string
	var attrs []sdp.Attribute
	for _, c := range append([]media.Codec{p.codec}, p.extra...) {
		formats = append(formats, strconv.Itoa(int(c.PayloadType)))
		attrs = append(attrs, sdp.Attribute{Key: "rtpmap", Value: fmt.Sprintf("%d %s/8000", c.PayloadType, c.Name)})
	}
	if p.dtmfPT != 0 {
		formats = append(formats, strconv.Itoa(int(p.dtmfPT)))
		attrs = append(attrs,
			sdp.Attribute{Key: "rtpmap", Value: fmt.Sprintf("%d telephone-event/8000", p.dtmfPT)},
			sdp.Attribute{Key: "fmtp", Value: fmt.Sprintf("%d 0-16", p.dtmfPT)})
	}
	attrs = append(attrs, sdp.Attribute{Key: "ptime", Value: "20"}, sdp.Attribute{Key: p.direction})

	sd := sdp.SessionDescription{
		Origin: sdp.Origin{Username: "moroz", SessionID: p.sessionID, SessionVersion: p.version,
			NetworkType: "IN", AddressType: addrType, UnicastAddress: ip},
		SessionName:           "moroz",
		ConnectionInformation: &sdp.ConnectionInformation{NetworkType: "IN", AddressType: addrType, Address: &sdp.Address{Address: ip}},
		TimeDescriptions:      []sdp.TimeDescription{{}},
		MediaDescriptions: []*sdp.MediaDescription{{
			MediaName:  sdp.MediaName{Media: "audio", Port: sdp.RangedPort{Value: int(p.local.Port())}, Protos: []string{"RTP", "AVP"}, Formats: formats},
			Attributes: attrs,
		}},
	}
	return sd.Marshal()
}
