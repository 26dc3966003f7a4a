package softphone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/morozhq/moroz/sip/media"
)

// Mode is what a supervisor does on a call they monitor.
type Mode string

// The modes of a monitored call. The supervisor hears the caller and the
// helper in each of them.
const (
	// ModeListen: neither the caller nor the helper hears the supervisor.
	ModeListen Mode = "listen"
	// ModeWhisper: the helper hears the supervisor, the caller does not.
	ModeWhisper Mode = "whisper"
	// ModeBarge: all three hear each other.
	ModeBarge Mode = "barge"
)

func (m Mode) valid() bool { return m == ModeListen || m == ModeWhisper || m == ModeBarge }

var (
	errLeft        = errors.New("the supervisor left")
	errCallEnded   = errors.New("the call ended")
	errSuperLost   = errors.New("the supervisor's connection closed")
	errSuperMoved  = errors.New("the supervisor monitors it from another connection")
	errMonitorBusy = errors.New("another supervisor monitors this call")
	errSuperGone   = errors.New("the supervisor has no console open or may no longer monitor")
)

// consoleCheck is how often a monitor checks that its supervisor still
// has a console open and still is one (a revoked account's sockets are
// closed, a demoted one's reopen as a helper's): every second, and two
// misses in a row end it.
const consoleCheck = 50 // frames

// maySupervise asks the Signaller whether user may go on monitoring.
func (p *Phone) maySupervise(user int64) bool {
	if s, ok := p.opt.Signal.(Supervisors); ok {
		return s.MaySupervise(user)
	}
	return p.opt.Signal.Connected(user)
}

// Monitor is a supervisor's leg on a helper's call: a peer connection of
// its own whose audio to the supervisor is the mix of the caller and the
// helper, and whose audio from the supervisor is mixed into what the
// helper hears (whisper) and the caller too (barge).
//
// The mixing happens where the helper's browser leg meets its peer
// connection (rtcConn): packets keep their headers and only their
// payloads are decoded, mixed and encoded again, so sequence numbers and
// timestamps of both streams stay exactly what the bridge made them,
// whether a packet passes through or is mixed. Calls nobody monitors are
// never decoded. The supervisor's own stream is paced by the monitor, one
// frame every 20 ms with a continuous clock whatever the mode.
//
// Whisper and barge ride on the packets of the stream they join: the
// helper hears the supervisor as long as the caller's audio flows, the
// caller as long as the helper's does (G.711 from browsers and phones
// flows continuously).
type Monitor struct {
	host       monitorHost
	conn       *rtcConn // the browser leg's connection; nil on a desk-phone call
	supervisor int64
	codec      media.Codec
	log        *slog.Logger
	track      *webrtc.TrackLocalStaticRTP
	mode       atomic.Value // Mode
	since      time.Time

	caller, helper     sampleQueue // what the supervisor hears
	toHelper, toCaller sampleQueue // the supervisor's voice

	outMu  sync.Mutex // serialises toBrowser's scratch buffers
	outPCM []int16    // guarded by outMu
	outMix []int16    // guarded by outMu
	outPkt []byte     // guarded by outMu
	outPay []byte     // guarded by outMu
	inMu   sync.Mutex // serialises fromBrowser's scratch buffers
	inPCM  []int16    // guarded by inMu
	inMix  []int16    // guarded by inMu

	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup // the mixer and the pump of the supervisor's audio

	mu      sync.Mutex
	pc      *webrtc.PeerConnection // guarded by mu
	stopped bool                   // guarded by mu
}

// monitorHost is the call a monitor is on: a helper's browser leg or a
// desk-phone call.
type monitorHost interface {
	monitorPhone() *Phone
	monitorCall() string
	monitorLog() *slog.Logger
	// monitorGo runs f on a goroutine the call waits for when it ends.
	monitorGo(f func())
	// attachMonitor makes m the call's monitor and returns the one it
	// replaces.
	attachMonitor(m *Monitor) (*Monitor, error)
	// forgetMonitor detaches m from the call's media.
	forgetMonitor(m *Monitor)
}

