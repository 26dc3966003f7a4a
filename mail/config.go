package mail

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Defaults for Config.
const (
	DefaultDomain          = "localhost"
	DefaultListen          = ":2525"
	DefaultQueue           = "letters"
	DefaultMaxMessageBytes = 25 << 20
	DefaultMaxRecipients   = 50
	DefaultMaxLineLength   = 2000
	DefaultTimeout         = 5 * time.Minute
	DefaultStoreTimeout    = 30 * time.Second
	DefaultDrainTimeout    = 10 * time.Second
	DefaultAutoReplyWindow = 24 * time.Hour
	DefaultAutoReplyFrom   = "ded-moroz"
)

// Config is the mail section of moroz.yaml. Keys map to environment
// variables by path: mail.domains is MOROZ_MAIL_DOMAINS.
type Config struct {
	// Domains are the domains whose letters Moroz accepts (mail.domains,
	// comma-separated in MOROZ_MAIL_DOMAINS). Default [DefaultDomain]. The
	// first is Moroz's own: it names auto-replies' Message-IDs.
	Domains []string `yaml:"domains"`
	// Listen is the SMTP intake address (smtp.addr, flag --smtp).
	// Default DefaultListen; port 0 picks a free one.
	Listen string `yaml:"-"`
	// Queue is where letters go (mail.queue). Default DefaultQueue.
	Queue string `yaml:"queue"`
	// Mailboxes maps local parts to queues (mail.mailboxes). When empty,
	// every local part of Domains is accepted into Queue; otherwise only
	// the listed ones, and the rest get 550.
	Mailboxes map[string]string `yaml:"mailboxes"`
	// MaxMessageBytes is the largest letter accepted, in bytes; larger ones
	// get 552 (mail.max_message_bytes). Default DefaultMaxMessageBytes.
	MaxMessageBytes int64 `yaml:"max_message_bytes"`
	// MaxRecipients bounds RCPT TO per letter (mail.max_recipients).
	// Default DefaultMaxRecipients.
	MaxRecipients int `yaml:"max_recipients"`
	// MaxLineLength bounds a command or letter line in bytes
	// (mail.max_line_length). Default DefaultMaxLineLength.
	MaxLineLength int `yaml:"max_line_length"`
	// Timeout bounds each read and write on a connection (mail.timeout).
	// Default DefaultTimeout.
	Timeout time.Duration `yaml:"timeout"`
	// StoreTimeout bounds storing one letter (mail.store_timeout). Default
	// DefaultStoreTimeout.
	StoreTimeout time.Duration `yaml:"store_timeout"`
	// DrainTimeout is how long a stopping intake waits for its clients to
	// finish and say QUIT before it drops them (mail.drain_timeout); a
	// dropped client got no 250 and sends again. Default
	// DefaultDrainTimeout.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// TLSCert and TLSKey are PEM files; with both set the intake offers
	// STARTTLS (mail.tls_cert, mail.tls_key).
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// DataDir is the folder raw letters and attachments are kept under,
	// in its "mail" subfolder (the --data folder). Required.
	DataDir string `yaml:"-"`
	// Parse bounds the MIME parser (mail.parse.*).
	Parse ParseOptions `yaml:"parse"`
	// AutoReply configures RFC 3834 auto-replies (mail.auto_reply.*).
	AutoReply AutoReplyConfig `yaml:"auto_reply"`
	// Relay is where answers and auto-replies go out (mail.relay.*), for
	// NewRelay; Outbox tunes their queue (mail.outbox.*), for NewOutbox.
	// The Server itself uses neither.
	Relay  RelayConfig  `yaml:"relay"`
	Outbox OutboxConfig `yaml:"outbox"`
	// IMAP is an existing mailbox polled for letters (mail.imap.*), for
	// NewIMAPPoller; the Server itself does not poll.
	IMAP IMAPConfig `yaml:"imap"`
}

// AutoReplyConfig says whether and how letters get an auto-reply.
type AutoReplyConfig struct {
	// Enabled turns auto-replies on (mail.auto_reply.enabled). Default off.
	Enabled bool `yaml:"enabled"`
	// From is the local part auto-replies come from, on the first domain
	// (mail.auto_reply.from). Default DefaultAutoReplyFrom.
	From string `yaml:"from"`
	// Name is the display name of From (mail.auto_reply.name).
	Name string `yaml:"name"`
	// Window is how long a sender gets no second auto-reply
	// (mail.auto_reply.window). Default DefaultAutoReplyWindow.
	Window time.Duration `yaml:"window"`
	// Subject and Body are text/template sources over AutoReplyData
	// (mail.auto_reply.subject, .body). Defaults DefaultAutoReplySubject
	// and DefaultAutoReplyBody.
	Subject string `yaml:"subject"`
	Body    string `yaml:"body"`
	// Langs are the auto-reply in other languages, by language tag ("en",
	// "be"), chosen by the letter's Content-Language or, without one, its
	// script (mail.auto_reply.langs.<tag>.subject, .body). Subject and Body
	// serve every other letter.
	Langs map[string]ReplyText `yaml:"langs"`
	// Closes lists queues whose policy is that the auto-reply answers the
	// letter: it is closed as auto-replied (mail.auto_reply.closes). In
	// every other queue the letter still waits for a personal answer.
	Closes []string `yaml:"closes"`
}

