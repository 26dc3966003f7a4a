package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
	"golang.org/x/time/rate"

	"github.com/morozhq/moroz/store"
)

// Intake takes a new letter's item: the service layer implements it by
// storing the arrival durably in one commit (store.FileItem: the sender's
// contact, the item, the letter and its auto-reply with the auto-reply's
// place in the outbox) and then handing the item to the router. A nil
// error means all of it is stored; Created is false when an item with the
// same channel and external id already existed, which is then returned
// and nothing else was written. An item may arrive already closed (State
// closed, Outcome auto-replied) when its queue's policy is that the
// auto-reply answers it; it is stored but not routed.
type Intake interface {
	File(ctx context.Context, a store.Arrival) (store.Filed, error)
}

// IntakeFunc adapts a function to Intake; store.Store's FileItem is one
// (an intake that stores but routes nothing).
type IntakeFunc func(ctx context.Context, a store.Arrival) (store.Filed, error)

// File calls f.
func (f IntakeFunc) File(ctx context.Context, a store.Arrival) (store.Filed, error) {
	return f(ctx, a)
}

// Store is the part of store.Store the intake uses for contacts and
// messages; every store.Store is one.
type Store interface {
	ResolveContact(ctx context.Context, id store.Identity, name string) (store.Contact, error)
	FindContact(ctx context.Context, id store.Identity) (store.Contact, error)
	UpdateContact(ctx context.Context, c store.Contact) error
	LastAutoReply(ctx context.Context, sender string) (time.Time, error)
	MarkAutoReply(ctx context.Context, sender string, at time.Time) error
	AddMessage(ctx context.Context, m store.Message) (store.Message, bool, error)
	FileLetter(ctx context.Context, msgs []store.Message, out []store.OutLetter) (store.FiledLetter, error)
	AppendEvent(ctx context.Context, e store.Event) (store.Event, error)
	ItemByMessageExternalID(ctx context.Context, externalID string) (store.Item, error)
	Messages(ctx context.Context, itemID int64) ([]store.Message, error)
}

// ServerOptions are a Server's collaborators.
type ServerOptions struct {
	Store  Store  // required
	Intake Intake // required
	// Outbox takes auto-replies; nil turns them off whatever the config.
	Outbox *Outbox
	// Expected returns the router's estimate of the wait for a personal
	// answer in a queue, for the auto-reply; nil means unknown.
	Expected func(ctx context.Context, queue string) time.Duration
	Logger   *slog.Logger     // default: discard
	Now      func() time.Time // default time.Now
}

// Server is the SMTP intake for Moroz's domains. It answers 250 to a
// letter only after the raw letter is on disk and its item (or thread
// message) is committed. Serve may be called once; Close is idempotent and
// safe to call concurrently with Serve.
type Server struct {
	cfg     Config
	opts    ServerOptions
	log     *slog.Logger
	spool   *spool
	parser  *Parser
	replies *replyTemplates
	senders keyLock // one auto-reply decision at a time per sender address
	smtp    *smtp.Server

	// base bounds every store call; Close cancels it. go-smtp sessions
	// get no context of their own, so the server keeps this one.
	base   context.Context
	cancel context.CancelFunc
	once   sync.Once

	mu    sync.Mutex
	conns map[*smtp.Conn]struct{} // guarded by mu: connections with a session
}

// NewServer checks cfg and prepares the data folder.
func NewServer(cfg Config, opts ServerOptions) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Store == nil || opts.Intake == nil {
		return nil, errors.New("mail server: store and intake are required")
	}
	cfg = cfg.withDefaults()
	opts.Logger = orLogger(opts.Logger)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	sp, err := newSpool(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	replies, err := newReplyTemplates(cfg.AutoReply)
	if err != nil {
		return nil, fmt.Errorf("mail.auto_reply: %w", err)
	}
	s := &Server{cfg: cfg, opts: opts, log: opts.Logger, spool: sp,
		parser: NewParser(cfg.Parse), replies: replies, conns: make(map[*smtp.Conn]struct{})}
	s.base, s.cancel = context.WithCancel(context.Background())
	if s.smtp, err = s.newSMTP(); err != nil {
		return nil, err
	}
	return s, nil
}

func orLogger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

func (s *Server) newSMTP() (*smtp.Server, error) {
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = s.cfg.Domains[0]
	srv.MaxMessageBytes = s.cfg.MaxMessageBytes
	srv.MaxRecipients = s.cfg.MaxRecipients
	srv.MaxLineLength = s.cfg.MaxLineLength
	srv.ReadTimeout = s.cfg.Timeout
	srv.WriteTimeout = s.cfg.Timeout
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = newSMTPLog(s.log)
	if s.cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("mail.tls_cert: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return srv, nil
}

// Listen opens the configured address (mail.listen).
func (s *Server) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("smtp listen %s: %w", s.cfg.Listen, err)
	}
	return ln, nil
}

