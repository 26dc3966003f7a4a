package messenger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/work"
)

// Options configure a Messenger. Store, Work and Logger are required.
type Options struct {
	Store  store.Store
	Work   *work.Service
	Logger *slog.Logger
	// Config is the forms, origins, limits and the Telegram bot; zero
	// fields get their defaults.
	Config Config
	// Bot is the chatbot's flows; nil means DefaultBot (configs/bot.yaml).
	Bot *BotConfig
	// DataDir is the data folder; attachments are kept under
	// DataDir/attachments. Required when Telegram is on.
	DataDir string
	// Client calls the Telegram Bot API; nil means a client with a timeout
	// longer than the long poll.
	Client *http.Client
	// Now is the clock of rate limits and stored times; nil means time.Now.
	Now func() time.Time
	// Outbox says how the Telegram sender shares the store's outbox with
	// other nodes; zero fields get their defaults.
	Outbox OutboxOptions
}

// Messenger serves the web form, the Telegram bot and the chat widget. Build
// it with New, mount Routes on an HTTP server, and Close it.
type Messenger struct {
	cfg     Config
	log     *slog.Logger
	st      store.Store
	work    *work.Service
	now     func() time.Time
	dataDir string
	outbox  OutboxOptions // the Telegram sender's share of the store's outbox
	bot     *Bot
	forms   map[string]Form
	origins map[string]bool
	limiter *addrLimiter // form posts
	sockets *addrLimiter // chat connections: every page view of the site opens one
	convs   *conversations
	chat    *chatHub
	tg      *telegram // nil while Telegram is off
	typing  typists
	// sendFailed hears of replies given up (OnSendFailed).
	sendFailed atomic.Pointer[func(itemID int64)]

	ctx       context.Context // ends at Close; owns every goroutine below
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// New checks the configuration, registers the Telegram and chat senders
// with opt.Work, and starts the Telegram senders on the replies the store
// holds pending (and the poller, when configured). The caller must Close
// it.
func New(opt Options) (*Messenger, error) {
	if opt.Store == nil || opt.Work == nil || opt.Logger == nil {
		return nil, errors.New("messenger: Store, Work and Logger are required")
	}
	cfg := opt.Config.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("messenger: %w", err)
	}
	bc := opt.Bot
	if bc == nil {
		def, err := DefaultBot()
		if err != nil {
			return nil, err
		}
		bc = &def
	}
	bot, err := NewBot(*bc)
	if err != nil {
		return nil, fmt.Errorf("messenger: %w", err)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	m := &Messenger{cfg: cfg, log: opt.Logger, st: opt.Store, work: opt.Work, now: opt.Now,
		dataDir: opt.DataDir, outbox: opt.Outbox, bot: bot, forms: map[string]Form{}, origins: map[string]bool{},
		limiter: newAddrLimiter(cfg.RatePerMinute, cfg.RateBurst),
		sockets: newAddrLimiter(socketsPerMinute, socketBurst), convs: newConversations(),
		typing: typists{last: map[string]time.Time{}}}
	for _, f := range cfg.Forms {
		m.forms[f.Name] = f
	}
	for _, o := range cfg.AllowedOrigins {
		m.origins[o] = true
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.chat = newChatHub(m)
	m.work.SetSender(acd.Chat, m.chat)
	m.goOwned(m.quietLoop)
	if cfg.Telegram.Token != "" {
		if err := m.startTelegram(opt.Client); err != nil {
			m.Close()
			return nil, err
		}
	}
	return m, nil
}

// Routes returns the handlers to mount on the console's listener, by
// ServeMux pattern. The Telegram webhook is there only when the bot is on
// and does not poll.
func (m *Messenger) Routes() map[string]http.Handler {
	r := map[string]http.Handler{
		"POST /api/v1/forms/{form}":                       http.HandlerFunc(m.serveForm),
		"OPTIONS /api/v1/forms/{form}":                    http.HandlerFunc(m.serveForm),
		"GET /chat/widget.js":                             http.HandlerFunc(serveWidget),
		"GET /chat/ws":                                    http.HandlerFunc(m.chat.serveWS),
		"GET /messenger/attachments/{item}/{message}/{n}": http.HandlerFunc(m.serveAttachment),
	}
	if m.tg != nil && !m.cfg.Telegram.Poll {
		r["POST "+WebhookPath] = http.HandlerFunc(m.tg.serveWebhook)
	}
	return r
}

// CrossOrigin returns the patterns of Routes that other sites call, to
// exempt from the console's cross-origin protection: their CORS and Origin
// checks are done here.
func (m *Messenger) CrossOrigin() []string {
	return []string{"POST /api/v1/forms/{form}", "POST " + WebhookPath}
}

// Close stops the Telegram poller and senders and closes every chat
// socket, and waits for their goroutines (a send under way finishes).
// Replies still queued for Telegram stay in the store's outbox for the
// next start. It is idempotent.
func (m *Messenger) Close() error {
	m.closeOnce.Do(func() {
		m.cancel()
		m.chat.closeAll()
		m.wg.Wait()
	})
	return nil
}

// goOwned runs f on a goroutine that Close waits for.
func (m *Messenger) goOwned(f func(ctx context.Context)) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		f(m.ctx)
	}()
}
