package sip

import (
	"context"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/morozhq/moroz/sip/media"
	"github.com/pion/rtp"
)

// pcapDir holds the RTP captures Debian's sip-tester ships.
func pcapDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("MOROZ_SIPP_PCAP_DIR")
	if dir == "" {
		dir = "/usr/share/sip-tester"
	}
	if _, err := os.Stat(filepath.Join(dir, "g711a.pcap")); err != nil {
		if os.Getenv("MOROZ_REQUIRE_PEERS") == "1" {
			t.Fatalf("sipp pcap files not found in %s (set MOROZ_SIPP_PCAP_DIR)", dir)
		}
		t.Skipf("sipp pcap files not found in %s (set MOROZ_SIPP_PCAP_DIR)", dir)
	}
	return dir
}

// sippWorkdir makes the folder SIPp runs in, with pcap/ pointing at the captures.
func sippWorkdir(t *testing.T) string {
	t.Helper()
	src := pcapDir(t)
	dir := t.TempDir()
	pc := filepath.Join(dir, "pcap")
	if err := os.Mkdir(pc, 0o755); err != nil {
		t.Fatal(err)
	}
	links := map[string]string{"caller.pcap": "g711a.pcap", "dtmf.pcap": "dtmf_2833_1.pcap",
		"g711a.pcap": "g711a.pcap", "dtmf_2833_1.pcap": "dtmf_2833_1.pcap"} // the last two for -sn uac_pcap
	for name, from := range links {
		if err := os.Symlink(filepath.Join(src, from), filepath.Join(pc, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runSipp(t *testing.T, dir string, args ...string) {
	t.Helper()
	sipp := needPeer(t, "sipp")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, sipp, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sipp %v: %v\n%s", args, err, tail(out, 3000))
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// rtpSink collects RTP payloads sent to it until closed.
type rtpSink struct {
	conn *net.UDPConn
	mu   sync.Mutex
	pkts []rtp.Packet // guarded by mu
	wg   sync.WaitGroup
}

func newRTPSink(t *testing.T) *rtpSink {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := &rtpSink{conn: conn}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		buf := make([]byte, 1500)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			var p rtp.Packet
			if p.Unmarshal(buf[:n]) == nil {
				p.Payload = append([]byte(nil), p.Payload...)
				s.mu.Lock()
				s.pkts = append(s.pkts, p)
				s.mu.Unlock()
			}
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *rtpSink) port() int { return s.conn.LocalAddr().(*net.UDPAddr).Port }

func (s *rtpSink) close() {
	s.conn.Close()
	s.wg.Wait()
}

func (s *rtpSink) packets() []rtp.Packet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]rtp.Packet(nil), s.pkts...)
}

func sine(freq float64, d time.Duration) *media.Clip {
	n := int(d * media.SampleRate / time.Second)
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(10000 * math.Sin(2*math.Pi*freq*float64(i)/media.SampleRate))
	}
	return media.NewClip(s)
}

// zeroCrossingFreq estimates the main frequency of a tone.
func zeroCrossingFreq(s []int16) float64 {
	n := 0
	for i := 1; i < len(s); i++ {
		if (s[i-1] < 0) != (s[i] < 0) {
			n++
		}
	}
	return float64(n) / 2 / (float64(len(s)) / media.SampleRate)
}

func rms(s []int16) float64 {
	var sum float64
	for _, v := range s {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(max(1, len(s))))
}

// callResult is what the test handler saw of one call.
type callResult struct {
	digits []rune
	rec    media.RecordInfo
	recErr error
	cause  Cause
}

func TestSippCallerGreetingRecordingAndDTMF(t *testing.T) {
	dir := sippWorkdir(t)
	sink := newRTPSink(t)
	recPath := filepath.Join(t.TempDir(), "caller.wav")
	results := make(chan callResult, 1)

	srv := testServer(t, func(ctx context.Context, c *Call) {
		var r callResult
		if err := c.Ring(); err != nil {
			t.Errorf("ring: %v", err)
		}
		if err := c.Answer(); err != nil {
			t.Errorf("answer: %v", err)
			return
		}
		if err := c.Play(ctx, sine(440, 600*time.Millisecond).Once()); err != nil {
			t.Errorf("play greeting: %v", err)
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case d := <-c.DTMF():
					r.digits = append(r.digits, d.Digit)
				case <-c.Done():
					return
				}
			}
		}()
		r.rec, r.recErr = c.Record(ctx, recPath, time.Minute)
		wg.Wait()
		r.cause = c.Cause()
		results <- r
	})

	runSipp(t, dir, "-sf", scenario(t, "caller.xml"), "-m", "1", "-i", "127.0.0.1", "-p", fmt.Sprint(freeUDPPort(t)),
		"-set", "rtp_ip", "127.0.0.1", "-set", "rtp_port", fmt.Sprint(sink.port()),
		"-timeout", "30s", "-timeout_error", "-nostdin",
		srv.UDPAddr().String())

	r := <-results
	sink.close()
	greeting := decodeAll(sink.packets(), media.PCMA)
	if len(greeting) < media.SampleRate/4 {
		t.Fatalf("greeting: received %d samples at the SDP address, want at least %d", len(greeting), media.SampleRate/4)
	}
	if f := zeroCrossingFreq(greeting); math.Abs(f-440) > 20 {
		t.Errorf("greeting tone: got %.0f Hz, want 440 Hz", f)
	}
	if r.recErr != nil {
		t.Fatalf("record: %v", r.recErr)
	}
	if r.rec.Duration < 2*time.Second {
		t.Errorf("recording: got %v, want at least 2s of the caller's audio", r.rec.Duration)
	}
	clip, err := media.LoadWAV(recPath)
	if err != nil {
		t.Fatalf("load recording: %v", err)
	}
	if e := rms(clip.Samples()); e < 200 {
		t.Errorf("recording rms: got %.0f, want speech energy above 200", e)
	}
	if string(r.digits) != "1" {
		t.Errorf("dtmf: got %q, want \"1\"", string(r.digits))
	}
	if r.cause != CauseCallerHangup {
		t.Errorf("cause: got %q, want %q", r.cause, CauseCallerHangup)
	}
}

