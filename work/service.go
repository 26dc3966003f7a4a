package work

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/stats"
	"github.com/morozhq/moroz/store"
)

// ErrNotYours means the helper does not hold the item they act on.
var ErrNotYours = errors.New("item is not assigned to this helper")

// Options configure a Service. Store and Logger are required.
type Options struct {
	Store  store.Store
	Logger *slog.Logger
	// Router is the router's configuration; its Queues (nil means
	// DefaultQueues) and Sink are set by the Service.
	Router acd.Config
	// Now is the clock for stored times; nil means time.Now.
	Now func() time.Time
	// Location is the time zone of "today" in statistics; nil means Local.
	Location *time.Location
}

// Service stores and routes work items. Its methods are safe for
// concurrent use.
type Service struct {
	st         store.Store
	log        *slog.Logger
	now        func() time.Time
	router     *acd.Router
	day        *stats.Day
	queues     map[string]bool
	firstQueue string

	mu      sync.Mutex
	pending []record                // events not yet persisted; guarded by mu
	spare   []record                // a flushed batch's array, for pending to reuse; guarded by mu
	open    map[int64]*openItem     // open items by id; guarded by mu
	notes   map[int64]string        // wrap-up notes waiting for their completed event; guarded by mu
	senders map[acd.Channel]Sender  // guarded by mu
	lis     map[int]func(acd.Event) // listeners; guarded by mu
	nextLis int                     // guarded by mu
	wake    chan struct{}           // one token when pending grew

	stop      chan struct{} // closed by Close
	done      chan struct{} // closed when the persister has ended
	closeOnce sync.Once
}

// openItem is what the statistics need of an open item.
type openItem struct {
	channel  acd.Channel
	answered bool // a helper accepted it or replied
}

// New builds the router from the store (helpers start offline, open items
// return to their queues) and starts the persister. The caller must Close
// the Service.
func New(ctx context.Context, opt Options) (*Service, error) {
	if opt.Store == nil || opt.Logger == nil {
		return nil, errors.New("work: Store and Logger are required")
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	s := &Service{
		st: opt.Store, log: opt.Logger, now: opt.Now, day: stats.NewDay(opt.Location),
		queues: map[string]bool{}, open: map[int64]*openItem{}, notes: map[int64]string{}, senders: map[acd.Channel]Sender{}, lis: map[int]func(acd.Event){},
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	rc := opt.Router
	if rc.Queues == nil {
		rc.Queues = DefaultQueues()
	}
	for _, q := range rc.Queues {
		s.queues[q.Name] = true
	}
	if len(rc.Queues) > 0 {
		s.firstQueue = rc.Queues[0].Name
	}
	rc.Sink = s
	if rc.Logger == nil {
		rc.Logger = opt.Logger.With("component", "router")
	}
	r, err := acd.New(rc)
	if err != nil {
		return nil, fmt.Errorf("work: router: %w", err)
	}
	s.router = r
	if err := s.restore(ctx); err != nil {
		r.Close()
		return nil, err
	}
	go s.persist()
	return s, nil
}

// restore hands the router every helper profile and every open item.
func (s *Service) restore(ctx context.Context) error {
	helpers, err := s.st.ListHelpers(ctx)
	if err != nil {
		return fmt.Errorf("work: restore helpers: %w", err)
	}
	for _, h := range helpers {
		if _, err := s.router.SetHelper(s.helperConfig(h)); err != nil {
			return fmt.Errorf("work: restore helper %d: %w", h.UserID, err)
		}
	}
	var stored []acd.Stored
	for after := int64(0); ; {
		items, err := s.st.ListItems(ctx, store.ItemFilter{Open: true, AfterID: after, Limit: 1000})
		if err != nil {
			return fmt.Errorf("work: restore items: %w", err)
		}
		for _, it := range items {
			if it.State == acd.StateNew {
				continue // kept for the bot until Route
			}
			stored = append(stored, s.storedItem(it))
			s.open[it.ID] = &openItem{channel: it.Channel, answered: it.State == acd.StateActive || it.State == acd.StateWrapUp}
		}
		if len(items) < 1000 {
			break
		}
		after = items[len(items)-1].ID
	}
	if _, err := s.router.Restore(stored); err != nil {
		return fmt.Errorf("work: restore %d items: %w", len(stored), err)
	}
	if len(stored) > 0 {
		s.log.Info("router restored", "items", len(stored), "helpers", len(helpers))
	}
	return nil
}

func (s *Service) storedItem(it store.Item) acd.Stored {
	queue := it.Queue
	if !s.queues[queue] {
		queue = s.queueFor(it.Channel)
		s.log.Warn("restored item's queue is not configured; using the default", "item_id", it.ID,
			"queue", it.Queue, "default", queue)
	}
	return acd.Stored{
		Item: acd.Item{ID: it.ID, Channel: it.Channel, Queue: queue, Priority: it.Priority,
			Created: it.CreatedAt, Skills: parseSkills(it.Skills), SLADue: it.SLADue},
		State: it.State, HelperID: it.HelperID, Outcome: it.Outcome,
	}
}

func (s *Service) helperConfig(h store.Helper) acd.HelperConfig {
	var queues []string
	for _, q := range h.Queues {
		if s.queues[q] {
			queues = append(queues, q)
		}
	}
	return acd.HelperConfig{ID: h.UserID, Queues: queues, Skills: h.Skills, Capacity: h.Capacity}
}

// allQueues is the profile of a helper who has none: every queue.
func (s *Service) allQueues() []string {
	var out []string
	for _, q := range s.router.Queues() {
		out = append(out, q.Name)
	}
	return out
}

// parseSkills reads stored skills, "name" or "name:level".
func parseSkills(in []string) []acd.Skill {
	var out []acd.Skill
	for _, sk := range in {
		name, lvl, ok := strings.Cut(sk, ":")
		level := 1
		if ok {
			if n, err := strconv.Atoi(lvl); err == nil && n >= 1 && n <= 10 {
				level = n
			}
		}
		out = append(out, acd.Skill{Name: name, Level: level})
	}
	return out
}

// Router returns the router, for the voice flow, which follows its call's
// item with Router().Subscribe.
func (s *Service) Router() *acd.Router { return s.router }

// Close stops the router, flushes pending events to the store (for at most
// a few seconds) and stops the persister. It is idempotent.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		s.router.Close()
		close(s.stop)
		<-s.done
	})
	return nil
}
