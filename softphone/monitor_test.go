package softphone

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/rtp"

	"github.com/morozhq/moroz/sip/media"
)

type nopSignal struct{}

func (nopSignal) SendSoftphone(int64, any) int { return 1 }
func (nopSignal) Connected(int64) bool         { return true }

type testCaller string

func (c testCaller) ID() string     { return string(c) }
func (c testCaller) Caller() string { return "+375290000000" }

// testMonitor is a monitor of a leg that has no peer connections: its
// hooks are driven by hand.
func testMonitor(t testing.TB, mode Mode) *Monitor {
	t.Helper()
	p, err := New(Options{Signal: nopSignal{}})
	if err != nil {
		t.Fatal(err)
	}
	l := p.newLeg(1, testCaller("c1"))
	m, err := newMonitor(l, newRTCConn(nil, 101), 7, media.PCMU, mode)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func tone(freq float64, amp float64) []int16 {
	s := make([]int16, media.FrameSamples)
	for i := range s {
		s[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(i)/media.SampleRate))
	}
	return s
}

func packetOf(t testing.TB, seq uint16, pcm []int16) []byte {
	t.Helper()
	b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq,
		Timestamp: uint32(seq) * media.FrameSamples, SSRC: 0xabc}, Payload: media.PCMU.Encode(nil, pcm)}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// near reports whether got is want within G.711's coding error.
func near(got, want []int16) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - float64(want[i])); d > 200+math.Abs(float64(want[i]))/16 {
			return false
		}
	}
	return true
}

func payloadPCM(t *testing.T, b []byte) (rtp.Header, []int16) {
	t.Helper()
	var p rtp.Packet
	if err := p.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	return p.Header, media.PCMU.Decode(nil, p.Payload)
}

func sum(a, b []int16) []int16 {
	out := append([]int16(nil), a...)
	mixInto(out, b)
	return out
}

// Each mode mixes the supervisor into the streams it names and no
// other; a mixed packet keeps its header (sequence number, timestamp,
// SSRC), so the stream is the same whether a packet is mixed or not.
func TestMonitorMixesByMode(t *testing.T) {
	caller, helper, super := tone(600, 6000), tone(1000, 6000), tone(1300, 6000)
	tests := []struct {
		mode                     Mode
		helperHears, callerHears bool
	}{
		{ModeListen, false, false},
		{ModeWhisper, true, false},
		{ModeBarge, true, true},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			m := testMonitor(t, tt.mode)
			m.toHelper.push(super) // the mode alone decides who hears it
			m.toCaller.push(super)

			in := packetOf(t, 10, caller)
			out := m.toBrowser(in)
			h, pcm := payloadPCM(t, out)
			wantHelper := caller
			if tt.helperHears {
				wantHelper = sum(caller, super)
			}
			if h.SequenceNumber != 10 || h.Timestamp != 10*media.FrameSamples || h.SSRC != 0xabc {
				t.Errorf("to the helper: header %+v, want the bridge's", h)
			}
			if !near(pcm, wantHelper) {
				t.Errorf("to the helper: the payload is not the caller%s", map[bool]string{true: " and the supervisor"}[tt.helperHears])
			}

			from := packetOf(t, 20, helper)
			m.fromBrowser(from)
			h, pcm = payloadPCM(t, from)
			wantCaller := helper
			if tt.callerHears {
				wantCaller = sum(helper, super)
			}
			if h.SequenceNumber != 20 || h.SSRC != 0xabc {
				t.Errorf("to the caller: header %+v, want the browser's", h)
			}
			if !near(pcm, wantCaller) {
				t.Errorf("to the caller: the payload is not the helper%s", map[bool]string{true: " and the supervisor"}[tt.callerHears])
			}

			// The supervisor's mix gets both voices, whatever the mode.
			a, b := make([]int16, media.FrameSamples), make([]int16, media.FrameSamples)
			if !m.caller.pop(a) || !m.helper.pop(b) {
				t.Fatal("the supervisor's queues did not get both voices")
			}
			if !near(a, caller) || !near(b, helper) {
				t.Error("the supervisor's queues hold other audio than the caller's and the helper's")
			}
		})
	}
}

