package softphone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/sip/media"
)

// Leg is one call's browser phone: a media leg whose RTP travels over the
// helper's peer connection. It is a voice.Leg. Its methods are safe for
// concurrent use; Hangup is idempotent.
type Leg struct {
	p        *Phone
	callID   string
	from     string
	helper   int64
	want     media.Codec // the caller's codec, when known
	log      *slog.Logger
	answered chan struct{} // the browser answered and its audio arrived
	rejected chan struct{}
	done     chan struct{}
	ansOnce  sync.Once
	rejOnce  sync.Once
	endOnce  sync.Once
	wg       sync.WaitGroup // track pumps and the hold music

	mu       sync.Mutex
	media    *media.Leg             // guarded by mu: set by the first answer
	conn     *rtcConn               // guarded by mu: set with media
	pc       *webrtc.PeerConnection // guarded by mu: the browser's current connection
	since    time.Time              // guarded by mu: when the helper answered
	lostT    *time.Timer            // guarded by mu: running while the browser is away
	stopHold context.CancelFunc     // guarded by mu: set while held
	err      error                  // guarded by mu: why the leg ended
	transfer *acd.Target            // guarded by mu: where the helper sent the caller
	monitor  *Monitor               // guarded by mu: a supervisor's, while one monitors
	itemID   int64                  // guarded by mu: the call's item, once described
	queue    string                 // guarded by mu: the item's queue, once described
	callback bool                   // guarded by mu: a callback's leg (SetCallback)
}

// SetCallback marks the leg a callback's, of item itemID in queue, for
// the wallboard's live calls: Options.Describe knows the items of
// callers' calls, not of the numbers a callback calls. The node calls it
// as voice.Callbacks bridges the leg (voice.CallbackOptions.Talking).
func (l *Leg) SetCallback(itemID int64, queue string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.itemID, l.queue, l.callback = itemID, queue, true
}

func (l *Leg) isCallback() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.callback
}

func (p *Phone) newLeg(helper int64, c Caller) *Leg {
	l := &Leg{p: p, callID: c.ID(), from: c.Caller(), helper: helper, want: media.PCMU,
		answered: make(chan struct{}), rejected: make(chan struct{}), done: make(chan struct{})}
	if m, ok := c.(interface{ Media() *media.Leg }); ok && m.Media() != nil {
		l.want = m.Media().Codec()
	}
	l.log = p.log.With("call_id", l.callID, "helper", helper)
	return l
}

// CallID is the caller's call id the leg belongs to.
func (l *Leg) CallID() string { return l.callID }

// Helper is the helper whose browser this is.
func (l *Leg) Helper() int64 { return l.helper }

// Media returns the leg's media leg, which the call flow bridges to the
// caller's; nil before the helper answered.
func (l *Leg) Media() *media.Leg {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.media
}

// Dropped counts the browser's packets dropped because the media leg's
// receiver fell behind (inQueue of them were already waiting); 0 before
// the helper answered.
func (l *Leg) Dropped() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return 0
	}
	return l.conn.dropped.Load()
}

// DTMF delivers the keys the helper pressed in the browser, each once
// (they also reach the caller as RFC 4733 events while bridged).
func (l *Leg) DTMF() <-chan media.DTMF {
	if m := l.Media(); m != nil {
		return m.DTMF()
	}
	return nil
}

// Done is closed when the leg has ended.
func (l *Leg) Done() <-chan struct{} { return l.done }

// Err is why the leg ended: nil while it lives.
func (l *Leg) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Lost reports whether the leg ended because the helper's browser
// vanished: the caller should go back to the head of the queue.
func (l *Leg) Lost() bool { return errors.Is(l.Err(), ErrLost) }

// Transferred returns where the helper sent the caller when the leg ended
// by a transfer: the call flow moves the call there and waits again.
func (l *Leg) Transferred() (acd.Target, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.transfer == nil {
		return acd.Target{}, false
	}
	return *l.transfer, true
}

// transferTo ends a talking leg because the helper hands the caller to
// a queue or another helper (a blind transfer).
func (l *Leg) transferTo(to acd.Target) error {
	if to.Queue == "" && to.Helper == 0 {
		return &signalError{codeBadRequest, "transfer: name a queue or a helper"}
	}
	if to.Helper == l.helper {
		return &signalError{codeBadRequest, "transfer: not to oneself"}
	}
	l.mu.Lock()
	if l.media == nil || l.since.IsZero() || l.ended() {
		l.mu.Unlock()
		return &signalError{codeWrongState, "transfer: the call is not talking"}
	}
	l.transfer = &to
	l.mu.Unlock()
	l.log.Info("call transferred", "queue", to.Queue, "to_helper", to.Helper)
	l.end(errTransferred)
	return nil
}

// Hangup ends the leg and tells the browser; a no-op on an ended leg.
func (l *Leg) Hangup() error {
	l.end(errHangup)
	return nil
}

func (l *Leg) ended() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// event is a message about this call for the helper's browser.
func (l *Leg) event(kind, reason string) eventMsg {
	return eventMsg{Event: kind, Call: l.callID, From: l.from, Reason: reason}
}