func (l *Leg) monitorPhone() *Phone     { return l.p }
func (l *Leg) monitorCall() string      { return l.callID }
func (l *Leg) monitorLog() *slog.Logger { return l.log }
func (l *Leg) monitorGo(f func()) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		f()
	}()
}

func newMonitor(host monitorHost, conn *rtcConn, supervisor int64, codec media.Codec, mode Mode) (*Monitor, error) {
	track, err := webrtc.NewTrackLocalStaticRTP(capability(codec), "audio", fmt.Sprintf("moroz-monitor-%d", supervisor))
	if err != nil {
		return nil, err
	}
	m := &Monitor{host: host, conn: conn, supervisor: supervisor, codec: codec, track: track,
		log: host.monitorLog().With("supervisor", supervisor), since: time.Now(), done: make(chan struct{}),
		outPCM: make([]int16, 0, maxPayload), outMix: make([]int16, maxPayload),
		inPCM: make([]int16, 0, maxPayload), inMix: make([]int16, maxPayload)}
	m.mode.Store(mode)
	return m, nil
}

// Mode is the monitor's current mode.
func (m *Monitor) Mode() Mode { return m.mode.Load().(Mode) }

// Supervisor is who monitors.
func (m *Monitor) Supervisor() int64 { return m.supervisor }

func (m *Monitor) isStopped() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stopped
}

// Done is closed once the monitor stopped.
func (m *Monitor) Done() <-chan struct{} { return m.done }

// SetMode switches between listen, whisper and barge at the next packet.
func (m *Monitor) SetMode(mode Mode) error {
	if !mode.valid() {
		return &signalError{codeBadRequest, "monitor: unknown mode " + string(mode)}
	}
	if m.mode.Swap(mode) != mode {
		m.toHelper.reset()
		m.toCaller.reset()
		m.log.Info("monitor mode changed", "mode", string(mode))
	}
	return nil
}

// Leave stops the monitor; the call goes on. It is idempotent.
func (m *Monitor) Leave() { m.stop(errLeft) }

// start runs the mixer of the supervisor's audio, unless the monitor
// already stopped.
func (m *Monitor) start() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if m.mixOut() {
			// stop waits for this goroutine: it runs on the call's.
			m.host.monitorGo(func() { m.stop(errSuperGone) })
		}
	}()
}

// stop detaches the monitor from the call, closes its connection, waits
// for its goroutines and tells the supervisor why, once.
func (m *Monitor) stop(reason error) {
	m.once.Do(func() {
		m.mu.Lock()
		m.stopped = true
		pc := m.pc
		m.mu.Unlock()
		close(m.done)
		m.host.forgetMonitor(m)
		if pc != nil {
			pc.Close()
		}
		m.wg.Wait()
		m.host.monitorPhone().opt.Signal.SendSoftphone(m.supervisor, eventMsg{Event: "monitor_ended",
			Call: m.host.monitorCall(), Reason: reason.Error()})
		m.log.Info("monitor ended", "reason", reason.Error())
	})
}

// onTrack pumps the supervisor's microphone into the queues of the
// voices that hear them.
func (m *Monitor) onTrack(t *webrtc.TrackRemote) {
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		return
	}
	m.wg.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.wg.Done()
		m.pumpSupervisor(t)
	}()
}

func (m *Monitor) onState(_ *webrtc.PeerConnection, s webrtc.PeerConnectionState) {
	if s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateClosed {
		m.stop(errSuperLost)
	}
}

func (m *Monitor) pumpSupervisor(t *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	pcm := make([]int16, 0, maxPayload)
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			return
		}
		off, end, ok := audioPayload(buf[:n], m.codec)
		if !ok {
			continue
		}
		switch m.Mode() {
		case ModeBarge:
			pcm = m.codec.Decode(pcm[:0], buf[off:end])
			m.toCaller.push(pcm)
			m.toHelper.push(pcm)
		case ModeWhisper:
			pcm = m.codec.Decode(pcm[:0], buf[off:end])
			m.toHelper.push(pcm)
		}
	}
}