// Serve accepts letters on ln until ctx is done or Close is called, then
// stops taking new connections, gives the clients connected
// Config.DrainTimeout to finish and quit, drops the rest and returns nil.
// It returns early with the listener's error. It closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.log.Info("smtp intake listening", "addr", ln.Addr().String(),
		"domains", strings.Join(s.cfg.Domains, ","), "starttls", s.smtp.TLSConfig != nil)
	errc := make(chan error, 1)
	go func() { errc <- s.smtp.Serve(pipelineListener{ln}) }()
	select {
	case err := <-errc:
		s.Close()
		if errors.Is(err, smtp.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("smtp serve: %w", err)
	case <-ctx.Done():
	case <-s.base.Done(): // Close
	}
	drain, cancel := context.WithTimeout(s.base, s.cfg.DrainTimeout)
	defer cancel()
	if err := s.smtp.Shutdown(drain); err != nil {
		s.log.Info("smtp intake: clients dropped after the drain timeout")
		s.dropConns() // go-smtp's Close does nothing after Shutdown
	}
	_ = ln.Close() // in case Serve had not yet registered it when Shutdown ran
	<-errc
	return nil
}

// Close drops every connection at once and cancels the letters being
// stored; their senders get no 250 and will retry.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.cancel()
		_ = s.smtp.Close()
		s.dropConns()
		s.spool.close()
	})
	return nil
}

// dropConns closes every client connection.
func (s *Server) dropConns() {
	s.mu.Lock()
	conns := make([]*smtp.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.Close() // calls Logout, which takes s.mu
	}
}

// smtpLog sends go-smtp's own complaints to slog at Warn, at most one a
// second after the first ten: peers can trigger them at will.
type smtpLog struct {
	log   *slog.Logger
	limit *rate.Sometimes
}

func newSMTPLog(log *slog.Logger) smtpLog {
	return smtpLog{log: log, limit: &rate.Sometimes{First: 10, Interval: time.Second}}
}

func (l smtpLog) Printf(format string, v ...any) {
	l.limit.Do(func() { l.log.Warn(fmt.Sprintf(format, v...)) })
}

func (l smtpLog) Println(v ...any) {
	l.limit.Do(func() { l.log.Warn(strings.TrimSpace(fmt.Sprintln(v...))) })
}

// envelope is what the SMTP dialogue says about one letter.
type envelope struct {
	from  string // MAIL FROM; "" is the null path
	rcpts []string
	queue string // from the first recipient
	peer  string
}

// session is one SMTP connection.
type session struct {
	s   *Server
	c   *smtp.Conn
	env envelope
	log *slog.Logger
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	peer := c.Conn().RemoteAddr().String()
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	return &session{s: s, c: c, env: envelope{peer: peer}, log: s.log.With("peer", peer)}, nil
}

func (ss *session) Reset() {
	ss.env = envelope{peer: ss.env.peer}
}

// Logout is called when the connection ends (or restarts after STARTTLS).
func (ss *session) Logout() error {
	ss.s.mu.Lock()
	delete(ss.s.conns, ss.c)
	ss.s.mu.Unlock()
	return nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.env.from = from
	return nil
}

// Rcpt accepts only mailboxes on Moroz's own domains: Moroz is no relay.
func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	at := strings.LastIndexByte(to, '@')
	if at <= 0 {
		return errNoMailbox
	}
	local, domain := to[:at], strings.ToLower(to[at+1:])
	if !ss.s.cfg.ownDomain(domain) {
		ss.log.Debug("recipient refused: not our domain", "rcpt", to)
		return errNotOurs
	}
	queue, ok := ss.s.cfg.queueFor(local)
	if !ok {
		ss.log.Debug("recipient refused: no such mailbox", "rcpt", to)
		return errNoMailbox
	}
	if len(ss.env.rcpts) == 0 {
		ss.env.queue = queue
	}
	ss.env.rcpts = append(ss.env.rcpts, to)
	return nil
}

// The SMTP answers the intake gives of its own (RFC 5321 §4.2.2, RFC 3463).
var (
	errNoMailbox = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
		Message: "No such mailbox here"}
	errNotOurs = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "Relaying denied: not a domain of this server"}
	errNotStored = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
		Message: "Letter not stored, please try again later"}
)

// Data stores the letter and answers 250 only once it is committed.
func (ss *session) Data(r io.Reader) error {
	res, err := ss.s.receive(ss.env, r)
	var se *smtp.SMTPError
	switch {
	case errors.As(err, &se):
		ss.log.Debug("letter refused", "code", se.Code, "err", err)
		return se
	case err != nil:
		ss.log.Warn("letter not stored", "err", err)
		return errNotStored
	}
	ss.log.Debug("letter stored", "item_id", res.item.ID, "message_id", res.messageID,
		"created", res.created, "threaded", res.threaded, "auto_reply", res.autoReply)
	return nil
}