// end closes the leg for reason, once: the peer connection, the media leg
// and the goroutines, then tells the browser.
func (l *Leg) end(reason error) {
	l.endOnce.Do(func() {
		l.mu.Lock()
		l.err = reason
		close(l.done)
		pc, m, conn, mon := l.pc, l.media, l.conn, l.monitor
		if l.lostT != nil {
			l.lostT.Stop()
		}
		if l.stopHold != nil {
			l.stopHold()
		}
		l.mu.Unlock()

		if mon != nil {
			mon.stop(errCallEnded)
		}
		if pc != nil {
			pc.Close()
		}
		if m != nil {
			m.Close()
		} else if conn != nil {
			conn.Close()
		}
		l.wg.Wait()
		l.p.forget(l)
		l.p.opt.Signal.SendSoftphone(l.helper, l.event("ended", reason.Error()))
		l.log.Info("browser leg ended", "reason", reason.Error())
	})
}

// reject is the helper declining the ringing call.
func (l *Leg) reject() error {
	select {
	case <-l.answered:
		return &signalError{codeWrongState, "call already answered: hang up instead"}
	default:
	}
	l.rejOnce.Do(func() { close(l.rejected) })
	return nil
}

// answer takes the browser's SDP offer, answers it and returns the
// answer. A second answer (the tab reloaded) replaces the connection.
func (l *Leg) answer(ctx context.Context, sdpOffer string) (string, error) {
	if l.ended() {
		return "", &signalError{codeNotFound, "call ended"}
	}
	off, err := parseOffer(sdpOffer)
	if err != nil {
		return "", &signalError{codeBadRequest, err.Error()}
	}
	conn, err := l.mediaFor(off)
	if err != nil {
		return "", err
	}
	pc, err := l.connect(ctx, conn, sdpOffer)
	if err != nil {
		return "", fmt.Errorf("answer call %s: %w", l.callID, err)
	}
	if err := l.adopt(pc); err != nil {
		pc.Close()
		return "", err
	}
	return pc.LocalDescription().SDP, nil
}

// mediaFor makes the media leg on the first answer; later answers must
// offer its codec.
func (l *Leg) mediaFor(off offered) (*rtcConn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.media != nil {
		if !off.has(l.media.Codec()) {
			return nil, &signalError{codeBadRequest, "re-attach must offer " + l.media.Codec().Name}
		}
		return l.conn, nil
	}
	codec, err := off.choose(l.want)
	if err != nil {
		return nil, &signalError{codeBadRequest, err.Error()}
	}
	track, err := webrtc.NewTrackLocalStaticRTP(capability(codec), "audio", "moroz-"+l.callID)
	if err != nil {
		return nil, fmt.Errorf("answer call %s: track: %w", l.callID, err)
	}
	conn := newRTCConn(track, off.dtmfPT)
	m, err := media.NewLeg(conn, media.LegConfig{Codec: codec, DTMFPayloadType: off.dtmfPT,
		Remote: browserAddr, LatchPackets: 1, Logger: l.log})
	if err != nil {
		return nil, fmt.Errorf("answer call %s: %w", l.callID, err)
	}
	l.media, l.conn = m, conn
	return conn, nil
}

func (o offered) has(c media.Codec) bool {
	for _, x := range o.codecs {
		if x == c {
			return true
		}
	}
	return false
}

// connect builds a peer connection for the offer, with the leg's track.
func (l *Leg) connect(ctx context.Context, conn *rtcConn, sdpOffer string) (*webrtc.PeerConnection, error) {
	return l.p.answerPC(ctx, l.Media().Codec(), sdpOffer, conn.track, l.onTrack, l.onState)
}

// answerPC builds a peer connection speaking codec that sends track and
// answers the offer, and waits for its ICE candidates to be gathered (no
// trickle from us). onTrack gets the browser's track, onState the
// connection's changes of state.
func (p *Phone) answerPC(ctx context.Context, codec media.Codec, sdpOffer string, track webrtc.TrackLocal,
	onTrack func(*webrtc.TrackRemote), onState func(*webrtc.PeerConnection, webrtc.PeerConnectionState)) (*webrtc.PeerConnection, error) {
	pc, err := p.apis[codec].NewPeerConnection(webrtc.Configuration{ICEServers: p.opt.Config.iceServers()})
	if err != nil {
		return nil, err
	}
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { onTrack(t) })
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) { onState(pc, s) })
	steps := []func() error{
		func() error {
			err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdpOffer})
			if err != nil {
				return &signalError{codeBadRequest, "offer refused: " + err.Error()} // the browser's fault
			}
			return nil
		},
		func() error { _, err := pc.AddTrack(track); return err },
		func() error {
			ans, err := pc.CreateAnswer(nil)
			if err != nil {
				return err
			}
			return pc.SetLocalDescription(ans)
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			pc.Close()
			return nil, err
		}
	}
	select {
	case <-webrtc.GatheringCompletePromise(pc):
		return pc, nil
	case <-ctx.Done():
		pc.Close()
		return nil, ctx.Err()
	}
}

