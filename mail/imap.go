package mail

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// IMAPMarks is the part of store.Store that remembers which messages of a
// polled mailbox are stored; every store.Store is one.
type IMAPMarks interface {
	IMAPSeen(ctx context.Context, mailbox string, uidValidity, uid uint32) (bool, error)
	MarkIMAPSeen(ctx context.Context, mailbox string, uidValidity, uid uint32, messageID string) error
}

// maxPollLetters bounds how many letters one poll takes; the rest wait
// for the next.
const maxPollLetters = 500

// IMAPPoller takes letters from an existing mailbox into the same intake
// as the SMTP server: each is spooled, parsed, threaded, submitted and
// auto-replied to exactly as if it had come by SMTP.
//
// A message is flagged \Seen or moved only after it is stored, and its
// UIDVALIDITY and UID are marked in the store in between: a message whose
// flag or move was lost is recognised next time and not taken again. When
// the server changes the mailbox's UIDVALIDITY every message looks new;
// the intake's Message-ID dedupe then keeps them from becoming second
// items.
//
// Run and Poll must not be called concurrently; Close is idempotent.
type IMAPPoller struct {
	cfg   IMAPConfig
	srv   *Server
	marks IMAPMarks
	log   *slog.Logger
	box   string // the marks' mailbox key: user@addr/mailbox

	mu     sync.Mutex
	client *imapclient.Client // guarded by mu: the connection of a poll in progress
}

// PollResult counts what one poll did.
type PollResult struct {
	Stored   int // letters stored (new items or thread messages, or duplicates)
	Resumed  int // letters stored before whose flag or move is now done
	Failed   int // letters left for the next poll
	Oversize int // letters too large for mail.max_message_bytes, left alone
}

// NewIMAPPoller returns a poller of srv's configured mailbox
// (Config.IMAP), which must have an address.
func NewIMAPPoller(srv *Server, marks IMAPMarks, log *slog.Logger) (*IMAPPoller, error) {
	cfg := srv.cfg.IMAP
	if cfg.Addr == "" {
		return nil, errors.New("imap poller: mail.imap.addr not set")
	}
	if marks == nil {
		return nil, errors.New("imap poller: no store for the marks")
	}
	log = orLogger(log).With("imap", cfg.Addr, "mailbox", cfg.Mailbox)
	box := cfg.Username + "@" + cfg.Addr + "/" + cfg.Mailbox
	return &IMAPPoller{cfg: cfg, srv: srv, marks: marks, log: log, box: box}, nil
}