// A monitored packet whose supervisor frame has not arrived passes
// unchanged, and so does anything that is not the call's audio.
func TestMonitorPassesWhatItCannotMix(t *testing.T) {
	m := testMonitor(t, ModeBarge)
	in := packetOf(t, 1, tone(600, 6000))
	if out := m.toBrowser(in); !bytes.Equal(out, in) {
		t.Error("with no supervisor frame queued the caller's packet changed")
	}
	dtmf, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101}, Payload: []byte{5, 0x8a, 0, 160}}).Marshal()
	m.toCaller.push(tone(1300, 6000))
	before := bytes.Clone(dtmf)
	m.fromBrowser(dtmf)
	if !bytes.Equal(dtmf, before) {
		t.Error("a telephone-event was changed")
	}
	for _, junk := range [][]byte{nil, {0x80}, bytes.Repeat([]byte{0xff}, 40)} {
		m.fromBrowser(junk)
		if out := m.toBrowser(junk); !bytes.Equal(out, junk) {
			t.Errorf("junk %x changed", junk)
		}
	}
}

// The queue between a stream and the mixer takes packets of any length
// and gives frames of another, keeps at most mixDepth samples (the
// newest) and gives nothing rather than a short frame.
func TestSampleQueue(t *testing.T) {
	var q sampleQueue
	in := make([]int16, 240) // 30 ms packets
	for i := range mixDepth/len(in) + 2 {
		for j := range in {
			in[j] = int16(i*len(in) + j)
		}
		q.push(in)
	}
	total := (mixDepth/len(in) + 2) * len(in)
	frame := make([]int16, media.FrameSamples)
	var got []int16
	for q.pop(frame) {
		got = append(got, frame...)
	}
	if len(got) != mixDepth {
		t.Fatalf("popped %d samples, want the newest %d", len(got), mixDepth)
	}
	for i, v := range got {
		if want := int16(total - mixDepth + i); v != want {
			t.Fatalf("sample %d: got %d, want %d", i, v, want)
		}
	}
	q.push(make([]int16, 100))
	if q.pop(frame) {
		t.Error("popped a frame out of 100 samples")
	}
	q.push(make([]int16, 60))
	if !q.pop(frame) {
		t.Error("100 and 60 samples did not make a frame")
	}
	q.push(in)
	q.reset()
	if q.pop(frame[:1]) {
		t.Error("a sample survived reset")
	}
}

func TestMixIntoClips(t *testing.T) {
	dst := []int16{30000, -30000, 100}
	mixInto(dst, []int16{10000, -10000, -50, 7})
	if want := []int16{32767, -32768, 50}; !slices.Equal(dst, want) {
		t.Errorf("mix: got %v, want %v", dst, want)
	}
}

func TestAudioPayload(t *testing.T) {
	plain := packetOf(t, 1, tone(600, 6000))
	padded := append(bytes.Clone(plain), 0, 0, 3)
	padded[0] |= 0x20
	eh := rtp.Header{Version: 2, PayloadType: 0}
	if err := eh.SetExtension(1, []byte{0x90}); err != nil { // RFC 8285 one-byte header
		t.Fatal(err)
	}
	ext, _ := (&rtp.Packet{Header: eh, Payload: make([]byte, 160)}).Marshal()
	dtmf, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101}, Payload: []byte{5, 0x8a, 0, 160}}).Marshal()
	overpadded := append(bytes.Clone(plain[:12]), 0xff)
	overpadded[0] |= 0x20
	tests := []struct {
		name    string
		b       []byte
		wantLen int
		wantOK  bool
	}{
		{"plain", plain, 160, true},
		{"padded", padded, 160, true},
		{"header extension", ext, 160, true},
		{"no payload", packetOf(t, 1, nil), 0, false},
		{"telephone-event", dtmf, 0, false},
		{"truncated", plain[:8], 0, false},
		{"padding longer than the packet", overpadded, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			off, end, ok := audioPayload(tt.b, media.PCMU)
			if ok != tt.wantOK || (ok && end-off != tt.wantLen) {
				t.Errorf("got %d bytes, %v; want %d, %v", end-off, ok, tt.wantLen, tt.wantOK)
			}
		})
	}
}

