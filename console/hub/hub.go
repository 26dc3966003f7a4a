package hub

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Defaults for Options fields left zero.
const (
	DefaultQueueLen     = 4096
	DefaultGather       = 25 * time.Millisecond
	DefaultWriteTimeout = 10 * time.Second
	DefaultPingInterval = 25 * time.Second
	DefaultReadLimit    = 64 << 10
)

// Close codes the hub sends (RFC 6455 §7.4.2 reserves 4000-4999 for
// applications).
const (
	CodeTooSlow     = 4008 // the client's queue overflowed
	CodeRevoked     = 4003 // the account was disabled or its role changed
	CodeBadProtocol = 4000 // the client broke the protocol
)

// ErrClosed is what Register returns after Close.
var ErrClosed = errors.New("hub closed")

// Options configure a Hub.
type Options struct {
	// QueueLen is how many messages a client may have queued before it is
	// dropped; 0 means DefaultQueueLen.
	QueueLen int
	// Gather is how long a writer waits after a message arrives for more
	// to pack into the same frame; 0 means DefaultGather, negative means
	// write at once.
	Gather time.Duration
	// WriteTimeout bounds one frame's write; 0 means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// PingInterval is how often the hub pings; a peer that sends nothing
	// (not even a pong) for twice as long is dropped. 0 means
	// DefaultPingInterval.
	PingInterval time.Duration
	// ReadLimit caps one inbound message in bytes; 0 means
	// DefaultReadLimit.
	ReadLimit int64
	// Logger receives drops at Warn and ends at Debug; nil discards.
	Logger *slog.Logger
}

// Member says which messages a client receives.
type Member struct {
	UserID     int64
	Supervisor bool     // receives messages for Audience.Supervisors
	Queues     []string // queues whose messages it receives
}

// Audience names the clients a message goes to: the clients of Users, the
// supervisors' clients when Supervisors is set, the members of Queues, or
// every client when All is set.
type Audience struct {
	Users       []int64
	Supervisors bool
	Queues      []string
	All         bool
}

type clientSet map[*Client]struct{}

// Hub keeps the registered clients and fans messages out to them.
type Hub struct {
	opt     Options
	log     *slog.Logger
	dropped atomic.Int64

	mu      sync.Mutex
	closed  bool                 // guarded by mu
	clients clientSet            // guarded by mu
	byUser  map[int64]clientSet  // guarded by mu
	byQueue map[string]clientSet // guarded by mu
	supers  clientSet            // guarded by mu
	stamp   uint64               // guarded by mu; Publish's dedup mark
}

// New returns a Hub with no clients.
func New(opt Options) *Hub {
	if opt.QueueLen <= 0 {
		opt.QueueLen = DefaultQueueLen
	}
	if opt.Gather == 0 {
		opt.Gather = DefaultGather
	}
	if opt.WriteTimeout <= 0 {
		opt.WriteTimeout = DefaultWriteTimeout
	}
	if opt.PingInterval <= 0 {
		opt.PingInterval = DefaultPingInterval
	}
	if opt.ReadLimit <= 0 {
		opt.ReadLimit = DefaultReadLimit
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Hub{opt: opt, log: log, clients: clientSet{}, byUser: map[int64]clientSet{},
		byQueue: map[string]clientSet{}, supers: clientSet{}}
}

// Register adds a client for conn. Messages published from now on queue
// for it; the caller then runs Serve. It fails with ErrClosed after Close.
func (h *Hub) Register(conn *websocket.Conn, m Member) (*Client, error) {
	c := &Client{h: h, conn: conn, m: m, notify: make(chan struct{}, 1), done: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	h.clients[c] = struct{}{}
	add(h.byUser, m.UserID, c)
	for _, q := range m.Queues {
		add(h.byQueue, q, c)
	}
	if m.Supervisor {
		h.supers[c] = struct{}{}
	}
	return c, nil
}

func add[K comparable](m map[K]clientSet, k K, c *Client) {
	s := m[k]
	if s == nil {
		s = clientSet{}
		m[k] = s
	}
	s[c] = struct{}{}
}

func remove[K comparable](m map[K]clientSet, k K, c *Client) {
	delete(m[k], c)
	if len(m[k]) == 0 {
		delete(m, k)
	}
}

func (h *Hub) unregister(c *Client) (lastOfUser bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.clients[c]; !ok {
		return false
	}
	delete(h.clients, c)
	remove(h.byUser, c.m.UserID, c)
	for _, q := range c.m.Queues {
		remove(h.byQueue, q, c)
	}
	delete(h.supers, c)
	return len(h.byUser[c.m.UserID]) == 0
}

// Publish queues msg, one encoded JSON value, for every client of a, once
// each, and returns how many clients it was queued for. It never blocks
// on a client: one whose queue is full is dropped instead. msg must not be
// changed afterwards.
func (h *Hub) Publish(a Audience, msg []byte) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stamp++
	n := 0
	send := func(set clientSet) {
		for c := range set {
			if c.mark != h.stamp {
				c.mark = h.stamp
				if c.enqueue(msg) {
					n++
				}
			}
		}
	}
	if a.All {
		send(h.clients)
		return n
	}
	for _, id := range a.Users {
		send(h.byUser[id])
	}
	if a.Supervisors {
		send(h.supers)
	}
	for _, q := range a.Queues {
		send(h.byQueue[q])
	}
	return n
}

// CloseUser closes every socket of a user with code and reason, and
// returns how many it closed.
func (h *Hub) CloseUser(userID int64, code int, reason string) int {
	h.mu.Lock()
	set := make([]*Client, 0, len(h.byUser[userID]))
	for c := range h.byUser[userID] {
		set = append(set, c)
	}
	h.mu.Unlock()
	for _, c := range set {
		c.Close(code, reason)
	}
	return len(set)
}

// Connected reports whether a user has at least one registered client.
func (h *Hub) Connected(userID int64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.byUser[userID]) > 0
}

// Clients returns how many clients are registered.
func (h *Hub) Clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// Dropped returns how many clients were dropped for being slow.
func (h *Hub) Dropped() int64 { return h.dropped.Load() }

// Close closes every client's socket (going away) and refuses new ones. It
// is idempotent; each client's Serve returns soon after.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	all := make([]*Client, 0, len(h.clients))
	for c := range h.clients {
		all = append(all, c)
	}
	h.mu.Unlock()
	for _, c := range all {
		c.Close(websocket.CloseGoingAway, "server stopping")
	}
}