// mixOut sends the supervisor the caller and the helper mixed, one frame
// every 20 ms in one stream (a voice without a frame's worth queued adds
// silence this time), until the monitor stops or its supervisor has had
// no console open at two checks in a row (it reports true then).
func (m *Monitor) mixOut() (gone bool) {
	tick := time.NewTicker(media.FrameDuration)
	defer tick.Stop()
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: m.codec.PayloadType, SSRC: rand.Uint32(),
		SequenceNumber: uint16(rand.Uint32()), Timestamp: rand.Uint32(), Marker: true}}
	a := make([]int16, media.FrameSamples)
	b := make([]int16, media.FrameSamples)
	payload := make([]byte, 0, media.FrameSamples)
	misses := 0
	for n := 1; ; n++ {
		select {
		case <-m.done:
			return false
		case <-tick.C:
		}
		if n%consoleCheck == 0 {
			if misses++; m.host.monitorPhone().maySupervise(m.supervisor) {
				misses = 0
			}
			if misses == 2 {
				return true
			}
		}
		if !m.caller.pop(a) {
			clear(a)
		}
		if m.helper.pop(b) {
			mixInto(a, b)
		}
		pkt.Payload = m.codec.Encode(payload[:0], a)
		if err := m.track.WriteRTP(&pkt); err != nil {
			m.log.Debug("monitor write failed", "err", err)
		}
		pkt.SequenceNumber++
		pkt.Timestamp += media.FrameSamples
		pkt.Marker = false
	}
}

// toBrowser is the caller's audio on its way to the helper's browser:
// the supervisor hears it, and in whisper and barge the helper hears the
// supervisor mixed in. It returns the packet to send: b itself, or a
// copy with the mixed payload under b's header.
func (m *Monitor) toBrowser(b []byte) []byte {
	off, end, ok := audioPayload(b, m.codec)
	if !ok {
		return b
	}
	m.outMu.Lock()
	defer m.outMu.Unlock()
	mixed, ok := m.mixToHelperLocked(b[off:end], m.codec)
	if !ok {
		return b
	}
	m.outPkt = append(m.outPkt[:0], b[:off]...)
	m.outPkt = append(m.outPkt, mixed...)
	m.outPkt = append(m.outPkt, b[end:]...)
	return m.outPkt
}

// mixToHelperLocked is the caller's audio payload p in codec c on its
// way to the helper: the supervisor hears it, and in whisper and barge
// it returns the payload with the supervisor mixed in (in a buffer of the
// monitor's, valid until the next call) and true. outMu is held.
func (m *Monitor) mixToHelperLocked(p []byte, c media.Codec) ([]byte, bool) {
	pcm := c.Decode(m.outPCM[:0], p)
	m.caller.push(pcm)
	mix := m.outMix[:len(pcm)]
	if m.Mode() == ModeListen || !m.toHelper.pop(mix) {
		return p, false
	}
	mixInto(pcm, mix)
	m.outPay = c.Encode(m.outPay[:0], pcm)
	return m.outPay, true
}

// mixToCallerLocked is the helper's audio payload p in codec c on its
// way to the caller: the supervisor hears it, and in barge the caller
// hears the supervisor mixed in, rewritten in p. inMu is held.
func (m *Monitor) mixToCallerLocked(p []byte, c media.Codec) {
	pcm := c.Decode(m.inPCM[:0], p)
	m.helper.push(pcm)
	mix := m.inMix[:len(pcm)]
	if m.Mode() != ModeBarge || !m.toCaller.pop(mix) {
		return
	}
	mixInto(pcm, mix)
	c.Encode(p[:0], pcm)
}

// fromBrowser is the helper's audio on its way to the caller, in b,
// which the monitor may change: the supervisor hears it, and in barge
// the caller hears the supervisor mixed in (the payload is rewritten in
// place, the header kept).
func (m *Monitor) fromBrowser(b []byte) {
	off, end, ok := audioPayload(b, m.codec)
	if !ok {
		return
	}
	m.inMu.Lock()
	defer m.inMu.Unlock()
	m.mixToCallerLocked(b[off:end], m.codec)
}