// BenchmarkMonitorFrame is the mixing a monitored call costs per 20 ms
// in barge: both directions decoded, mixed and encoded, and the
// supervisor's frame mixed and encoded.
func BenchmarkMonitorFrame(b *testing.B) {
	m := testMonitor(b, ModeBarge)
	a, h := packetOf(b, 1, tone(600, 6000)), packetOf(b, 2, tone(1000, 6000))
	super := tone(1300, 6000)
	fa, fb := make([]int16, media.FrameSamples), make([]int16, media.FrameSamples)
	payload := make([]byte, 0, media.FrameSamples)
	b.ReportAllocs()
	for b.Loop() {
		m.toHelper.push(super)
		m.toCaller.push(super)
		m.toBrowser(a)
		m.fromBrowser(h)
		m.caller.pop(fa)
		m.helper.pop(fb)
		mixInto(fa, fb)
		payload = media.PCMU.Encode(payload[:0], fa)
	}
}

// talkingLeg is a leg of call id that answered, without a browser.
func talkingLeg(t *testing.T, p *Phone, id string) *Leg {
	t.Helper()
	l, err := p.ring(1, testCaller(id))
	if err != nil {
		t.Fatal(err)
	}
	conn := newRTCConn(nil, 101)
	ml, err := media.NewLeg(conn, media.LegConfig{Codec: media.PCMU, Remote: browserAddr})
	if err != nil {
		t.Fatal(err)
	}
	l.mu.Lock()
	l.media, l.conn, l.since = ml, conn, time.Now()
	l.mu.Unlock()
	t.Cleanup(func() { l.end(errHangup) })
	return l
}

// The monitor requests a wallboard gets wrong are refused with the code
// the console shows, and nothing is attached.
func TestMonitorRequestErrors(t *testing.T) {
	p, err := New(Options{Signal: nopSignal{}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.ring(1, testCaller("ringing")); err != nil {
		t.Fatal(err)
	}
	talking := talkingLeg(t, p, "talking")
	other, err := newMonitor(talking, talking.conn, 8, media.PCMU, ModeListen)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := talking.attachMonitor(other); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		msg  string
		want string
	}{
		{"malformed", `{"op": `, codeBadRequest},
		{"unknown op", `{"op": "spy", "call": "talking"}`, codeWrongState}, // not the monitor: refused before the op
		{"no such call", `{"op": "start", "call": "nobody", "sdp": "v=0"}`, codeNotFound},
		{"not talking yet", `{"op": "start", "call": "ringing", "sdp": "v=0"}`, codeWrongState},
		{"unknown mode", `{"op": "start", "call": "talking", "mode": "spy"}`, codeBadRequest},
		{"another supervisor monitors", `{"op": "start", "call": "talking", "sdp": "v=0"}`, codeWrongState},
		{"mode of one who does not monitor", `{"op": "mode", "call": "talking", "mode": "barge"}`, codeWrongState},
		{"leave of one who does not monitor", `{"op": "leave", "call": "talking"}`, codeWrongState},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Monitor(context.Background(), 7, json.RawMessage(tt.msg))
			var se *signalError
			if !errors.As(err, &se) || se.code != tt.want {
				t.Errorf("got %v, want code %s", err, tt.want)
			}
		})
	}
	if m := talking.Monitor(); m != other || m.Mode() != ModeListen {
		t.Errorf("the call's monitor after refused requests: got %+v, want supervisor 8's, listening", m)
	}

	// The supervisor who monitors may switch and leave; a bad mode is
	// refused and changes nothing.
	for _, msg := range []string{`{"op": "mode", "call": "talking", "mode": "loud"}`, `{"op": "spy", "call": "talking"}`} {
		var se *signalError
		if _, err := p.Monitor(context.Background(), 8, json.RawMessage(msg)); !errors.As(err, &se) || se.code != codeBadRequest {
			t.Errorf("%s: got %v, want code %s", msg, err, codeBadRequest)
		}
	}
	if _, err := p.Monitor(context.Background(), 8, json.RawMessage(`{"op": "mode", "call": "talking", "mode": "whisper"}`)); err != nil || other.Mode() != ModeWhisper {
		t.Errorf("mode whisper: got %v, mode %s", err, other.Mode())
	}
	if _, err := p.Monitor(context.Background(), 8, json.RawMessage(`{"op": "leave", "call": "talking"}`)); err != nil {
		t.Fatal(err)
	}
	if talking.Monitor() != nil || talking.conn.mon.Load() != nil || talking.ended() {
		t.Error("after leave: the monitor is still attached, or the call ended")
	}
}

