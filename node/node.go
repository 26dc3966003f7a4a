// Package node is one running Moroz: it opens the store, builds the router,
// the channel adapters and the console from a config.Config, runs their
// listeners, and drains and stops them in order.
//
// It holds wiring only: every decision lives in the packages it joins.
//
// # Lifecycle
//
// Run starts every listener and returns when ctx is cancelled (stop at once:
// SIGINT) or after Drain was called and live work has ended or the drain
// period has passed (SIGTERM). Every goroutine it starts ends before Run
// returns.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/config"
	"github.com/morozhq/moroz/console"
	"github.com/morozhq/moroz/messenger"
	"github.com/morozhq/moroz/sip"
	"github.com/morozhq/moroz/sip/ari"
	"github.com/morozhq/moroz/softphone"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/voice"
	"github.com/morozhq/moroz/voicemail"
	"github.com/morozhq/moroz/work"
)

// Node is one Moroz process's worth of services.
type Node struct {
	cfg      config.Config
	log      *slog.Logger
	store    store.Store
	work     *work.Service
	msg      *messenger.Messenger
	mail     *mailNode
	mailings *mailingNode // nil without a relay
	registry *prometheus.Registry

	sip       *sip.Server         // nil when sip.addr is empty
	dialer    *sip.Dialer         // rings helpers' desk phones
	flow      *voice.Flow         // the call flow, set before sip starts
	callbacks *voice.Callbacks    // calls callbacks back; nil without sip.trunk
	voicemail *voicemail.Recorder // messages and their audio
	ari       *ari.App            // Asterisk mode; nil when ari.url is empty

	phone       *softphone.Phone // the helpers' browser phones
	phoneSignal *consoleSignal   // the phone's way to the console

	console *console.Server
	httpLn  net.Listener
	httpSrv *http.Server

	drainOnce sync.Once
	drained   chan struct{} // closed by Drain

	mu    sync.Mutex
	addrs map[string]string // listener name to its address; guarded by mu
}

// New opens the store (migrating it), makes the first admin when there are
// no users, and binds every listener, so that a bad address or an occupied
// port fails here with a clear error. The caller must Run or Close it.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	n := &Node{cfg: cfg, log: log, registry: prometheus.NewRegistry(),
		drained: make(chan struct{}), addrs: map[string]string{}}
	n.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	st, err := OpenStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	n.store = st
	if err := n.firstAdmin(ctx); err != nil {
		n.Close()
		return nil, err
	}
	queues, _ := cfg.RouterQueues() // validated above
	n.work, err = work.New(ctx, work.Options{Store: st, Logger: log.With("component", "work"),
		Router: acd.Config{Queues: queues}})
	if err != nil {
		n.Close()
		return nil, err
	}
	n.msg, err = messenger.New(messenger.Options{Store: st, Work: n.work, Config: cfg.Messenger,
		Logger: log.With("component", "messenger"), DataDir: cfg.Data,
		Outbox: messenger.OutboxOptions{Lease: cfg.Outbox.Lease, Poll: cfg.Outbox.Poll}})
	if err != nil {
		n.Close()
		return nil, err
	}
	if err := n.startMail(); err != nil {
		n.Close()
		return nil, err
	}
	if err := n.startMailings(); err != nil {
		n.Close()
		return nil, err
	}
	if err := n.startPhone(); err != nil {
		n.Close()
		return nil, err
	}
	if err := n.startVoice(); err != nil {
		n.Close()
		return nil, err
	}
	if err := n.startARI(); err != nil {
		n.Close()
		return nil, err
	}
	if err := n.listenHTTP(); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// OpenStore opens the store cfg names, checking first that an embedded
// store's data folder can be written.
func OpenStore(ctx context.Context, cfg config.Config, log *slog.Logger) (store.Store, error) {
	sc := store.Config{DB: cfg.DB, DataDir: cfg.Data, Logger: log.With("component", "store")}
	if !sc.Postgres() {
		if err := checkWritable(cfg.Data); err != nil {
			return nil, err
		}
	}
	return store.Open(ctx, sc)
}

func checkWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("data folder %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("data folder %s: cannot be written: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

func (n *Node) firstAdmin(ctx context.Context) error {
	login, password, err := console.EnsureAdmin(ctx, n.store)
	if err != nil || login == "" {
		return err
	}
	// Printed once: the password is not stored anywhere but as a hash.
	n.log.Warn("first start: admin account created; change its password after logging in",
		"login", login, "password", password)
	return nil
}

func (n *Node) listenHTTP() error {
	srv, err := console.New(console.Options{
		Store:           n.store,
		Logger:          n.log.With("component", "console"),
		Ready:           func(ctx context.Context) error { return store.Ready(ctx, n.store) },
		Live:            n.work.Live,
		Gatherer:        n.registry,
		Origins:         n.cfg.HTTP.Origins,
		InsecureCookies: n.cfg.HTTP.InsecureCookies,
		SessionTTL:      n.cfg.HTTP.SessionTTL,
		Desk:            n.work,
		Mounts:          n.withMailingMounts(n.withVoiceMounts(n.msg.Routes())),
		CrossOrigin:     n.msg.CrossOrigin(),
		Softphone:       n.phone,
		Mailings:        n.consoleMailings(),
		Typing:          n.msg,
	})
	if err != nil {
		return err
	}
	n.msg.OnVisitorTyping(func(helperID, itemID int64) { srv.SendTyping(helperID, itemID) })
	n.msg.OnSendFailed(func(itemID int64) { srv.NoteItemEvent(itemID, messenger.EventSendFailed) })
	n.phoneSignal.set(srv)
	ln, err := net.Listen("tcp", n.cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("http.addr %s: %w", n.cfg.HTTP.Addr, err)
	}
	n.httpLn = ln
	n.httpSrv = &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(n.log.Handler(), slog.LevelWarn),
	}
	// Websockets are hijacked connections that Shutdown does not close;
	// Close closes the console too, before the work service it drives.
	n.console = srv
	n.httpSrv.RegisterOnShutdown(func() { srv.Close() })
	n.setAddr("http", ln.Addr().String())
	if n.mailings != nil {
		n.mailings.setConsole(srv, n.cfg.HTTP, ln.Addr().String())
	}
	return nil
}

func (n *Node) setAddr(name, addr string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.addrs[name] = addr
}

// Addr returns the address a listener ("http", "sip", "smtp") is bound to,
// or "" when it is off.
func (n *Node) Addr(name string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.addrs[name]
}

// Store returns the node's store.
func (n *Node) Store() store.Store { return n.store }

// Work returns the node's work service: intake and the router.
func (n *Node) Work() *work.Service { return n.work }

// Drain makes the node refuse new work and finish what is live; Run then
// returns once it has. It is safe to call more than once and from any
// goroutine.
func (n *Node) Drain() {
	n.drainOnce.Do(func() {
		n.log.Info("draining", "deadline", n.cfg.Drain.String())
		close(n.drained)
	})
}

// Run serves until ctx is cancelled, or until a Drain has finished. It
// closes the node before returning.
func (n *Node) Run(ctx context.Context) error {
	defer n.Close()
	n.log.Info("listening", "component", "http", "addr", n.Addr("http"),
		"url", "http://"+n.Addr("http")+"/")
	if a := n.Addr("sip"); a != "" {
		n.log.Info("listening", "component", "sip", "addr", a, "dialer", n.dialer.Addr().String())
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := n.httpSrv.Serve(n.httpLn); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		select {
		case <-gctx.Done(): // stop at once
		case <-n.drained:
			n.drainCalls(gctx.Done())
		}
		return nil // Close hangs up what is left
	})
	g.Go(func() error {
		select {
		case <-gctx.Done(): // stop at once
			return n.httpSrv.Close()
		case <-n.drained:
		}
		dctx, cancel := context.WithTimeout(context.Background(), n.cfg.Drain)
		defer cancel()
		if err := n.httpSrv.Shutdown(dctx); err != nil {
			n.log.Warn("drain deadline passed; closing", "err", err)
			return n.httpSrv.Close()
		}
		return nil
	})
	g.Go(func() error { return n.runARI(gctx) })
	g.Go(func() error { n.runCallbacks(gctx); return nil })
	g.Go(func() error { return n.runMail(gctx) })
	g.Go(func() error { return n.runMailings(gctx) })
	g.Go(func() error { n.runPrune(gctx); return nil })
	err := g.Wait()
	if ctx.Err() != nil {
		return nil // asked to stop
	}
	return err
}

// Close releases everything New acquired. It is idempotent.
func (n *Node) Close() error {
	var errs []error
	if n.httpLn != nil {
		n.httpLn.Close() // already closed when Serve ran; that error is expected
	}
	if n.console != nil {
		errs = append(errs, n.console.Close()) // the helpers' sockets, before work
	}
	if n.msg != nil {
		errs = append(errs, n.msg.Close())
	}
	errs = append(errs, n.closeMail())
	if n.phone != nil {
		errs = append(errs, n.phone.Close()) // the browsers' legs, before their calls
	}
	errs = append(errs, n.closeVoice()) // calls still write to work
	if n.work != nil {
		errs = append(errs, n.work.Close())
	}
	if n.store != nil {
		errs = append(errs, n.store.Close())
	}
	return errors.Join(errs...)
}

// DataPath returns a path inside the data folder.
func (n *Node) DataPath(elem ...string) string {
	return filepath.Join(append([]string{n.cfg.Data}, elem...)...)
}
