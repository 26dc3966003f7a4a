package voice_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-audio/wav"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/internal/baresiptest"
	"github.com/morozhq/moroz/sip/media"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/voice"
)

// toneHz is what the helper's desk phone sends and callerHz what the
// caller says; no prompt of the tests (440 Hz) or the hold tune is near
// either.
const (
	toneHz   = 1000
	callerHz = 600
)

// deskPhone runs baresip as a helper's desk phone on loopback: it answers
// every call at once, sends a toneHz tone and dumps what it hears (the
// sndfile filter) into its folder. It returns the phone's SIP URI and the
// folder.
func deskPhone(t *testing.T) (uri, dir string) {
	t.Helper()
	uri, dir, _ = deskPhoneAccount(t, "<sip:helper@127.0.0.1>;regint=0;answermode=auto")
	return uri, dir
}

// deskPhoneAccount is deskPhone with baresip's account line account
// (its port, for one that registers, is the returned SIP port). It
// returns the phone's SIP URI, folder and port.
func deskPhoneAccount(t *testing.T, account string) (uri, dir, port string) {
	t.Helper()
	dir = t.TempDir()
	if err := media.WriteWAV(filepath.Join(dir, "tone.wav"), sine(toneHz, 60*time.Second)); err != nil {
		t.Fatal(err)
	}
	port = baresiptest.Start(t, dir, account,
		"module aufile.so", "module aubridge.so", "module sndfile.so",
		"audio_player aubridge,nil", "audio_alert aubridge,nil",
		"audio_source aufile,"+filepath.Join(dir, "tone.wav"),
		"snd_path "+dir)
	return fmt.Sprintf("sip:helper@127.0.0.1:%s", port), dir, port
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A caller waits, the router offers the call to a helper, Moroz rings the
// helper's desk phone (baresip), which answers: the caller hears the
// phone's tone and the phone hears the caller; the call record and the
// item say answered by that helper.
func TestDeskPhoneAnswersAndIsBridged(t *testing.T) {
	needPeer(t, "sipp", "sip-tester")
	type talking struct {
		call      string
		helper    int64
		bothMedia bool
	}
	talks, ends := make(chan talking, 4), make(chan string, 4)
	h := newHarness(t, func(o *voice.Options) {
		o.Talking = func(c voice.Call, helper int64, leg voice.Leg) func() {
			type withMedia interface{ Media() *media.Leg }
			cm, ok1 := c.(withMedia)
			lm, ok2 := leg.(withMedia)
			talks <- talking{c.ID(), helper, ok1 && ok2 && cm.Media() != nil && lm.Media() != nil && cm.Media() != lm.Media()}
			return func() { ends <- c.ID() }
		}
	})
	phone, phoneDir := deskPhone(t)
	helper := h.addHelper(t, "elf", phone, acd.StatusAvailable)
	sink := newSink(t)
	stop := sink.speak(h, callerHz)
	h.sipp(t, "answer.xml", "+79031234567", sink)
	id := h.awaitEnd(t)
	stop()

	checkBridged(t, h, id, helper, sink, phoneDir)
	// The flow told Talking of the bridge (what lists a desk-phone call
	// on the wallboard for monitoring) and of its end.
	select {
	case got := <-talks:
		if want := (talking{id, helper, true}); got != want {
			t.Errorf("Talking: got %+v, want %+v", got, want)
		}
	default:
		t.Error("Talking was not called for the bridged call")
	}
	select {
	case got := <-ends:
		if got != id {
			t.Errorf("Talking's end: got call %s, want %s", got, id)
		}
	case <-time.After(10 * time.Second): // a guard against hanging, not a speed check
		t.Error("Talking's end was not called after the call ended")
	}
}

// checkBridged checks that call id was answered by helper, that the
// caller (sink) heard the desk phone's tone and the phone (its folder
// phoneDir) the caller.
func checkBridged(t *testing.T, h *harness, id string, helper int64, sink *rtpSink, phoneDir string) {
	t.Helper()
	rec, err := h.st.Call(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("call %s: enqueued after %v, connected after %v, ended after %v", id, rec.EnqueuedAt.Sub(rec.ArrivedAt),
		rec.ConnectedAt.Sub(rec.ArrivedAt), rec.EndedAt.Sub(rec.ArrivedAt))
	if rec.Outcome != acd.OutcomeAnswered || rec.HelperID != helper || rec.ConnectedAt.IsZero() || rec.Reason != "" {
		t.Errorf("call record: got outcome %q helper %d connected %v reason %q, want answered by %d",
			rec.Outcome, rec.HelperID, rec.ConnectedAt, rec.Reason, helper)
	}
	// The item's outcome is the router's event, which the persister
	// stores after the flow has returned: wait for it (the deadline only
	// stops a hung test).
	var it store.Item
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if it, err = h.st.Item(context.Background(), rec.ItemID); err != nil {
			t.Fatal(err)
		}
		if it.Outcome != acd.OutcomeNone || time.Now().After(deadline) {
			break
		}
	}
	if it.Outcome != acd.OutcomeAnswered {
		t.Errorf("call item: got outcome %q, want answered", it.Outcome)
	}

	heard := sink.samples(media.PCMA)
	if got := toneWindows(heard, toneHz); got < 10 {
		t.Errorf("caller's audio: got %d windows of 200 ms dominated by %d Hz, want at least 10 (2 s of the phone's tone)", got, toneHz)
	}
	phoneHeard := phoneDump(t, phoneDir)
	h.statsMu.Lock()
	t.Logf("caller's leg: %+v", h.legStats)
	h.statsMu.Unlock()
	if got := toneWindows(phoneHeard, callerHz); got < 10 {
		for i := 0; i+media.SampleRate <= len(phoneHeard); i += media.SampleRate {
			sec := phoneHeard[i : i+media.SampleRate]
			t.Logf("phone heard second %d: rms %.0f, %d Hz share %.2f, %d Hz share %.2f", i/media.SampleRate, rms(sec),
				callerHz, goertzel(sec, callerHz), toneHz, goertzel(sec, toneHz))
		}
		t.Errorf("phone's audio: got %d windows of 200 ms dominated by %d Hz, want at least 10 (2 s of the caller)", got, callerHz)
	}
	if got := toneWindows(phoneHeard, toneHz); got > 0 {
		t.Errorf("phone's audio: got %d windows of its own tone, want only the caller", got)
	}
}

// toneWindows counts the 200 ms windows of s whose energy is mostly at freq.
func toneWindows(s []int16, freq float64) int {
	const w = media.SampleRate / 5
	n := 0
	for i := 0; i+w <= len(s); i += w {
		if rms(s[i:i+w]) > 500 && goertzel(s[i:i+w], freq) > 0.6 {
			n++
		}
	}
	return n
}

// phoneDump reads what baresip decoded from Moroz (sndfile's *-dec.wav).
// baresip writes the WAV header's sizes when the call's stream closes,
// which may come just after Moroz's hang-up; until then the file reads
// empty, so it is read again for a few seconds.
func phoneDump(t *testing.T, dir string) []int16 {
	t.Helper()
	limit := time.After(5 * time.Second)
	for {
		if s := readDump(t, dir); len(s) > 0 {
			return s
		}
		select {
		case <-limit:
			t.Fatal("the phone's audio dump is still empty after 5 s")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func readDump(t *testing.T, dir string) []int16 {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "dump-*-dec.wav"))
	if len(files) == 0 {
		all, _ := os.ReadDir(dir)
		t.Fatalf("no decoded audio dump in the phone's folder: %v", all)
	}
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf, err := wav.NewDecoder(f).FullPCMBuffer()
	if err != nil {
		return nil // the header is not written yet
	}
	out := make([]int16, len(buf.Data))
	for i, v := range buf.Data {
		out[i] = int16(v)
	}
	return out
}