// Run polls at once and then every Interval until ctx is done, and
// returns nil. A failed poll is logged and tried again at the next.
func (p *IMAPPoller) Run(ctx context.Context) error {
	p.log.Info("imap polling", "every", p.cfg.Interval, "after", p.cfg.After)
	tick := time.NewTicker(p.cfg.Interval)
	defer tick.Stop()
	for {
		res, err := p.Poll(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			p.log.Warn("imap poll failed", "err", err)
		case res != PollResult{}:
			p.log.Info("imap poll", "stored", res.Stored, "resumed", res.Resumed,
				"failed", res.Failed, "oversize", res.Oversize)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// Close ends a poll in progress by dropping its connection.
func (p *IMAPPoller) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client != nil {
		_ = p.client.Close()
	}
	return nil
}

// Poll connects, takes every new letter of the mailbox (up to 500) and
// logs out. Cancelling ctx drops the connection.
func (p *IMAPPoller) Poll(ctx context.Context) (PollResult, error) {
	c, err := p.connect()
	if err != nil {
		return PollResult{}, err
	}
	p.mu.Lock()
	p.client = c
	p.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer func() {
		stop()
		p.mu.Lock()
		p.client = nil
		p.mu.Unlock()
		_ = c.Close()
	}()
	res, err := p.poll(ctx, c)
	if err != nil {
		return res, fmt.Errorf("imap poll %s: %w", p.box, err)
	}
	if err := c.Logout().Wait(); err != nil {
		p.log.Debug("imap logout", "err", err)
	}
	return res, nil
}

// connect dials and logs in as configured.
func (p *IMAPPoller) connect() (*imapclient.Client, error) {
	opts := &imapclient.Options{TLSConfig: p.cfg.TLSConfig}
	var (
		c   *imapclient.Client
		err error
	)
	switch p.cfg.TLS {
	case IMAPStartTLS:
		c, err = imapclient.DialStartTLS(p.cfg.Addr, opts)
	case IMAPPlain:
		c, err = imapclient.DialInsecure(p.cfg.Addr, opts)
	default:
		c, err = imapclient.DialTLS(p.cfg.Addr, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("imap dial %s: %w", p.cfg.Addr, err)
	}
	if err := c.Login(p.cfg.Username, p.cfg.Password).Wait(); err != nil {
		c.Close()
		return nil, fmt.Errorf("imap login %s as %s: %w", p.cfg.Addr, p.cfg.Username, err)
	}
	return c, nil
}

// candidate is a message the poll may take.
type candidate struct {
	uid  imap.UID
	size int64
	from string // the envelope sender, from Return-Path or else From
}

func (p *IMAPPoller) poll(ctx context.Context, c *imapclient.Client) (PollResult, error) {
	if p.cfg.After == IMAPMove {
		if err := ensureFolder(c, p.cfg.MoveTo); err != nil {
			return PollResult{}, err
		}
	}
	sel, err := c.Select(p.cfg.Mailbox, nil).Wait()
	if err != nil {
		return PollResult{}, fmt.Errorf("select: %w", err)
	}
	cands, err := p.candidates(c, sel.NumMessages)
	if err != nil {
		return PollResult{}, err
	}
	var res PollResult
	for _, m := range cands {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		if err := p.take(ctx, c, sel.UIDValidity, m, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// ensureFolder creates folder unless it exists.
func ensureFolder(c *imapclient.Client, folder string) error {
	err := c.Create(folder, nil).Wait()
	var ie *imap.Error
	if err == nil || errors.As(err, &ie) && ie.Code == imap.ResponseCodeAlreadyExists {
		return nil
	}
	return fmt.Errorf("create %s: %w", folder, err)
}

// candidates lists the messages to take: unseen ones when marking seen,
// all when moving; never deleted ones.
func (p *IMAPPoller) candidates(c *imapclient.Client, exists uint32) ([]candidate, error) {
	if exists == 0 {
		return nil, nil
	}
	crit := &imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagDeleted}}
	if p.cfg.After == IMAPMarkSeen {
		crit.NotFlag = append(crit.NotFlag, imap.FlagSeen)
	}
	found, err := c.UIDSearch(crit, nil).Wait()
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	uids := found.AllUIDs()
	if len(uids) == 0 {
		return nil, nil
	}
	if len(uids) > maxPollLetters {
		uids = uids[:maxPollLetters]
	}
	hdr := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader,
		HeaderFields: []string{"Return-Path", "From"}, Peek: true}
	msgs, err := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, RFC822Size: true,
		BodySection: []*imap.FetchItemBodySection{hdr}}).Collect()
	if err != nil {
		return nil, fmt.Errorf("fetch headers: %w", err)
	}
	cands := make([]candidate, 0, len(msgs))
	for _, m := range msgs {
		cands = append(cands, candidate{uid: m.UID, size: m.RFC822Size, from: envelopeSender(m.FindBodySection(hdr))})
	}
	return cands, nil
}

// envelopeSender reads the address of a Return-Path header (RFC 5321
// §4.4) or, without one, of From; "" is the null path.
func envelopeSender(header []byte) string {
	h, err := mail.ReadMessage(bufio.NewReader(strings.NewReader(string(header) + "\r\n")))
	if err != nil {
		return ""
	}
	if rp := strings.TrimSpace(h.Header.Get("Return-Path")); rp != "" {
		return strings.Trim(rp, "<> ")
	}
	if a, err := mail.ParseAddress(h.Header.Get("From")); err == nil {
		return a.Address
	}
	return ""
}

// take stores one message and then flags or moves it.
func (p *IMAPPoller) take(ctx context.Context, c *imapclient.Client, validity uint32, m candidate, res *PollResult) error {
	log := p.log.With("uid", uint32(m.uid), "uid_validity", validity)
	seen, err := p.marks.IMAPSeen(ctx, p.box, validity, uint32(m.uid))
	if err != nil {
		return fmt.Errorf("uid %d: %w", m.uid, err)
	}
	switch {
	case seen:
		res.Resumed++
	case m.size > p.srv.cfg.MaxMessageBytes:
		// Not stored, so neither marked nor flagged: it is reported at
		// every poll until someone deals with it.
		log.Warn("imap letter larger than mail.max_message_bytes left in the mailbox", "size", m.size)
		res.Oversize++
		return nil
	default:
		id, err := p.store(c, m)
		if err != nil {
			log.Warn("imap letter not stored, will retry", "err", err)
			res.Failed++
			return nil
		}
		log.Debug("imap letter stored", "message_id", id)
		if err := p.marks.MarkIMAPSeen(ctx, p.box, validity, uint32(m.uid), id); err != nil {
			return fmt.Errorf("uid %d: %w", m.uid, err)
		}
		res.Stored++
	}
	return p.done(c, m.uid)
}

// store fetches the whole message and hands it to the intake.
func (p *IMAPPoller) store(c *imapclient.Client, m candidate) (string, error) {
	cmd := c.Fetch(imap.UIDSetNum(m.uid), &imap.FetchOptions{UID: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	defer cmd.Close()
	msg := cmd.Next()
	if msg == nil {
		return "", fmt.Errorf("fetch uid %d: %w", m.uid, errors.Join(errors.New("no message"), cmd.Close()))
	}
	body := bodyLiteral(msg)
	if body == nil {
		return "", fmt.Errorf("fetch uid %d: no body", m.uid)
	}
	env := envelope{from: m.from, rcpts: []string{p.cfg.Username}, queue: p.cfg.Queue, peer: "imap:" + p.cfg.Addr}
	limited := &sizeLimit{r: body, left: p.srv.cfg.MaxMessageBytes}
	got, err := p.srv.receive(env, limited)
	if err != nil {
		return "", err
	}
	return got.messageID, cmd.Close()
}

// bodyLiteral finds the BODY[] of a fetched message.
func bodyLiteral(msg *imapclient.FetchMessageData) io.Reader {
	for item := msg.Next(); item != nil; item = msg.Next() {
		if b, ok := item.(imapclient.FetchItemDataBodySection); ok && b.Literal != nil {
			return b.Literal
		}
	}
	return nil
}

// done flags or moves a stored message.
func (p *IMAPPoller) done(c *imapclient.Client, uid imap.UID) error {
	set := imap.UIDSetNum(uid)
	if p.cfg.After == IMAPMove {
		if _, err := c.Move(set, p.cfg.MoveTo).Wait(); err != nil {
			return fmt.Errorf("move uid %d to %s: %w", uid, p.cfg.MoveTo, err)
		}
		return nil
	}
	flags := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}
	if err := c.Store(set, flags, nil).Close(); err != nil {
		return fmt.Errorf("flag uid %d seen: %w", uid, err)
	}
	return nil
}

// errTooLarge is a letter longer than its server said.
var errTooLarge = errors.New("letter larger than mail.max_message_bytes")

// sizeLimit fails a read past left bytes.
type sizeLimit struct {
	r    io.Reader
	left int64
}

func (l *sizeLimit) Read(b []byte) (int, error) {
	if l.left <= 0 {
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n > 0 {
			return 0, errTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(b)) > l.left {
		b = b[:l.left]
	}
	n, err := l.r.Read(b)
	l.left -= int64(n)
	return n, err
}