// ReplyText is an auto-reply's subject and body templates in one language.
type ReplyText struct {
	Subject string `yaml:"subject"`
	Body    string `yaml:"body"`
}

// withDefaults returns c with every zero field that has a default set.
// WithDefaults returns c with its zero fields set to the defaults.
func (c Config) WithDefaults() Config { return c.withDefaults() }

func (c Config) withDefaults() Config {
	if len(c.Domains) == 0 {
		c.Domains = []string{DefaultDomain}
	}
	domains := make([]string, len(c.Domains))
	for i, d := range c.Domains {
		domains[i] = strings.ToLower(strings.TrimSpace(d))
	}
	c.Domains = domains
	if len(c.Mailboxes) > 0 {
		boxes := make(map[string]string, len(c.Mailboxes))
		for box, q := range c.Mailboxes {
			boxes[strings.ToLower(box)] = q
		}
		c.Mailboxes = boxes
	}
	c.Listen = or(c.Listen, DefaultListen)
	c.Queue = or(c.Queue, DefaultQueue)
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.MaxRecipients == 0 {
		c.MaxRecipients = DefaultMaxRecipients
	}
	if c.MaxLineLength == 0 {
		c.MaxLineLength = DefaultMaxLineLength
	}
	c.Timeout = orDur(c.Timeout, DefaultTimeout)
	c.StoreTimeout = orDur(c.StoreTimeout, DefaultStoreTimeout)
	c.DrainTimeout = orDur(c.DrainTimeout, DefaultDrainTimeout)
	a := &c.AutoReply
	a.From = or(a.From, DefaultAutoReplyFrom)
	a.Window = orDur(a.Window, DefaultAutoReplyWindow)
	a.Subject = or(a.Subject, DefaultAutoReplySubject)
	a.Body = or(a.Body, DefaultAutoReplyBody)
	c.Parse = c.Parse.withDefaults()
	c.IMAP = c.IMAP.withDefaults(c.Queue)
	return c
}

// Validate reports the first wrong key of c, after defaults, by its path.
func (c Config) Validate() error {
	c = c.withDefaults()
	for _, d := range c.Domains {
		if d == "" || strings.ContainsAny(d, "@ \t<>") {
			return fmt.Errorf("mail.domains: %q is not a domain", d)
		}
	}
	switch {
	case c.DataDir == "":
		return errors.New("mail: data folder not set")
	case c.MaxMessageBytes < 1024:
		return fmt.Errorf("mail.max_message_bytes: %d is below 1024", c.MaxMessageBytes)
	case c.MaxRecipients < 1:
		return fmt.Errorf("mail.max_recipients: %d is below 1", c.MaxRecipients)
	case c.MaxLineLength < 1000:
		return fmt.Errorf("mail.max_line_length: %d is below RFC 5321's 1000", c.MaxLineLength)
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return errors.New("mail.tls_cert, mail.tls_key: set both or neither")
	case c.Timeout < 0 || c.StoreTimeout < 0 || c.DrainTimeout < 0 || c.AutoReply.Window < 0:
		return errors.New("mail: timeouts and windows must not be negative")
	}
	for box, q := range c.Mailboxes {
		if box == "" || strings.Contains(box, "@") || q == "" {
			return fmt.Errorf("mail.mailboxes: %q: %q is not a local part and a queue", box, q)
		}
	}
	if _, err := newReplyTemplates(c.AutoReply); err != nil {
		return fmt.Errorf("mail.auto_reply: %w", err)
	}
	return c.IMAP.validate()
}

// ownDomain reports whether d (lower-case) is one of Moroz's domains.
func (c Config) ownDomain(d string) bool {
	for _, o := range c.Domains {
		if d == o {
			return true
		}
	}
	return false
}

// queueFor returns the queue of a recipient on Moroz's domains and whether
// such a mailbox exists.
func (c Config) queueFor(local string) (string, bool) {
	if len(c.Mailboxes) == 0 {
		return c.Queue, true
	}
	q, ok := c.Mailboxes[strings.ToLower(local)]
	return q, ok
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orDur(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