// MonitorInfo is who monitors a live call and how.
type MonitorInfo struct {
	Supervisor int64     `json:"supervisor_id"`
	Mode       Mode      `json:"mode"`
	Since      time.Time `json:"since"`
}

func (m *Monitor) info() *MonitorInfo {
	return &MonitorInfo{Supervisor: m.supervisor, Mode: m.Mode(), Since: m.since.UTC()}
}

// Monitor returns the call's monitor, nil when nobody monitors it.
func (l *Leg) Monitor() *Monitor {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.monitor
}

// forgetMonitor detaches m from the leg and its connection.
func (l *Leg) forgetMonitor(m *Monitor) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.monitor == m {
		l.monitor = nil
	}
	m.conn.mon.CompareAndSwap(m, nil)
}

// startMonitor answers a supervisor's offer with a monitor of the
// talking call in mode. The same supervisor starting again (a reloaded
// wallboard) replaces their monitor; another supervisor is refused.
func (l *Leg) startMonitor(ctx context.Context, supervisor int64, sdpOffer string, mode Mode) (*Monitor, string, error) {
	if !mode.valid() {
		return nil, "", &signalError{codeBadRequest, "monitor: unknown mode " + string(mode)}
	}
	l.mu.Lock()
	conn, codec := l.conn, media.Codec{}
	talking := l.media != nil && !l.since.IsZero() && !l.ended()
	if talking {
		codec = l.media.Codec()
	}
	busy := l.monitor != nil && l.monitor.supervisor != supervisor
	l.mu.Unlock()
	switch {
	case !talking:
		return nil, "", &signalError{codeWrongState, "monitor: the call is not talking"}
	case busy:
		return nil, "", &signalError{codeWrongState, errMonitorBusy.Error()}
	}
	return answerMonitor(ctx, l, conn, supervisor, sdpOffer, codec, mode)
}

// answerMonitor answers a supervisor's offer with a monitor of host's
// call speaking codec in mode (conn is the browser's connection, nil for
// a desk call), attaches it in place of the supervisor's earlier one and
// starts it.
func answerMonitor(ctx context.Context, host monitorHost, conn *rtcConn, supervisor int64, sdpOffer string,
	codec media.Codec, mode Mode) (*Monitor, string, error) {
	off, err := parseOffer(sdpOffer)
	if err != nil {
		return nil, "", &signalError{codeBadRequest, err.Error()}
	}
	if !off.has(codec) {
		return nil, "", &signalError{codeBadRequest, "monitor: the offer must have " + codec.Name}
	}
	m, err := newMonitor(host, conn, supervisor, codec, mode)
	if err != nil {
		return nil, "", fmt.Errorf("monitor call %s: %w", host.monitorCall(), err)
	}
	pc, err := host.monitorPhone().answerPC(ctx, codec, sdpOffer, m.track, m.onTrack, m.onState)
	if err != nil {
		return nil, "", fmt.Errorf("monitor call %s: %w", host.monitorCall(), err)
	}
	m.mu.Lock()
	m.pc = pc
	m.mu.Unlock()
	old, err := host.attachMonitor(m)
	if err != nil {
		m.stop(err)
		return nil, "", err
	}
	if old != nil {
		old.stop(errSuperMoved)
	}
	m.start()
	m.log.Info("monitor started", "mode", string(mode))
	return m, pc.LocalDescription().SDP, nil
}

// attachMonitor makes m the call's monitor and returns the one it
// replaces.
func (l *Leg) attachMonitor(m *Monitor) (*Monitor, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended() {
		return nil, &signalError{codeNotFound, "call ended"}
	}
	if m.isStopped() { // its connection closed while it was being answered
		return nil, &signalError{codeWrongState, "monitor: the connection closed"}
	}
	old := l.monitor
	if old != nil && old.supervisor != m.supervisor {
		return nil, &signalError{codeWrongState, errMonitorBusy.Error()}
	}
	l.monitor = m
	m.conn.mon.Store(m)
	return old, nil
}
