package aritest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/pion/rtp"

	"github.com/morozhq/moroz/sip/media"
)

// Endpoint is the Asterisk side of an external media channel: a UDP
// socket on loopback that receives Moroz's RTP and can send audio to it,
// standing for the phone bridged to the channel.
type Endpoint struct {
	conn   *net.UDPConn
	to     netip.AddrPort // Moroz's external_host
	codec  media.Codec
	closed chan struct{}
	once   sync.Once

	mu    sync.Mutex
	heard []int16 // guarded by mu: decoded audio received
	pkts  int     // guarded by mu
}

// externalMedia is POST /channels/externalMedia: a channel whose RTP goes
// to external_host, in the app (StasisStart) like Asterisk's.
func (s *Server) externalMedia(w http.ResponseWriter, id, host, format string) {
	to, err := netip.ParseAddrPort(host)
	if err != nil {
		s.t.Errorf("ari fake: externalMedia external_host %q: %v", host, err)
		writeError(w, http.StatusBadRequest, "external_host must be host:port")
		return
	}
	codec, ok := map[string]media.Codec{"ulaw": media.PCMU, "alaw": media.PCMA}[format]
	if !ok {
		writeError(w, http.StatusBadRequest, "format "+format+" not simulated")
		return
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	ep := &Endpoint{conn: conn, to: to, codec: codec, closed: make(chan struct{})}
	s.wg.Go(ep.receive)

	s.mu.Lock()
	ch := s.newChannelLocked(id, "UnicastRTP/"+host+"-0001", "Up", "", "")
	ch.media = ep
	ch.obj["channelvars"] = map[string]any{"UNICASTRTP_LOCAL_ADDRESS": "127.0.0.1",
		"UNICASTRTP_LOCAL_PORT": strconv.Itoa(conn.LocalAddr().(*net.UDPAddr).Port)}
	obj := ch.copyObj()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, obj)
	s.Send("StasisStart", map[string]any{"channel": obj, "args": []string{}})
}

// Media returns the external media endpoint bridged with channel id, the
// audio path of that channel's phone; false when there is none yet.
func (s *Server) Media(id string) (*Endpoint, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, members := range s.bridges {
		if !members[id] {
			continue
		}
		for other := range members {
			if ch := s.channels[other]; ch != nil && ch.media != nil {
				return ch.media, true
			}
		}
	}
	return nil, false
}

func (e *Endpoint) receive() {
	buf := make([]byte, 1500)
	for {
		n, err := e.conn.Read(buf)
		if err != nil {
			return
		}
		var p rtp.Packet
		if p.Unmarshal(buf[:n]) != nil || p.PayloadType != e.codec.PayloadType {
			continue
		}
		e.mu.Lock()
		e.heard = e.codec.Decode(e.heard, p.Payload)
		e.pkts++
		e.mu.Unlock()
	}
}

// Heard returns the audio Moroz sent so far, decoded.
func (e *Endpoint) Heard() []int16 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]int16(nil), e.heard...)
}

// Packets is how many RTP packets of the channel's codec arrived.
func (e *Endpoint) Packets() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pkts
}

// Speak sends samples to Moroz as RTP, one 20 ms packet each 20 ms, and
// returns when they are sent, ctx ends or the endpoint closes.
func (e *Endpoint) Speak(ctx context.Context, samples []int16) error {
	tick := time.NewTicker(media.FrameDuration)
	defer tick.Stop()
	ssrc := uint32(0xa57e)
	for i := 0; (i+1)*media.FrameSamples <= len(samples); i++ {
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: e.codec.PayloadType,
			SequenceNumber: uint16(i), Timestamp: uint32(i * media.FrameSamples), SSRC: ssrc},
			Payload: e.codec.Encode(nil, samples[i*media.FrameSamples:(i+1)*media.FrameSamples])}
		b, _ := p.Marshal()
		if _, err := e.conn.WriteToUDPAddrPort(b, e.to); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-e.closed:
			return errors.New("external media endpoint closed")
		case <-tick.C:
		}
	}
	return nil
}

func (e *Endpoint) close() {
	e.once.Do(func() {
		close(e.closed)
		e.conn.Close()
	})
}
