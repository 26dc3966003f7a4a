package voice_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/morozhq/moroz/sip/media"
	"github.com/morozhq/moroz/voice"
)

// Every prompt the flow plays ships in every language.
func TestShippedPromptsAreComplete(t *testing.T) {
	p := voice.NewPrompts("")
	if err := p.Validate([]string{"calls"}, []string{"ru", "be", "en"}); err != nil {
		t.Fatal(err)
	}
}

func TestPromptOverrides(t *testing.T) {
	dir := t.TempDir()
	put := func(rel string, d time.Duration) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := media.WriteWAV(p, make([]int16, int(d*media.SampleRate/time.Second))); err != nil {
			t.Fatal(err)
		}
	}
	put("calls/ru/greeting.wav", 100*time.Millisecond)
	put("ru/greeting.wav", 200*time.Millisecond)
	put("be/menu.wav", 300*time.Millisecond)
	shipped := voice.NewPrompts("")
	p := voice.NewPrompts(dir)

	length := func(c *media.Clip) time.Duration {
		return time.Duration(len(c.Samples())) * time.Second / media.SampleRate
	}
	shippedLen := func(queue, lang, name string) time.Duration {
		c, err := shipped.Clip(queue, lang, name)
		if err != nil {
			t.Fatal(err)
		}
		return length(c)
	}
	tests := []struct {
		name, queue, lang, prompt string
		want                      time.Duration
	}{
		{name: "queue's own", queue: "calls", lang: "ru", prompt: "greeting", want: 100 * time.Millisecond},
		{name: "every queue's", queue: "letters", lang: "ru", prompt: "greeting", want: 200 * time.Millisecond},
		{name: "language override", queue: "calls", lang: "be", prompt: "menu", want: 300 * time.Millisecond},
		{name: "shipped", queue: "calls", lang: "en", prompt: "menu", want: shippedLen("", "en", "menu")},
		{name: "unknown language falls back", queue: "calls", lang: "fr", prompt: "menu", want: shippedLen("", "ru", "menu")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := p.Clip(tt.queue, tt.lang, tt.prompt)
			if err != nil {
				t.Fatal(err)
			}
			if got := length(c); got != tt.want {
				t.Errorf("length: got %v, want %v", got, tt.want)
			}
		})
	}

	t.Run("replaced file is reloaded", func(t *testing.T) {
		put("calls/ru/greeting.wav", 400*time.Millisecond)
		later := time.Now().Add(time.Hour)
		os.Chtimes(filepath.Join(dir, "calls", "ru", "greeting.wav"), later, later)
		c, err := p.Clip("calls", "ru", "greeting")
		if err != nil {
			t.Fatal(err)
		}
		if got := length(c); got != 400*time.Millisecond {
			t.Errorf("length: got %v, want the new file's 400ms", got)
		}
	})
	t.Run("bad override is an error", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(dir, "be", "saved.wav"), []byte("not a wav"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Clip("calls", "be", "saved"); err == nil {
			t.Error("clip: got no error for a broken file")
		}
	})
	t.Run("unknown prompt", func(t *testing.T) {
		if _, err := p.Clip("calls", "ru", "nope"); !errors.Is(err, voice.ErrNoPrompt) {
			t.Errorf("clip: got %v, want ErrNoPrompt", err)
		}
	})
}

func TestMinutesWord(t *testing.T) {
	tests := []struct {
		lang string
		n    int
		want string
	}{
		{"ru", 1, "minutes-one"}, {"ru", 2, "minutes-few"}, {"ru", 4, "minutes-few"}, {"ru", 5, "minutes-many"},
		{"ru", 11, "minutes-many"}, {"ru", 12, "minutes-many"}, {"ru", 21, "minutes-one"}, {"ru", 22, "minutes-few"},
		{"be", 3, "minutes-few"}, {"be", 15, "minutes-many"},
		{"en", 1, "minutes-one"}, {"en", 2, "minutes-many"}, {"en", 20, "minutes-many"},
	}
	for _, tt := range tests {
		t.Run(tt.lang+"/"+itoa(tt.n), func(t *testing.T) {
			if got := voice.MinutesWord(tt.lang, tt.n); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDecodeWAVRefusesOtherFormats(t *testing.T) {
	f, err := os.Open(filepath.Join("prompts", "hold.wav"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := voice.DecodeWAV(f); err != nil {
		t.Fatalf("shipped hold tune: %v", err)
	}
	bad, err := os.CreateTemp(t.TempDir(), "*.wav")
	if err != nil {
		t.Fatal(err)
	}
	// A 16 kHz file: the header says so; DecodeWAV must refuse it.
	hdr := []byte("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80\x3e\x00\x00\x00\x7d\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00")
	bad.Write(hdr)
	bad.Seek(0, 0)
	if _, err := voice.DecodeWAV(bad); !errors.Is(err, media.ErrWAVFormat) {
		t.Errorf("16 kHz file: got %v, want ErrWAVFormat", err)
	}
}

func TestSequencePlaysEachClipOnce(t *testing.T) {
	a := media.NewClip(make([]int16, media.FrameSamples*2)) // two frames
	b := media.NewClip(make([]int16, media.FrameSamples+1)) // one frame and a sample
	c := media.NewClip(nil)                                 // nothing
	tests := []struct {
		name  string
		clips []*media.Clip
		want  int
	}{
		{name: "none", want: 0},
		{name: "one", clips: []*media.Clip{a}, want: 2},
		{name: "padded", clips: []*media.Clip{a, b}, want: 4},
		{name: "empty in between", clips: []*media.Clip{a, c, b}, want: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := voice.Sequence(tt.clips...)
			frame := make([]int16, media.FrameSamples)
			got := 0
			for src.ReadFrame(frame) && got < 100 {
				got++
			}
			if got != tt.want {
				t.Errorf("frames: got %d, want %d", got, tt.want)
			}
		})
	}
}
