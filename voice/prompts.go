package voice

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/go-audio/wav"

	"github.com/morozhq/moroz/sip/media"
)

//go:embed prompts/*.wav prompts/*/*.wav
var shipped embed.FS

// Prompt names. Each is a WAV file <lang>/<name>.wav (hold and beep have
// no language); voice/prompts/generate.sh makes the shipped ones.
const (
	PromptGreeting     = "greeting"      // welcome, stay on the line
	PromptAfterHours   = "after-hours"   // closed now, leave a message after the tone
	PromptPosition     = "position"      // "your place in the queue is", then a number
	PromptWait         = "wait"          // "your expected wait is", then minutes
	PromptMenu         = "menu"          // press 1 for voicemail, 2 for a callback
	PromptLeaveMessage = "leave-message" // leave a message after the tone
	PromptCallback     = "callback"      // we will call you back
	PromptSaved        = "saved"         // your message is recorded
	PromptHold         = "hold"          // the hold tune, looped
	PromptBeep         = "beep"          // the tone before recording
)

// MaxNumber is the largest number the shipped prompts can say; positions
// and minutes above it are said as MaxNumber.
const MaxNumber = 20

// DefaultLang is the language of prompts when a queue names none.
const DefaultLang = "ru"

// ErrNoPrompt is wrapped when no file holds a prompt in any language.
var ErrNoPrompt = errors.New("no such prompt")

// Prompts finds and caches the audio the flow plays. A file in the
// override folder (the data folder's prompts/, where the console uploads
// greetings) wins over the shipped one: first <queue>/<lang>/<name>.wav,
// then <lang>/<name>.wav, then the shipped <lang>/<name>.wav, then the same
// in DefaultLang. Its methods are safe for concurrent use.
type Prompts struct {
	dir string // override folder; "" for none

	mu    sync.Mutex
	cache map[string]cached // guarded by mu: by source path
}

type cached struct {
	clip *media.Clip
	mod  time.Time // the override file's modification time
}

// NewPrompts returns prompts overridable from dir ("" for the shipped
// ones only).
func NewPrompts(dir string) *Prompts {
	return &Prompts{dir: dir, cache: map[string]cached{}}
}

// Dir returns the override folder.
func (p *Prompts) Dir() string { return p.dir }

// Clip returns the prompt name for a queue and language.
func (p *Prompts) Clip(queue, lang, name string) (*media.Clip, error) {
	for _, rel := range candidates(queue, lang, name) {
		if c, ok, err := p.override(rel); ok || err != nil {
			return c, err
		}
		if c, ok, err := p.embedded(rel); ok || err != nil {
			return c, err
		}
	}
	return nil, fmt.Errorf("prompt %s/%s/%s: %w", queue, lang, name, ErrNoPrompt)
}

// candidates lists the relative paths that may hold a prompt, best first.
func candidates(queue, lang, name string) []string {
	file := name + ".wav"
	var out []string
	for _, l := range []string{lang, DefaultLang, "en"} {
		if l == "" {
			continue
		}
		if queue != "" {
			out = append(out, path.Join(queue, l, file))
		}
		out = append(out, path.Join(l, file))
	}
	if queue != "" {
		out = append(out, path.Join(queue, file))
	}
	return append(out, file)
}

// override loads rel from the override folder if it is there; a file that
// changed since it was cached is loaded again.
func (p *Prompts) override(rel string) (*media.Clip, bool, error) {
	if p.dir == "" || !fs.ValidPath(rel) {
		return nil, false, nil
	}
	full := filepath.Join(p.dir, filepath.FromSlash(rel))
	fi, err := os.Stat(full)
	if err != nil {
		return nil, false, nil
	}
	key := "dir:" + rel
	p.mu.Lock()
	c, ok := p.cache[key]
	p.mu.Unlock()
	if ok && c.mod.Equal(fi.ModTime()) {
		return c.clip, true, nil
	}
	clip, err := media.LoadWAV(full)
	if err != nil {
		return nil, true, err
	}
	p.store(key, cached{clip: clip, mod: fi.ModTime()})
	return clip, true, nil
}

