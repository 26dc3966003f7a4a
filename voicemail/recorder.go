package voicemail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/sip/media"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/work"
)

// Defaults for Options fields left zero.
const (
	DefaultMin = 2 * time.Second
	DefaultMax = 3 * time.Minute
)

// ErrTooShort is returned by Leave when the message is shorter than the
// minimum: the caller hung up at the tone. The file is removed.
var ErrTooShort = errors.New("voicemail too short")

// storeTimeout bounds the writes after a recording, which run after the
// call (and its context) may have ended.
const storeTimeout = 10 * time.Second

// Options configure a Recorder. Store, Work and Dir are required.
type Options struct {
	Store store.Store
	Work  *work.Service
	// Dir is the data folder; messages go under Dir/voicemail/ and
	// store.Voicemail.Path is relative to Dir.
	Dir string
	// Min and Max bound a message's length; defaults DefaultMin, DefaultMax.
	Min, Max time.Duration
	// Queue is the queue of voicemail items; "" is the channel's default.
	Queue  string
	Logger *slog.Logger
	// Now is the clock for file names; nil means time.Now.
	Now func() time.Time
}

// Recorder records messages and turns them into items. It is safe for
// concurrent use.
type Recorder struct {
	opt Options
}

// New checks opt and returns a Recorder.
func New(opt Options) (*Recorder, error) {
	if opt.Store == nil || opt.Work == nil || opt.Dir == "" {
		return nil, errors.New("new voicemail recorder: Store, Work and Dir are required")
	}
	if opt.Min <= 0 {
		opt.Min = DefaultMin
	}
	if opt.Max <= 0 {
		opt.Max = DefaultMax
	}
	if opt.Max < opt.Min {
		return nil, fmt.Errorf("new voicemail recorder: max %v is below min %v", opt.Max, opt.Min)
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Recorder{opt: opt}, nil
}

// Recording is the part of a call a message is recorded from.
type Recording interface {
	// Record writes the caller's audio to path until max, ctx or the end
	// of the call, and commits the file in each case.
	Record(ctx context.Context, path string, max time.Duration) (media.RecordInfo, error)
}

// Message says whose message is recorded.
type Message struct {
	CallID    string // the call's id: the item's external id
	From      string // the caller's number
	ContactID int64  // 0 when unknown
	ParentID  int64  // the call's item, 0 when the call was not queued
	Subject   string // shown in the console's list
}

// Leave records a message from src until the caller hangs up, ctx ends or
// the maximum length passes, then stores it: the file, a voicemail item in
// the queue, and the voicemail row. A message under the minimum is
// discarded with ErrTooShort.
func (r *Recorder) Leave(ctx context.Context, src Recording, m Message) (store.Voicemail, error) {
	rel := r.relPath(m.CallID)
	full := filepath.Join(r.opt.Dir, rel)
	if err := os.MkdirAll(filepath.Dir(full), 0o750); err != nil {
		return store.Voicemail{}, fmt.Errorf("voicemail %s: %w", m.CallID, err)
	}
	info, err := src.Record(ctx, full, r.opt.Max)
	if err != nil {
		return store.Voicemail{}, fmt.Errorf("voicemail %s: %w", m.CallID, err)
	}
	if info.Duration < r.opt.Min {
		os.Remove(full)
		return store.Voicemail{}, fmt.Errorf("voicemail %s: %v: %w", m.CallID, info.Duration, ErrTooShort)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	return r.save(sctx, m, rel, info.Duration)
}

// save queues the voicemail item and writes the row.
func (r *Recorder) save(ctx context.Context, m Message, rel string, d time.Duration) (store.Voicemail, error) {
	data, _ := json.Marshal(map[string]any{"from": m.From, "call_id": m.CallID,
		"path": filepath.ToSlash(rel), "duration_ms": d.Milliseconds()})
	it, _, err := r.opt.Work.Submit(ctx, store.Item{Channel: acd.Voicemail, ExternalID: m.CallID,
		Queue: r.opt.Queue, ContactID: m.ContactID, ParentID: m.ParentID, Subject: m.Subject, Data: data},
		store.Event{Type: "recorded", Data: data})
	if err != nil {
		return store.Voicemail{}, fmt.Errorf("voicemail %s: item: %w", m.CallID, err)
	}
	vm, err := r.opt.Store.CreateVoicemail(ctx, store.Voicemail{ItemID: it.ID, CallID: m.CallID,
		From: m.From, Path: filepath.ToSlash(rel), Duration: d})
	if err != nil {
		return store.Voicemail{}, fmt.Errorf("voicemail %s: row: %w", m.CallID, err)
	}
	r.opt.Logger.Info("voicemail left", "call_id", m.CallID, "item_id", it.ID, "duration", d)
	return vm, nil
}

// relPath is where a call's message goes, relative to the data folder:
// voicemail/YYYY/MM/DD/<call id>.wav, the id made safe for a file name.
func (r *Recorder) relPath(callID string) string {
	day := r.opt.Now().UTC().Format("2006/01/02")
	return filepath.Join("voicemail", filepath.FromSlash(day), safeName(callID)+".wav")
}

// safeName keeps letters, digits, '-', '_' and '.' (not leading) of s and
// bounds its length, so that a Call-ID cannot leave the folder.
func safeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == '.' && b.Len() > 0:
			b.WriteRune(r)
		default:
			b.WriteRune('_')
		}
		if b.Len() >= 100 {
			break
		}
	}
	if b.Len() == 0 {
		return "call"
	}
	return b.String()
}
