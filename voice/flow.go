package voice

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/voicemail"
	"github.com/morozhq/moroz/work"
)

// Defaults for Options fields left zero.
const (
	DefaultQueue         = work.QueueCalls
	DefaultAnnounceEvery = 30 * time.Second
)

// Reasons a missed call was missed (store.Call.Reason).
const (
	ReasonAbandoned  = "abandoned"   // hung up while waiting or during the greeting
	ReasonAfterHours = "after-hours" // the queue was closed
	ReasonNoHelpers  = "no-helpers"  // no helper of the queue was logged in
	ReasonMaxWait    = "max-wait"    // waited the queue's max_wait
	ReasonVoicemail  = "voicemail"   // the caller chose to leave a message
	ReasonCallback   = "callback"    // the caller asked to be called back
	ReasonFailed     = "failed"      // Moroz could not take the call
)

// OutcomeCallback closes a call item whose caller pressed 2: the call
// becomes a callback item that keeps its created time.
const OutcomeCallback = "callback"

// Options configure a Flow. Work, Store and Prompts are required.
type Options struct {
	Work    *work.Service
	Store   store.Store
	Prompts *Prompts
	// Voicemail records messages; nil offers none (the caller hears the
	// prompt, and the call is a missed call with a callback).
	Voicemail *voicemail.Recorder
	// Dialer rings helpers' desk phones; nil rings none (helpers then
	// answer in the console).
	Dialer Dialer
	// Phone returns the SIP URI that rings a helper; "" when the helper has
	// no desk phone. Nil means store.Helper.Extension, used as a SIP URI.
	Phone func(ctx context.Context, helperID int64) (string, error)
	// Talking, if set, is told of each call as it is bridged to a
	// helper's leg (a desk phone's or a browser's), before the bridge
	// starts; the function it returns is called once the bridge ended.
	// The node lists desk-phone calls on the wallboard with it.
	Talking func(c Call, helper int64, leg Leg) (ended func())
	// Route picks the queue and language of a call from the dialled number;
	// nil (or empty results) means Queue and Lang.
	Route func(dialled string) (queue, lang string)
	// Queue is the queue calls join by default; default DefaultQueue.
	Queue string
	// Lang is the prompts' language by default; default DefaultLang.
	Lang string
	// AnnounceEvery is the time between position announcements on hold;
	// default DefaultAnnounceEvery.
	AnnounceEvery time.Duration
	// GreetingNumber is the number a supervisor dials to record the
	// greeting (1) or the after-hours prompt (2) of Queue in Lang, after
	// keying GreetingPIN and '#'; "" turns the line off. It needs the
	// prompts' override folder.
	GreetingNumber string
	GreetingPIN    string
	// Logger receives the flow's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock of call records; nil means time.Now.
	Now func() time.Time
}

// Flow runs calls. Its methods are safe for concurrent use.
type Flow struct {
	opt     Options
	log     *slog.Logger
	numbers keyedMutex // one caller's callbacks are made one at a time

	mu     sync.Mutex
	queues map[string]bool // guarded by mu: the router's queues, as last seen
}

// New checks opt and returns a Flow.
func New(opt Options) (*Flow, error) {
	if opt.Work == nil || opt.Store == nil || opt.Prompts == nil {
		return nil, errors.New("new voice flow: Work, Store and Prompts are required")
	}
	if opt.Queue == "" {
		opt.Queue = DefaultQueue
	}
	if opt.Lang == "" {
		opt.Lang = DefaultLang
	}
	if opt.AnnounceEvery <= 0 {
		opt.AnnounceEvery = DefaultAnnounceEvery
	}
	if opt.GreetingNumber != "" && len(opt.GreetingPIN) < 4 {
		return nil, errors.New("new voice flow: the greeting line needs a PIN of at least 4 digits")
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	f := &Flow{opt: opt, log: opt.Logger}
	if f.opt.Phone == nil {
		f.opt.Phone = f.extension
	}
	return f, nil
}

// queueKnown reports whether the router has the queue; the list is read
// again only when a name is missing from it.
func (f *Flow) queueKnown(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.queues[name] {
		return true
	}
	f.queues = map[string]bool{}
	for _, q := range f.opt.Work.Router().Queues() {
		f.queues[q.Name] = true
	}
	return f.queues[name]
}

// extension is the default Phone: the helper's stored extension, which
// must be a SIP URI to be rung.
func (f *Flow) extension(ctx context.Context, helperID int64) (string, error) {
	h, err := f.opt.Store.Helper(ctx, helperID)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return h.Extension, nil
}

// Handle runs one call from arrival to its end and returns when it is
// over. ctx should end with the call.
func (f *Flow) Handle(ctx context.Context, c Call) {
	if f.isGreetingLine(c) {
		f.recordGreeting(ctx, c)
		return
	}
	cl := f.newCall(ctx, c)
	defer cl.end()

	if err := cl.answer(); err != nil {
		return
	}
	if !cl.open() {
		cl.afterHours()
		return
	}
	if !cl.greet() {
		cl.missed(ReasonAbandoned)
		return
	}
	if cl.nobodyThere() {
		cl.voicemail(ReasonNoHelpers)
		return
	}
	if err := cl.enqueue(); err != nil {
		cl.voicemail(ReasonFailed)
		return
	}
	cl.afterWait(cl.wait())
}

// keyedMutex serialises work per key.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyLock // guarded by mu
}

type keyLock struct {
	sync.Mutex
	users int // guarded by keyedMutex.mu
}

// lock takes the key's lock and returns its unlock.
func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyLock{}
		k.locks[key] = l
	}
	l.users++
	k.mu.Unlock()

	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		if l.users--; l.users == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
