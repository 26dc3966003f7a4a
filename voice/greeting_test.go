package voice_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/morozhq/moroz/sip/media"
	"github.com/morozhq/moroz/voice"
	"github.com/morozhq/moroz/voice/voicetest"
	"github.com/morozhq/moroz/work"
)

func greetingLine(o *voice.Options) { o.GreetingNumber, o.GreetingPIN = "*99", "4321" }

func TestGreetingByPhone(t *testing.T) {
	tests := []struct {
		name   string
		keys   string // pressed in order
		speech time.Duration
		want   string        // prompt file written, "" for none
		length time.Duration // its length
	}{
		{name: "greeting", keys: "4321#1", speech: 3 * time.Second, want: "greeting.wav", length: 3 * time.Second},
		{name: "after hours", keys: "4321#2", speech: 2 * time.Second, want: "after-hours.wav", length: 2 * time.Second},
		{name: "second try", keys: "1111#4321#1", speech: 2 * time.Second, want: "greeting.wav", length: 2 * time.Second},
		{name: "three wrong pins", keys: "1#2#3#4321#1", speech: 2 * time.Second},
		{name: "unknown choice", keys: "4321#7", speech: 2 * time.Second},
		{name: "too short", keys: "4321#1", speech: 300 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, nil, greetingLine)
			dir := filepath.Join(s.dir, "prompts", work.QueueCalls, voice.DefaultLang)
			os.Remove(filepath.Join(dir, "greeting.wav")) // the harness's short prompt
			c := voicetest.NewCall("rec-1", "boss", "*99")
			c.Speech = sine(350, tt.speech)
			c.OnRecord = func() { c.Press('#') }
			for _, k := range tt.keys {
				c.Press(k)
			}
			s.flow.Handle(t.Context(), c)

			files, _ := filepath.Glob(filepath.Join(dir, "*.wav"))
			var names []string
			for _, f := range files {
				names = append(names, filepath.Base(f))
			}
			if tt.want == "" {
				if len(names) != 0 {
					t.Errorf("prompts written: got %v, want none", names)
				}
				return
			}
			if len(names) != 1 || names[0] != tt.want {
				t.Fatalf("prompts written: got %v, want [%s]", names, tt.want)
			}
			clip, err := media.LoadWAV(files[0])
			if err != nil {
				t.Fatal(err)
			}
			if got := time.Duration(len(clip.Samples())) * time.Second / media.SampleRate; got != tt.length {
				t.Errorf("recorded: got %v, want %v", got, tt.length)
			}
			if _, err := s.st.Call(t.Context(), c.ID()); err == nil {
				t.Error("the greeting line left a call record, want none: it is no caller's call")
			}
		})
	}
}