// freeUDPPort finds a port for SIPp, which takes 0 to mean its default 5060.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func scenario(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "sipp", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func decodeAll(pkts []rtp.Packet, c media.Codec) []int16 {
	var out []int16
	for _, p := range pkts {
		if p.PayloadType == c.PayloadType {
			out = c.Decode(out, p.Payload)
		}
	}
	return out
}

// TestSippUacPcapIsRecorded runs SIPp's built-in uac_pcap scenario: about
// 8 s of G.711 A-law speech and an RFC 4733 '1', then BYE.
func TestSippUacPcapIsRecorded(t *testing.T) {
	if testing.Short() {
		t.Skip("uac_pcap plays 9 s of audio")
	}
	dir := sippWorkdir(t)
	recPath := filepath.Join(t.TempDir(), "uac_pcap.wav")
	results := make(chan callResult, 1)
	srv := testServer(t, func(ctx context.Context, c *Call) {
		var r callResult
		if err := c.Answer(); err != nil {
			t.Errorf("answer: %v", err)
			return
		}
		digits := make(chan []rune, 1)
		go func() {
			var ds []rune
			for {
				select {
				case d := <-c.DTMF():
					ds = append(ds, d.Digit)
				case <-c.Done():
					digits <- ds
					return
				}
			}
		}()
		r.rec, r.recErr = c.Record(ctx, recPath, time.Minute)
		r.digits = <-digits
		results <- r
	})
	runSipp(t, dir, "-sn", "uac_pcap", "-m", "1", "-i", "127.0.0.1", "-p", fmt.Sprint(freeUDPPort(t)),
		"-timeout", "40s", "-timeout_error", "-nostdin", srv.UDPAddr().String())

	r := <-results
	if r.recErr != nil {
		t.Fatalf("record: %v", r.recErr)
	}
	if r.rec.Duration < 6*time.Second {
		t.Errorf("recording: got %v, want most of the 8 s SIPp played", r.rec.Duration)
	}
	clip, err := media.LoadWAV(recPath)
	if err != nil {
		t.Fatalf("load recording: %v", err)
	}
	if e := rms(clip.Samples()); e < 200 {
		t.Errorf("recording rms: got %.0f, want speech energy above 200", e)
	}
	if string(r.digits) != "1" {
		t.Errorf("dtmf: got %q, want \"1\"", string(r.digits))
	}
}
