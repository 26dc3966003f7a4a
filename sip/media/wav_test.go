package media

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-audio/audio"
	"github.com/go-audio/wav"
	"github.com/google/go-cmp/cmp"
)

func writeTestWAV(t *testing.T, rate, bits, chans int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.wav")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	enc := wav.NewEncoder(f, rate, bits, chans, 1)
	buf := &audio.IntBuffer{Format: &audio.Format{NumChannels: chans, SampleRate: rate}, SourceBitDepth: bits, Data: make([]int, 160*chans)}
	if err := enc.Write(buf); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return path
}

func TestLoadWAVRefusesOtherFormats(t *testing.T) {
	tests := []struct {
		name              string
		rate, bits, chans int
	}{
		{"stereo", 8000, 16, 2},
		{"16 kHz", 16000, 16, 1},
		{"8-bit", 8000, 8, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadWAV(writeTestWAV(t, tt.rate, tt.bits, tt.chans))
			if !errors.Is(err, ErrWAVFormat) {
				t.Errorf("load: got %v, want ErrWAVFormat", err)
			}
		})
	}
}

func TestLoadWAVNotAWAV(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.wav")
	os.WriteFile(path, []byte("hello, not riff"), 0o600)
	if _, err := LoadWAV(path); err == nil {
		t.Error("load of a text file: got nil error")
	}
}

func TestWriteWAVRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.wav")
	want := tone(700, 800)
	if err := WriteWAV(path, want); err != nil {
		t.Fatal(err)
	}
	clip, err := LoadWAV(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, clip.Samples()); diff != "" {
		t.Errorf("samples (-want +got):\n%s", diff)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*.tmp"))
	if len(left) != 0 {
		t.Errorf("temp files left behind: %v", left)
	}
}

func TestClipSources(t *testing.T) {
	c := NewClip(tone(400, 250))
	frame := make([]int16, FrameSamples)
	once := c.Once()
	n := 0
	for once.ReadFrame(frame) {
		n++
	}
	if n != 2 {
		t.Errorf("once: got %d frames, want 2", n)
	}
	loop := c.Loop()
	for range 10 {
		if !loop.ReadFrame(frame) {
			t.Fatal("loop ended")
		}
	}
}
