package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// DefaultRelayTimeout bounds one delivery to the relay.
const DefaultRelayTimeout = 2 * time.Minute

// RelayConfig names the SMTP relay outbound letters go through
// (mail.relay.*).
type RelayConfig struct {
	// Addr is the relay's host:port (mail.relay.addr).
	Addr string `yaml:"addr"`
	// Username and Password, when Username is set, log in with AUTH PLAIN
	// (mail.relay.username, mail.relay.password); only over TLS unless the
	// relay is on loopback.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// StartTLS requires STARTTLS before anything is sent
	// (mail.relay.starttls).
	StartTLS bool `yaml:"starttls"`
	// TLS, when set, is used for STARTTLS instead of the system roots with
	// the relay's host name.
	TLS *tls.Config `yaml:"-"`
	// Helo is the name Moroz gives in EHLO; default the first mail domain.
	Helo string `yaml:"helo"`
	// Timeout bounds one delivery (mail.relay.timeout). Default
	// DefaultRelayTimeout.
	Timeout time.Duration `yaml:"timeout"`
}

// Relay is a Sender that delivers through one SMTP relay, one connection
// per letter. It is safe for concurrent use.
type Relay struct {
	cfg RelayConfig
}

// NewRelay returns a Relay for cfg.
func NewRelay(cfg RelayConfig) (*Relay, error) {
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("mail.relay.addr: %w", err)
	}
	cfg.Timeout = orDur(cfg.Timeout, DefaultRelayTimeout)
	cfg.Helo = or(cfg.Helo, DefaultDomain)
	if cfg.TLS == nil {
		cfg.TLS = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	return &Relay{cfg: cfg}, nil
}

// Send delivers m to the relay. A 5xx answer is a *PermanentError.
func (r *Relay) Send(ctx context.Context, m Outgoing) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", r.cfg.Addr)
	if err != nil {
		return fmt.Errorf("relay %s: %w", r.cfg.Addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	c, err := r.open(conn)
	if err != nil {
		_ = conn.Close()
		return classify(fmt.Errorf("relay %s: %w", r.cfg.Addr, err))
	}
	defer c.Close()
	if err := r.deliver(c, m); err != nil {
		return classify(fmt.Errorf("relay %s: send %s: %w", r.cfg.Addr, m.MessageID, err))
	}
	return nil
}

// open greets the relay and, when configured, starts TLS. go-smtp greets
// as "localhost" before STARTTLS; Helo is used on plain connections.
func (r *Relay) open(conn net.Conn) (*smtp.Client, error) {
	if r.cfg.StartTLS {
		c, err := smtp.NewClientStartTLS(conn, r.cfg.TLS)
		if err != nil {
			return nil, fmt.Errorf("starttls: %w", err)
		}
		return c, nil
	}
	c := smtp.NewClient(conn)
	if err := c.Hello(r.cfg.Helo); err != nil {
		c.Close()
		return nil, fmt.Errorf("ehlo: %w", err)
	}
	return c, nil
}

func (r *Relay) deliver(c *smtp.Client, m Outgoing) error {
	if r.cfg.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", r.cfg.Username, r.cfg.Password)); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.Mail(m.From, nil); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	for _, to := range m.To {
		if err := c.Rcpt(to, nil); err != nil {
			return fmt.Errorf("rcpt %s: %w", to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(m.Raw); err != nil {
		w.Close()
		return fmt.Errorf("data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	return c.Quit()
}

// classify marks a 5xx answer as permanent.
func classify(err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) && se.Code >= 500 && se.Code < 600 {
		return &PermanentError{Err: err}
	}
	return err
}
