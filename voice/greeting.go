package voice

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/morozhq/moroz/sip/media"
)

// Limits of recording a greeting by phone.
const (
	pinTries       = 3
	digitWait      = 10 * time.Second
	greetingMax    = 2 * time.Minute
	greetingMin    = time.Second
	maxPINDigits   = 16
	keyEndOfRecord = '#'
)

// greetingKeys maps the key a supervisor presses to the prompt recorded.
var greetingKeys = map[rune]string{'1': PromptGreeting, '2': PromptAfterHours}

// isGreetingLine reports whether c dialled the greeting recording number.
func (f *Flow) isGreetingLine(c Call) bool {
	return f.opt.GreetingNumber != "" && f.opt.Prompts.Dir() != "" && c.Dialled() == f.opt.GreetingNumber
}

// recordGreeting runs the greeting line: after the tone the supervisor
// keys the PIN and '#'; after the next tone 1 (greeting) or 2 (after
// hours); after the third tone they speak and end with '#' or by hanging
// up. The recording replaces the prompt of the default queue in the
// default language, and is played back.
func (f *Flow) recordGreeting(ctx context.Context, c Call) {
	log := f.log.With("call_id", c.ID(), "queue", f.opt.Queue)
	if err := c.Answer(); err != nil {
		return
	}
	defer c.Hangup()
	g := greetingLine{f: f, c: c, ctx: ctx, log: log}
	if !g.checkPIN() {
		return
	}
	name, ok := g.choose()
	if !ok {
		return
	}
	g.record(name)
}

// greetingLine is one call to the greeting line.
type greetingLine struct {
	f   *Flow
	c   Call
	ctx context.Context
	log *slog.Logger
}

func (g greetingLine) beep() bool {
	clip, err := g.f.opt.Prompts.Clip(g.f.opt.Queue, g.f.opt.Lang, PromptBeep)
	if err != nil {
		return false
	}
	return g.c.Play(g.ctx, clip.Once()) == nil
}

// checkPIN gives the caller pinTries attempts at the PIN.
func (g greetingLine) checkPIN() bool {
	for range pinTries {
		if !g.beep() {
			return false
		}
		pin, ok := readDigits(g.ctx, g.c, maxPINDigits)
		if !ok {
			return false
		}
		if subtle.ConstantTimeCompare([]byte(pin), []byte(g.f.opt.GreetingPIN)) == 1 {
			return true
		}
		g.log.Warn("greeting line: wrong pin")
	}
	return false
}

// choose reads which prompt to record.
func (g greetingLine) choose() (string, bool) {
	if !g.beep() {
		return "", false
	}
	key, ok := readDigits(g.ctx, g.c, 1)
	name, known := greetingKeys[firstRune(key)]
	return name, ok && known
}

func firstRune(s string) rune {
	for _, r := range s {
		return r
	}
	return 0
}

// record takes the new prompt into a temporary file beside its place
// and renames it there once it is long enough, then plays it back.
func (g greetingLine) record(name string) {
	dir := filepath.Join(g.f.opt.Prompts.Dir(), g.f.opt.Queue, g.f.opt.Lang)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		g.log.Error("greeting line: prompts folder", "err", err)
		return
	}
	if !g.beep() {
		return
	}
	tmp := filepath.Join(dir, fmt.Sprintf(".recording-%d.wav", time.Now().UnixNano()))
	defer os.Remove(tmp)
	info, err := g.recordUntilHash(tmp)
	if err != nil || info.Duration < greetingMin {
		g.log.Info("greeting line: nothing recorded", "err", err, "duration", info.Duration)
		return
	}
	final := filepath.Join(dir, name+".wav")
	if err := os.Rename(tmp, final); err != nil {
		g.log.Error("greeting line: store", "err", err)
		return
	}
	g.log.Info("greeting recorded by phone", "prompt", name, "lang", g.f.opt.Lang, "duration", info.Duration)
	if clip, err := g.f.opt.Prompts.Clip(g.f.opt.Queue, g.f.opt.Lang, name); err == nil {
		g.c.Play(g.ctx, clip.Once())
	}
}

// recordUntilHash records until '#', the hang-up or greetingMax.
func (g greetingLine) recordUntilHash(path string) (media.RecordInfo, error) {
	ctx, cancel := context.WithCancel(g.ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case d := <-g.c.DTMF():
				if d.Digit == keyEndOfRecord {
					cancel()
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	info, err := g.c.Record(ctx, path, greetingMax)
	cancel()
	<-done
	return info, err
}

// readDigits reads keys until '#', max digits or digitWait without a key;
// false means the caller hung up or went silent before any key.
func readDigits(ctx context.Context, c Call, max int) (string, bool) {
	var out []rune
	t := time.NewTimer(digitWait)
	defer t.Stop()
	for len(out) < max {
		select {
		case d := <-c.DTMF():
			if d.Digit == '#' {
				return string(out), true
			}
			out = append(out, d.Digit)
			t.Reset(digitWait)
		case <-t.C:
			return string(out), len(out) > 0
		case <-c.Done():
			return "", false
		case <-ctx.Done():
			return "", false
		}
	}
	return string(out), true
}
