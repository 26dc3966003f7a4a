package node

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/logging"
	"github.com/morozhq/moroz/sip"
	"github.com/morozhq/moroz/sip/media"
	"github.com/morozhq/moroz/softphone"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/work"
)

// A call a helper answers on their registered desk phone (baresip,
// answering at once) is one of the wallboard's live calls, marked a desk
// phone's, while it is bridged, and leaves the list when it ends: the
// node's wiring of voice.Options.Talking to softphone.Phone.AddDeskCall.
// The monitoring itself is softphone's TestSupervisorMonitorsDeskPhoneCall.
func TestDeskPhoneCallIsALiveCall(t *testing.T) {
	sippBin, err := exec.LookPath("sipp")
	if err != nil {
		if os.Getenv("MOROZ_REQUIRE_PEERS") == "1" {
			t.Fatal("sipp not found and MOROZ_REQUIRE_PEERS=1: install Debian's sip-tester")
		}
		t.Skip("sipp not found: install Debian's sip-tester to run this test")
	}
	n, err := New(context.Background(), testConfig(t), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	u, err := n.store.CreateUser(ctx, store.User{Login: "elf", Name: "elf", Role: store.RoleHelper})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.store.PutHelper(ctx, store.Helper{UserID: u.ID, Queues: []string{work.QueueCalls}, Extension: "201",
		SIPHA1: sip.HA1("201", n.cfg.SIP.Realm, "desk-secret")}); err != nil {
		t.Fatal(err)
	}
	answeringDesk(t, "<sip:201@"+n.Addr("sip")+">;auth_pass=desk-secret;regint=60;answermode=auto")
	waitFor(t, func() bool { return len(n.sip.Locations("201")) > 0 })
	if err := n.Work().SetStatus(ctx, u.ID, acd.StatusAvailable, ""); err != nil {
		t.Fatal(err)
	}

	scen, err := filepath.Abs(filepath.Join("..", "voice", "testdata", "sipp", "answer.xml"))
	if err != nil {
		t.Fatal(err)
	}
	sink, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	_, rtpPort, _ := net.SplitHostPort(sink.LocalAddr().String())
	cmd := exec.Command(sippBin, "-sf", scen, "-m", "1", "-i", "127.0.0.1", "-p", freeUDPPort(t),
		"-set", "rtp_ip", "127.0.0.1", "-set", "rtp_port", rtpPort, "-set", "caller", "+79990000010",
		"-timeout", "40s", "-timeout_error", "-nostdin", n.Addr("sip"))
	cmd.Dir = t.TempDir()
	caller := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { caller <- cmd.Wait() }()

	desk := func() []softphone.LiveCall {
		var out []softphone.LiveCall
		for _, lc := range n.phone.LiveCalls(ctx) {
			if lc.Desk {
				out = append(out, lc)
			}
		}
		return out
	}
	waitFor(t, func() bool { return len(desk()) == 1 })
	lc := desk()[0]
	if lc.Helper != u.ID || !strings.Contains(lc.From, "79990000010") || lc.Queue != work.QueueCalls || lc.Monitor != nil {
		t.Errorf("the desk call on the wallboard: got %+v, want elf's call from +79990000010 in %s, unmonitored", lc, work.QueueCalls)
	}
	if err := <-caller; err != nil {
		t.Fatalf("sipp: %v", err)
	}
	waitFor(t, func() bool { return len(desk()) == 0 })
}

// answeringDesk starts baresip registering account from 127.0.0.1 with
// an audio source (a tone file), so that it can answer calls, until the
// test ends.
func answeringDesk(t *testing.T, account string) {
	t.Helper()
	dir := t.TempDir()
	tone := make([]int16, 30*media.SampleRate)
	for i := range tone {
		tone[i] = int16(4000 * (i % 20) / 10) // a loud enough sawtooth
	}
	if err := media.WriteWAV(filepath.Join(dir, "tone.wav"), tone); err != nil {
		t.Fatal(err)
	}
	baresip(t, account, "module aufile.so", "module aubridge.so",
		"audio_player aubridge,nil", "audio_alert aubridge,nil",
		"audio_source aufile,"+filepath.Join(dir, "tone.wav"))
}