// The call's end stops its monitor.
func TestCallEndStopsMonitor(t *testing.T) {
	p, err := New(Options{Signal: nopSignal{}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	l := talkingLeg(t, p, "c1")
	m, err := newMonitor(l, l.conn, 8, media.PCMU, ModeBarge)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.attachMonitor(m); err != nil {
		t.Fatal(err)
	}
	m.start()
	l.Hangup()
	select {
	case <-m.Done():
	default:
		t.Fatal("the monitor runs on after the call ended")
	}
	if _, err := l.attachMonitor(m); err == nil {
		t.Error("a monitor attached to an ended call")
	}
}

// FuzzMonitorPackets feeds the monitor's hooks whatever a browser or a
// caller might send: they must not panic, and what they send on keeps
// the packet's length and header.
func FuzzMonitorPackets(f *testing.F) {
	f.Add(packetOf(f, 1, tone(600, 6000)))
	f.Add([]byte{0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 2})
	f.Add([]byte{0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0, 9})
	m := testMonitor(f, ModeBarge)
	f.Fuzz(func(t *testing.T, b []byte) {
		m.toHelper.push(tone(1300, 6000))
		m.toCaller.push(tone(1300, 6000))
		out := m.toBrowser(b)
		if len(out) != len(b) {
			t.Fatalf("to the browser: %d bytes became %d", len(b), len(out))
		}
		in := bytes.Clone(b)
		m.fromBrowser(in)
		if off, _, ok := audioPayload(b, media.PCMU); ok && (!bytes.Equal(out[:off], b[:off]) || !bytes.Equal(in[:off], b[:off])) {
			t.Fatal("a mixed packet's header changed")
		}
	})
}

// consoles is a Signaller whose supervisor may stop being one (their
// console closed, or their account changed); their console stays
// Connected, so only MaySupervise can end the monitor.
type consoles struct{ may atomic.Bool }

func (c *consoles) SendSoftphone(int64, any) int { return 1 }
func (c *consoles) Connected(int64) bool         { return true }
func (c *consoles) MaySupervise(int64) bool      { return c.may.Load() }

// A monitor ends once its supervisor may no longer monitor: no console
// open (the wallboard closed without closing its connection) or an
// account disabled or demoted; the call goes on.
func TestMonitorEndsWhenTheSupervisorMayNot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sig := &consoles{}
		sig.may.Store(true)
		p, err := New(Options{Signal: sig})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		l := talkingLeg(t, p, "c1")
		m, err := newMonitor(l, l.conn, 8, media.PCMU, ModeListen)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.attachMonitor(m); err != nil {
			t.Fatal(err)
		}
		m.start()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if l.Monitor() != m {
			t.Fatal("the monitor ended while its supervisor's console was open")
		}
		sig.may.Store(false)
		<-m.Done()
		synctest.Wait()
		if l.Monitor() != nil || l.ended() {
			t.Errorf("after the console closed: monitor %v, call ended %v; want no monitor and the call alive", l.Monitor(), l.ended())
		}
		l.end(errHangup)
	})
}
