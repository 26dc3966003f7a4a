package voice_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/voice"
	"github.com/morozhq/moroz/voice/voicetest"
	"github.com/morozhq/moroz/work"
)

// The queue's max wait passing sends the caller to voicemail; under
// synctest the ten minutes pass at once.
func TestMaxWaitTakesMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newStack(t, []acd.QueueConfig{{Name: work.QueueCalls, MaxWait: 10 * time.Minute}, {Name: work.QueueCallbacks}})
		s.helper(t, "elf", "", acd.StatusAway)
		c := voicetest.NewCall("call-m", "+79990000003", "ded")
		c.Speech = sine(300, 3*time.Second)
		c.OnRecord = func() { c.Hangup() }
		start := time.Now()
		rec := s.run(c)
		if rec.Reason != voice.ReasonMaxWait || rec.Outcome != acd.OutcomeVoicemail {
			t.Errorf("call record: got reason %q outcome %q, want %q voicemail", rec.Reason, rec.Outcome, voice.ReasonMaxWait)
		}
		if waited := time.Since(start); waited < 10*time.Minute {
			t.Errorf("waited %v before voicemail, want the queue's max wait of 10m", waited)
		}
		if got := s.awaitClosed(t, rec.ItemID); got != acd.OutcomeVoicemail {
			t.Errorf("call item outcome: got %q, want voicemail", got)
		}
	})
}

// A phone that rings out is the router's RONA: the offer times out, the
// ring is cancelled, and the call waits on.
func TestRingingOutIsRONA(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newStack(t, nil)
		elf := s.helper(t, "elf", "sip:elf@silent", acd.StatusAvailable) // not scripted: rings forever
		timedOut := make(chan struct{})
		stop := s.work.Listen(func(e acd.Event) {
			if e.Type == acd.EventTimedOut && e.HelperID == elf {
				select {
				case <-timedOut:
				default:
					close(timedOut)
				}
			}
		})
		defer stop()
		c := voicetest.NewCall("call-n", "+79990000004", "ded")
		go func() {
			<-timedOut
			c.Hangup()
		}()
		rec := s.run(c)
		if rec.Reason != voice.ReasonAbandoned || rec.HelperID != 0 {
			t.Errorf("call record: got reason %q helper %d, want abandoned without a helper", rec.Reason, rec.HelperID)
		}
		if got := s.dialer.Dials(); len(got) == 0 || got[0] != "sip:elf@silent" {
			t.Errorf("dials: got %v, want the elf's phone rung", got)
		}
		info, ok := s.work.Router().Helper(elf)
		if !ok || info.Counters.Missed != 1 {
			t.Errorf("helper's missed offers: got %+v, want 1", info.Counters)
		}
	})
}
