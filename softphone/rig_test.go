package softphone_test

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/console"
	"github.com/morozhq/moroz/sip/media"
	"github.com/morozhq/moroz/softphone"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/work"
)

// Tones of the tests: what the browser's fake microphone plays, what the
// caller says and the hold music; none is a harmonic of another.
const (
	browserHz = 1000
	callerHz  = 600
	holdHz    = 350
)

func testLogger() *slog.Logger {
	if os.Getenv("MOROZ_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// lateSignal lets the phone and the console be built in either order.
type lateSignal struct{ srv *console.Server }

func (l *lateSignal) SendSoftphone(id int64, msg any) int { return l.srv.SendSoftphone(id, msg) }
func (l *lateSignal) Connected(id int64) bool             { return l.srv.Connected(id) }
func (l *lateSignal) MaySupervise(id int64) bool          { return l.srv.MaySupervise(id) }

// rig is a console with the real store, work service and phone behind it.
type rig struct {
	url   string
	store store.Store
	work  *work.Service
	phone *softphone.Phone
}

func newRig(t *testing.T) *rig { return newRigWith(t, nil) }

// newRigWith is newRig with the router's configuration tuned.
func newRigWith(t *testing.T, tune func(*acd.Config)) *rig {
	t.Helper()
	ctx := context.Background()
	log := testLogger()
	st, err := store.Open(ctx, store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	router := acd.Config{Queues: work.DefaultQueues()}
	if tune != nil {
		tune(&router)
	}
	w, err := work.New(ctx, work.Options{Store: st, Logger: log, Router: router})
	if err != nil {
		t.Fatal(err)
	}
	sig := &lateSignal{}
	hold := media.NewClip(sine(holdHz, 2*time.Second))
	describe := func(ctx context.Context, callID string) (int64, string) {
		it, err := st.ItemByExternalID(ctx, acd.Voice, callID)
		if err != nil {
			return 0, ""
		}
		return it.ID, it.Queue
	}
	phone, err := softphone.New(softphone.Options{Signal: sig, Logger: log, HoldMusic: hold.Loop,
		Describe: describe, Config: softphone.Config{Loopback: true, Grace: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := console.New(console.Options{Store: st, Logger: log, Desk: w, Live: w.Live, Softphone: phone})
	if err != nil {
		t.Fatal(err)
	}
	sig.srv = c
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(func() {
		phone.Close()
		c.Close()
		srv.Close()
		w.Close()
		st.Close()
	})
	return &rig{url: srv.URL, store: st, work: w, phone: phone}
}

func (r *rig) helper(t *testing.T, login string) int64 {
	t.Helper()
	u, err := console.AddUser(context.Background(), r.store, login, "Elf "+login, store.RoleHelper, "password-"+login)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// caller is the caller's side of a call: the media leg Moroz would have
// for it (as the sip package makes one) and, on another socket, the
// caller's phone that speaks callerHz and keeps what it hears.
type caller struct {
	id   string
	leg  *media.Leg
	sock *net.UDPConn

	mu      sync.Mutex
	heard   []rtp.Packet // guarded by mu: every packet the phone got
	changed chan struct{}
}

func newCaller(t *testing.T, id string) *caller {
	t.Helper()
	legConn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	sock, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	leg, err := media.NewLeg(legConn, media.LegConfig{Codec: media.PCMU, DTMFPayloadType: 101,
		Remote: sock.LocalAddr().(*net.UDPAddr).AddrPort(), Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	c := &caller{id: id, leg: leg, sock: sock, changed: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.speak(ctx) }()
	go func() { defer wg.Done(); c.listen() }()
	t.Cleanup(func() {
		cancel()
		leg.Close()
		sock.Close()
		wg.Wait()
	})
	return c
}

func (c *caller) ID() string              { return c.id }
func (c *caller) Caller() string          { return "+375291234567" }
func (c *caller) Media() *media.Leg       { return c.leg }
func (c *caller) Done() <-chan struct{}   { return c.leg.Done() }
func (c *caller) DTMF() <-chan media.DTMF { return c.leg.DTMF() }

// speak sends callerHz as PCMU every 20 ms until ctx ends.
func (c *caller) speak(ctx context.Context) {
	tone := sine(callerHz, time.Second)
	h := rtp.Header{Version: 2, PayloadType: 0, SSRC: 0x5eed}
	buf := make([]byte, 0, 200)
	tick := time.NewTicker(media.FrameDuration)
	defer tick.Stop()
	to := c.leg.LocalAddr()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		off := (i * media.FrameSamples) % (len(tone) - media.FrameSamples)
		pkt, _ := (&rtp.Packet{Header: h, Payload: media.PCMU.Encode(nil, tone[off:off+media.FrameSamples])}).Marshal()
		buf = append(buf[:0], pkt...)
		c.sock.WriteToUDPAddrPort(buf, to)
		h.SequenceNumber++
		h.Timestamp += media.FrameSamples
	}
}

// listen keeps every packet the caller's phone receives.
func (c *caller) listen() {
	buf := make([]byte, 1500)
	for {
		n, _, err := c.sock.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		var p rtp.Packet
		if p.Unmarshal(append([]byte(nil), buf[:n]...)) != nil {
			continue
		}
		c.mu.Lock()
		c.heard = append(c.heard, p)
		c.mu.Unlock()
		select {
		case c.changed <- struct{}{}:
		default:
		}
	}
}

// packets returns what the phone received from packet from on.
func (c *caller) packets(from int) []rtp.Packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	if from > len(c.heard) {
		from = len(c.heard)
	}
	return append([]rtp.Packet(nil), c.heard[from:]...)
}

func (c *caller) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.heard)
}

// awaitTone waits until the phone heard want windows of freq since packet
// from; it fails the test when the call's media is gone for 15 s first.
func (c *caller) awaitTone(t *testing.T, what string, freq float64, want, from int) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		if got := toneWindows(decode(c.packets(from)), freq); got >= want {
			return
		}
		select {
		case <-c.changed:
		case <-deadline:
			got := toneWindows(decode(c.packets(from)), freq)
			t.Fatalf("%s: the caller heard %d windows of 200 ms at %.0f Hz, want %d", what, got, freq, want)
		}
	}
}

// awaitDTMF waits for an RFC 4733 event of the caller's payload type.
func (c *caller) awaitDTMF(t *testing.T, from int) byte {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		for _, p := range c.packets(from) {
			if p.PayloadType == 101 && len(p.Payload) >= 4 {
				return p.Payload[0]
			}
		}
		select {
		case <-c.changed:
		case <-deadline:
			t.Fatal("the caller got no telephone-event")
		}
	}
}

// decode turns received PCMU packets into samples, in arrival order.
func decode(pkts []rtp.Packet) []int16 {
	var out []int16
	for _, p := range pkts {
		if p.PayloadType == 0 {
			out = media.PCMU.Decode(out, p.Payload)
		}
	}
	return out
}

func sine(freq float64, d time.Duration) []int16 {
	n := int(d.Seconds() * media.SampleRate)
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(8000 * math.Sin(2*math.Pi*freq*float64(i)/media.SampleRate))
	}
	return s
}

// toneWindows counts the 200 ms windows of s that are loud and whose
// energy is mostly at freq.
func toneWindows(s []int16, freq float64) int {
	const w = media.SampleRate / 5
	n := 0
	for i := 0; i+w <= len(s); i += w {
		if share(s[i:i+w], freq) > 0.5 {
			n++
		}
	}
	return n
}

// share is the part of a window's energy at freq (a Goertzel filter),
// 0 for a quiet window.
func share(s []int16, freq float64) float64 {
	var total float64
	for _, v := range s {
		total += float64(v) * float64(v)
	}
	if total/float64(len(s)) < 200*200 {
		return 0
	}
	coeff := 2 * math.Cos(2*math.Pi*freq/media.SampleRate)
	var q1, q2 float64
	for _, v := range s {
		q1, q2 = coeff*q1-q2+float64(v), q1
	}
	power := q1*q1 + q2*q2 - coeff*q1*q2
	return power / (total * float64(len(s)) / 2)
}