// adopt makes pc the browser's connection, closing the one it replaces.
func (l *Leg) adopt(pc *webrtc.PeerConnection) error {
	l.mu.Lock()
	if l.ended() {
		l.mu.Unlock()
		return &signalError{codeNotFound, "call ended"}
	}
	old := l.pc
	l.pc = pc
	l.mu.Unlock()
	if old != nil {
		l.log.Info("browser re-attached")
		old.Close()
	}
	return nil
}

// onTrack starts pumping the browser's audio into the media leg; the
// first track answers the call.
func (l *Leg) onTrack(t *webrtc.TrackRemote) {
	l.mu.Lock()
	if l.ended() || l.conn == nil {
		l.mu.Unlock()
		return
	}
	conn := l.conn
	l.wg.Add(1)
	l.mu.Unlock()
	go func() {
		defer l.wg.Done()
		conn.pumpTrack(t)
	}()
	l.ansOnce.Do(func() {
		l.mu.Lock()
		l.since = time.Now()
		l.mu.Unlock()
		// The negotiated codec: the track's own is what pion matched to
		// the payload type of its first packet, which with Firefox came
		// out as telephone-event.
		var codec string
		if m := l.Media(); m != nil {
			codec = m.Codec().Name
		}
		l.log.Info("browser answered", "codec", codec, "first_payload", t.Codec().MimeType)
		close(l.answered)
	})
}

// onState watches the current connection: one that fails or closes
// starts the grace period, one that connects ends it.
func (l *Leg) onState(pc *webrtc.PeerConnection, s webrtc.PeerConnectionState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if pc != l.pc || l.ended() {
		return
	}
	switch s {
	case webrtc.PeerConnectionStateConnected:
		if l.lostT != nil {
			l.lostT.Stop()
			l.lostT = nil
		}
	case webrtc.PeerConnectionStateDisconnected, webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
		if l.lostT == nil {
			l.log.Warn("browser connection down; waiting for it to re-attach", "state", s.String())
			l.lostT = time.AfterFunc(l.p.opt.Config.Grace, func() { l.end(ErrLost) })
		}
	}
}

// addCandidate adds a trickled ICE candidate of the browser.
func (l *Leg) addCandidate(c webrtc.ICECandidateInit) error {
	l.mu.Lock()
	pc := l.pc
	l.mu.Unlock()
	if pc == nil {
		return &signalError{codeWrongState, "no connection yet: answer first"}
	}
	if err := pc.AddICECandidate(c); err != nil {
		return &signalError{codeBadRequest, "candidate: " + err.Error()}
	}
	return nil
}

// SetHold holds (on) or resumes the call: while held the caller hears
// the hold music instead of the helper, and the helper hears nothing.
func (l *Leg) SetHold(on bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.media == nil || l.ended() {
		return &signalError{codeWrongState, "call not answered"}
	}
	if on == (l.stopHold != nil) {
		return nil
	}
	l.conn.held.Store(on)
	l.media.SetSending(!on)
	if !on {
		l.stopHold()
		l.stopHold = nil
		l.log.Info("call resumed")
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.stopHold = cancel
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		playHold(ctx, l.conn, l.media.Codec(), l.p.opt.HoldMusic())
	}()
	l.log.Info("call held")
	return nil
}

// Held reports whether the helper holds the call.
func (l *Leg) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stopHold != nil
}

// playHold feeds src to the media leg as if the browser sent it, one
// frame every 20 ms in a stream of its own (the bridge re-anchors the
// caller's timestamps on the change of SSRC), until ctx ends or the conn
// closes. A source that runs out is followed by silence.
func playHold(ctx context.Context, conn *rtcConn, codec media.Codec, src media.Source) {
	t := time.NewTicker(media.FrameDuration)
	defer t.Stop()
	h := rtp.Header{Version: 2, PayloadType: codec.PayloadType, SSRC: rand.Uint32(),
		SequenceNumber: uint16(rand.Uint32()), Timestamp: rand.Uint32(), Marker: true}
	frame := make([]int16, media.FrameSamples)
	payload := make([]byte, 0, media.FrameSamples)
	for {
		select {
		case <-ctx.Done():
			return
		case <-conn.done:
			return
		case <-t.C:
		}
		if !src.ReadFrame(frame) {
			src = media.Silence()
			src.ReadFrame(frame)
		}
		p := conn.pool.Get().(*packet)
		n, err := h.MarshalTo(p.b[:])
		if err != nil {
			conn.pool.Put(p)
			return
		}
		p.n = n + copy(p.b[n:], codec.Encode(payload[:0], frame))
		conn.push(p)
		h.SequenceNumber++
		h.Timestamp += media.FrameSamples
		h.Marker = false
	}
}

// info is the leg as the browser's list shows it.
func (l *Leg) info() callInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	ci := callInfo{Call: l.callID, From: l.from, State: "ringing", Held: l.stopHold != nil}
	if l.media != nil && !l.since.IsZero() {
		ci.State, ci.Since = "talking", l.since.UTC()
	}
	return ci
}
