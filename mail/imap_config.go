package mail

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Defaults for IMAPConfig.
const (
	DefaultIMAPMailbox  = "INBOX"
	DefaultIMAPInterval = time.Minute
	DefaultIMAPTLS      = IMAPTLS
	DefaultIMAPAfter    = IMAPMarkSeen
)

// IMAPConfig.TLS modes.
const (
	IMAPTLS      = "tls"      // TLS from the first byte (port 993)
	IMAPStartTLS = "starttls" // plain connection upgraded by STARTTLS
	IMAPPlain    = "none"     // no TLS: only for a server on this machine
)

// IMAPConfig.After actions.
const (
	IMAPMarkSeen = "seen" // flag the message \Seen
	IMAPMove     = "move" // move it to MoveTo
)

// IMAPConfig says which existing mailbox Moroz polls for letters
// (mail.imap.*). Polling is off while Addr is empty.
type IMAPConfig struct {
	// Addr is the IMAP server's host:port (mail.imap.addr).
	Addr string `yaml:"addr"`
	// TLS is IMAPTLS, IMAPStartTLS or IMAPPlain (mail.imap.tls). Default
	// DefaultIMAPTLS.
	TLS string `yaml:"tls"`
	// Username and Password log in (mail.imap.username, .password; the
	// password better in MOROZ_MAIL_IMAP_PASSWORD).
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// Mailbox is the folder polled (mail.imap.mailbox). Default
	// DefaultIMAPMailbox.
	Mailbox string `yaml:"mailbox"`
	// Interval is the time between polls (mail.imap.interval). Default
	// DefaultIMAPInterval.
	Interval time.Duration `yaml:"interval"`
	// After is what is done to a message once it is stored: IMAPMarkSeen
	// or IMAPMove (mail.imap.after). Default DefaultIMAPAfter.
	After string `yaml:"after"`
	// MoveTo is the folder stored messages are moved to with IMAPMove; it
	// is created when missing (mail.imap.move_to).
	MoveTo string `yaml:"move_to"`
	// Queue is where polled letters go (mail.imap.queue). Default
	// mail.queue.
	Queue string `yaml:"queue"`
	// TLSConfig, when set, replaces the default TLS settings (tests).
	TLSConfig *tls.Config `yaml:"-"`
}

func (c IMAPConfig) withDefaults(queue string) IMAPConfig {
	c.TLS = or(c.TLS, DefaultIMAPTLS)
	c.Mailbox = or(c.Mailbox, DefaultIMAPMailbox)
	c.Interval = orDur(c.Interval, DefaultIMAPInterval)
	c.After = or(c.After, DefaultIMAPAfter)
	c.Queue = or(c.Queue, queue)
	return c
}

// validate reports the first wrong key of c, after defaults.
func (c IMAPConfig) validate() error {
	if c.Addr == "" {
		return nil
	}
	switch {
	case !strings.Contains(c.Addr, ":"):
		return fmt.Errorf("mail.imap.addr: %q is not host:port", c.Addr)
	case c.TLS != IMAPTLS && c.TLS != IMAPStartTLS && c.TLS != IMAPPlain:
		return fmt.Errorf("mail.imap.tls: %q is not tls, starttls or none", c.TLS)
	case c.Username == "":
		return errors.New("mail.imap.username: required with mail.imap.addr")
	case c.Interval < time.Second:
		return fmt.Errorf("mail.imap.interval: %s is below 1s", c.Interval)
	case c.After != IMAPMarkSeen && c.After != IMAPMove:
		return fmt.Errorf("mail.imap.after: %q is not seen or move", c.After)
	case c.After == IMAPMove && (c.MoveTo == "" || c.MoveTo == c.Mailbox):
		return errors.New("mail.imap.move_to: a folder other than mail.imap.mailbox is required to move")
	}
	return nil
}
