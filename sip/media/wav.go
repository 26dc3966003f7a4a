package media

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-audio/audio"
	"github.com/go-audio/wav"
)

// Clip is decoded audio held in memory: mono, 8 kHz, 16-bit linear PCM.
// A Clip is immutable and safe to share between any number of legs.
type Clip struct {
	samples []int16
}

// ErrWAVFormat is wrapped by LoadWAV when a file is not mono 8 kHz 16-bit PCM.
var ErrWAVFormat = errors.New("want mono 8000 Hz 16-bit PCM")

// LoadWAV reads a WAV file into a Clip. Anything but mono 8000 Hz 16-bit
// PCM is refused with an error wrapping ErrWAVFormat that says what the
// file holds, so a bad prompt is caught when it is loaded, not mid-call.
func LoadWAV(path string) (*Clip, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load wav %s: %w", path, err)
	}
	defer f.Close()

	d := wav.NewDecoder(f)
	if !d.IsValidFile() {
		return nil, fmt.Errorf("load wav %s: not a wav file", path)
	}
	if d.WavAudioFormat != 1 || d.NumChans != 1 || d.SampleRate != SampleRate || d.BitDepth != 16 {
		return nil, fmt.Errorf("load wav %s: %w, got format %d, %d channels, %d Hz, %d-bit",
			path, ErrWAVFormat, d.WavAudioFormat, d.NumChans, d.SampleRate, d.BitDepth)
	}
	buf, err := d.FullPCMBuffer()
	if err != nil {
		return nil, fmt.Errorf("load wav %s: read samples: %w", path, err)
	}
	samples := make([]int16, len(buf.Data))
	for i, v := range buf.Data {
		samples[i] = int16(v)
	}
	return &Clip{samples: samples}, nil
}

// NewClip makes a Clip from linear samples at SampleRate; it copies them.
func NewClip(samples []int16) *Clip {
	return &Clip{samples: append([]int16(nil), samples...)}
}

// Samples returns the clip's samples; callers must not modify them.
func (c *Clip) Samples() []int16 { return c.samples }

// WriteWAV writes mono 8 kHz 16-bit samples to path safely: into a
// temporary file in the same folder, synced, then renamed over path, so a
// reader never sees a half-written file.
func WriteWAV(path string, samples []int16) error {
	w, err := CreateWAV(path)
	if err != nil {
		return err
	}
	if err := w.Write(samples); err != nil {
		w.Abort()
		return err
	}
	return w.Commit()
}

// WAVWriter streams samples into a temporary WAV file that Commit moves to
// its final path. It is not safe for concurrent use.
type WAVWriter struct {
	path    string
	tmp     *os.File
	enc     *wav.Encoder
	buf     audio.IntBuffer
	samples int
}

// CreateWAV starts a WAV file that will appear at path on Commit.
func CreateWAV(path string) (*WAVWriter, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("create wav %s: %w", path, err)
	}
	w := &WAVWriter{path: path, tmp: tmp}
	w.enc = wav.NewEncoder(tmp, SampleRate, 16, 1, 1)
	w.buf.Format = &audio.Format{NumChannels: 1, SampleRate: SampleRate}
	w.buf.SourceBitDepth = 16
	return w, nil
}

// Write appends samples to the file.
func (w *WAVWriter) Write(samples []int16) error {
	if len(samples) == 0 {
		return nil
	}
	w.buf.Data = w.buf.Data[:0]
	for _, s := range samples {
		w.buf.Data = append(w.buf.Data, int(s))
	}
	if err := w.enc.Write(&w.buf); err != nil {
		return fmt.Errorf("write wav %s: %w", w.path, err)
	}
	w.samples += len(samples)
	return nil
}

// Samples returns how many samples were written so far.
func (w *WAVWriter) Samples() int { return w.samples }

// Commit finishes the header, syncs the file to disk and renames it to its
// final path.
func (w *WAVWriter) Commit() error {
	if w.samples == 0 {
		// The encoder writes its header with the first buffer; an empty
		// recording still has to be a valid file.
		w.buf.Data = w.buf.Data[:0]
		if err := w.enc.Write(&w.buf); err != nil {
			w.Abort()
			return fmt.Errorf("write wav %s: header: %w", w.path, err)
		}
	}
	if err := w.enc.Close(); err != nil {
		w.Abort()
		return fmt.Errorf("write wav %s: finish: %w", w.path, err)
	}
	if err := w.tmp.Sync(); err != nil {
		w.Abort()
		return fmt.Errorf("write wav %s: sync: %w", w.path, err)
	}
	if err := w.tmp.Close(); err != nil {
		os.Remove(w.tmp.Name())
		return fmt.Errorf("write wav %s: close: %w", w.path, err)
	}
	if err := os.Rename(w.tmp.Name(), w.path); err != nil {
		os.Remove(w.tmp.Name())
		return fmt.Errorf("write wav %s: rename: %w", w.path, err)
	}
	return syncDir(filepath.Dir(w.path))
}

// Abort discards the temporary file.
func (w *WAVWriter) Abort() {
	w.tmp.Close()
	os.Remove(w.tmp.Name())
}

// syncDir makes a rename durable on file systems that need the folder synced.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}