func (p *Prompts) embedded(rel string) (*media.Clip, bool, error) {
	key := "embed:" + rel
	p.mu.Lock()
	c, ok := p.cache[key]
	p.mu.Unlock()
	if ok {
		return c.clip, true, nil
	}
	b, err := shipped.ReadFile("prompts/" + rel)
	if err != nil {
		return nil, false, nil
	}
	clip, err := DecodeWAV(bytes.NewReader(b))
	if err != nil {
		return nil, true, fmt.Errorf("shipped prompt %s: %w", rel, err)
	}
	p.store(key, cached{clip: clip})
	return clip, true, nil
}

func (p *Prompts) store(key string, c cached) {
	p.mu.Lock()
	p.cache[key] = c
	p.mu.Unlock()
}

// DecodeWAV reads a mono 8 kHz 16-bit PCM WAV into a clip; anything else
// is refused with an error wrapping media.ErrWAVFormat.
func DecodeWAV(r io.ReadSeeker) (*media.Clip, error) {
	d := wav.NewDecoder(r)
	if !d.IsValidFile() {
		return nil, errors.New("decode wav: not a wav file")
	}
	if d.WavAudioFormat != 1 || d.NumChans != 1 || d.SampleRate != media.SampleRate || d.BitDepth != 16 {
		return nil, fmt.Errorf("decode wav: %w, got format %d, %d channels, %d Hz, %d-bit",
			media.ErrWAVFormat, d.WavAudioFormat, d.NumChans, d.SampleRate, d.BitDepth)
	}
	buf, err := d.FullPCMBuffer()
	if err != nil {
		return nil, fmt.Errorf("decode wav: %w", err)
	}
	samples := make([]int16, len(buf.Data))
	for i, v := range buf.Data {
		samples[i] = int16(v)
	}
	return media.NewClip(samples), nil
}

// Number returns the clips that say n (clamped to 1..MaxNumber) in lang;
// feminine picks the form that agrees with "minute" in Russian and
// Belarusian.
func (p *Prompts) Number(queue, lang string, n int, feminine bool) (*media.Clip, error) {
	n = min(max(n, 1), MaxNumber)
	if feminine && (n == 1 || n == 2) {
		if c, err := p.Clip(queue, lang, "n"+strconv.Itoa(n)+"f"); err == nil {
			return c, nil
		}
	}
	return p.Clip(queue, lang, "n"+strconv.Itoa(n))
}

// MinutesWord names the prompt for "minute(s)" after n in lang: Russian
// and Belarusian take one form after 1 (21...), another after 2-4, and a
// third after the rest.
func MinutesWord(lang string, n int) string {
	if lang != "ru" && lang != "be" {
		if n == 1 {
			return "minutes-one"
		}
		return "minutes-many"
	}
	switch d, dd := n%10, n%100; {
	case d == 1 && dd != 11:
		return "minutes-one"
	case d >= 2 && d <= 4 && (dd < 12 || dd > 14):
		return "minutes-few"
	}
	return "minutes-many"
}

// Sequence returns a Source that plays clips one after the other, once,
// without copying them (a call's prompts are shared by every call). Each
// clip's last frame is padded with silence.
func Sequence(clips ...*media.Clip) media.Source {
	return &sequence{clips: clips}
}

type sequence struct {
	clips []*media.Clip
	cur   media.Source
}

func (s *sequence) ReadFrame(frame []int16) bool {
	for {
		if s.cur == nil {
			if len(s.clips) == 0 {
				return false
			}
			s.cur, s.clips = s.clips[0].Once(), s.clips[1:]
		}
		if s.cur.ReadFrame(frame) {
			return true
		}
		s.cur = nil
	}
}

// Validate checks that every prompt the flow needs loads for each queue
// and language, so that a bad upload or a broken build fails at start.
func (p *Prompts) Validate(queues, langs []string) error {
	var errs []error
	names := []string{PromptGreeting, PromptAfterHours, PromptPosition, PromptWait, PromptMenu,
		PromptLeaveMessage, PromptCallback, PromptSaved, PromptHold, PromptBeep,
		"minutes-one", "minutes-few", "minutes-many"}
	for i := 1; i <= MaxNumber; i++ {
		names = append(names, "n"+strconv.Itoa(i))
	}
	for _, q := range queues {
		for _, l := range langs {
			for _, n := range names {
				if _, err := p.Clip(q, l, n); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}
