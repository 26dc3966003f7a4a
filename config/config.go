// Package config is Moroz's configuration: one struct with a documented
// default for every key, loaded from a YAML file, then MOROZ_* environment
// variables, then command-line flags, and validated at load.
//
// A key's environment variable is its path in upper case joined by
// underscores: mail.domains is MOROZ_MAIL_DOMAINS. Lists are comma-separated
// in the environment. configs/moroz.yaml shows every key with its default.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/morozhq/moroz/mail"
	"github.com/morozhq/moroz/messenger"
	"github.com/morozhq/moroz/store"
)

// Defaults for the keys whose zero value is not the default.
const (
	DefaultData        = "moroz-data"
	DefaultHTTPAddr    = "127.0.0.1:8080"
	DefaultSIPAddr     = "127.0.0.1:5060"
	DefaultSIPRealm    = "moroz"
	DefaultSMTPAddr    = "127.0.0.1:2525"
	DefaultLogLevel    = "info"
	DefaultLogFormat   = "auto"
	DefaultSessionTTL  = 12 * time.Hour
	DefaultDrainPeriod = 30 * time.Second
	// DefaultSoftphoneGrace is softphone.grace's default.
	DefaultSoftphoneGrace = 10 * time.Second
	DefaultRTPPorts       = "10000-20000"
	DefaultPromptLang     = "ru"
	DefaultAnnounce       = 30 * time.Second
	DefaultMessageMax     = 3 * time.Minute
	// DefaultCallbackRetry and DefaultCallbackAttempts are the
	// sip.callbacks defaults.
	DefaultCallbackRetry    = 5 * time.Minute
	DefaultCallbackAttempts = 3
	// DefaultOutboxLease, DefaultOutboxPoll and DefaultOutboxRetention
	// are the outbox defaults.
	DefaultOutboxLease     = store.DefaultOutLease
	DefaultOutboxPoll      = store.DefaultOutPoll
	DefaultOutboxRetention = 30 * 24 * time.Hour
)

// Config is every setting of a Moroz node.
type Config struct {
	// Data is the data folder: the embedded store, recordings, attachments.
	// Default "moroz-data" (relative to the working folder). Env MOROZ_DATA.
	Data string `yaml:"data"`
	// DB is a postgres:// URL; empty means the embedded SQLite store in
	// Data. Env MOROZ_DB.
	DB string `yaml:"db"`
	// Log sets the logger.
	Log Log `yaml:"log"`
	// HTTP is the console, the API, health and metrics.
	HTTP HTTP `yaml:"http"`
	// SIP is the native SIP edge.
	SIP SIP `yaml:"sip"`
	// Softphone is the helpers' browser phone (WebRTC).
	Softphone Softphone `yaml:"softphone"`
	// ARI is Asterisk mode; off unless ari.url is set.
	ARI ARI `yaml:"ari"`
	// SMTP is letter intake.
	SMTP SMTP `yaml:"smtp"`
	// Mail is how letters are accepted, auto-replied and answered.
	Mail mail.Config `yaml:"mail"`
	// Messenger is the web forms, the chat widget and the Telegram bot.
	Messenger messenger.Config `yaml:"messenger"`
	// Queues are the router's queues. None configured means the defaults:
	// calls, letters, chats and callbacks. File only.
	Queues []Queue `yaml:"queues"`
	// Outbox is the store's queue of outgoing letters and Telegram
	// replies, which every node on one database shares.
	Outbox Outbox `yaml:"outbox"`
	// Drain is how long SIGTERM waits for live work (calls, requests) to
	// end before stopping anyway. Default 30s. Env MOROZ_DRAIN.
	Drain time.Duration `yaml:"drain"`
}

// Outbox configures how nodes share the store's outbox: each node sends
// only the rows it has claimed, for a lease.
type Outbox struct {
	// Lease is how long a node holds the rows it claimed (renewed while
	// it holds them): the rows of a node that died are sent by another
	// after at most this long. Default 1m. Env MOROZ_OUTBOX_LEASE.
	Lease time.Duration `yaml:"lease"`
	// Poll is how often a node looks for rows to claim: those other nodes
	// queued, retries come due, leases run out. Default 2s. Env
	// MOROZ_OUTBOX_POLL.
	Poll time.Duration `yaml:"poll"`
	// Retention is how long sent rows are kept before they are pruned; 0
	// keeps them for ever. Failed rows are kept. Default 720h (30 days).
	// Env MOROZ_OUTBOX_RETENTION.
	Retention time.Duration `yaml:"retention"`
}

// Log configures log/slog.
type Log struct {
	// Level is debug, info, warn or error. Default info. Env MOROZ_LOG_LEVEL.
	Level string `yaml:"level"`
	// Format is text, json, or auto (text on a terminal, JSON otherwise).
	// Default auto. Env MOROZ_LOG_FORMAT.
	Format string `yaml:"format"`
}

// HTTP configures the HTTP listener.
type HTTP struct {
	// Addr is host:port to listen on; port 0 picks a free port. Default
	// 127.0.0.1:8080. Env MOROZ_HTTP_ADDR.
	Addr string `yaml:"addr"`
	// Origins are the extra origins (scheme://host[:port]) allowed to open
	// the console's websocket and make cookie-authenticated requests; the
	// console's own origin is always allowed. Env MOROZ_HTTP_ORIGINS.
	Origins []string `yaml:"origins"`
	// InsecureCookies drops the Secure flag from the session cookie, for a
	// console served over plain HTTP on a LAN. Loopback addresses never
	// need it. Default false. Env MOROZ_HTTP_INSECURE_COOKIES.
	InsecureCookies bool `yaml:"insecure_cookies"`
	// SessionTTL is how long a console login lasts. Default 12h.
	// Env MOROZ_HTTP_SESSION_TTL.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// PublicURL is where people outside reach Moroz's HTTP listener
	// (scheme://host[:port][/path], as behind a proxy), used for links in
	// letters such as a mailing's unsubscribe link. Empty: the first of
	// Origins, else the listener's own address. Env MOROZ_HTTP_PUBLIC_URL.
	PublicURL string `yaml:"public_url"`
}

// SIP configures the SIP edge.
type SIP struct {
	// Addr is host:port for SIP over UDP and TCP; port 0 picks a free one.
	// Default 127.0.0.1:5060. Env MOROZ_SIP_ADDR.
	Addr string `yaml:"addr"`
	// PublicAddr is the IP address put in SDP and Contact when Moroz is
	// behind a 1:1 NAT that forwards the SIP and RTP ports unchanged; empty
	// means the listening address. Env MOROZ_SIP_PUBLIC_ADDR.
	PublicAddr string `yaml:"public_addr"`
	// Realm is the digest realm desk phones register in. A helper's
	// stored secret is bound to it: changing it needs every SIP password
	// set again. Default moroz. Env MOROZ_SIP_REALM.
	Realm string `yaml:"realm"`
	// RTPPorts is the UDP port range for media, "low-high". Default
	// 10000-20000. Env MOROZ_SIP_RTP_PORTS.
	RTPPorts string `yaml:"rtp_ports"`
	// Lang is the language of the prompts callers hear unless their
	// contact card names one: ru, be or en. Default ru. Env MOROZ_SIP_LANG.
	Lang string `yaml:"lang"`
	// AnnounceEvery is the time between announcements of a waiting
	// caller's place and expected wait. Default 30s, at least 5s.
	// Env MOROZ_SIP_ANNOUNCE_EVERY.
	AnnounceEvery time.Duration `yaml:"announce_every"`
	// VoicemailMax is the longest message a caller may leave. Default 3m,
	// at least 5s. Env MOROZ_SIP_VOICEMAIL_MAX.
	VoicemailMax time.Duration `yaml:"voicemail_max"`
	// GreetingNumber is the number a supervisor dials to record the
	// greeting by phone; empty turns the line off. Env
	// MOROZ_SIP_GREETING_NUMBER.
	GreetingNumber string `yaml:"greeting_number"`
	// GreetingPIN is the PIN of the greeting line, at least 4 digits.
	// Env MOROZ_SIP_GREETING_PIN.
	GreetingPIN string `yaml:"greeting_pin"`
	// Trunk is the SIP trunk callbacks are placed through.
	Trunk Trunk `yaml:"trunk"`
	// Callbacks is when a callback whose number did not answer is tried
	// again.
	Callbacks Callbacks `yaml:"callbacks"`
}

// Callbacks is the retry policy of callbacks dialled through the trunk.
type Callbacks struct {
	// RetryAfter is how long a callback whose number was busy, did not
	// answer or failed waits in its queue before it is offered again.
	// Default 5m, at least 10s. Env MOROZ_SIP_CALLBACKS_RETRY_AFTER.
	RetryAfter time.Duration `yaml:"retry_after"`
	// MaxAttempts is how many unanswered calls of the number close the
	// callback as unreachable. Default 3, 1 to 20. Env
	// MOROZ_SIP_CALLBACKS_MAX_ATTEMPTS.
	MaxAttempts int `yaml:"max_attempts"`
}

// validate checks the retry policy's keys.
func (c Callbacks) validate(bad func(string, string, ...any)) {
	if c.RetryAfter < 10*time.Second {
		bad("sip.callbacks.retry_after", "%v is shorter than 10s", c.RetryAfter)
	}
	if c.MaxAttempts < 1 || c.MaxAttempts > 20 {
		bad("sip.callbacks.max_attempts", "%d is not 1 to 20", c.MaxAttempts)
	}
}

// Trunk is a SIP trunk for outbound calls.
type Trunk struct {
	// Target is the trunk, a sip: URI or host:port; the number called
	// becomes its user part. Empty: no trunk, helpers dial callbacks
	// themselves. Env MOROZ_SIP_TRUNK_TARGET.
	Target string `yaml:"target"`
	// Username and Password answer the trunk's digest challenge; empty
	// when it needs none. Env MOROZ_SIP_TRUNK_USERNAME, MOROZ_SIP_TRUNK_PASSWORD.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// CallerID is the number the called person sees. Default moroz.
	// Env MOROZ_SIP_TRUNK_CALLER_ID.
	CallerID string `yaml:"caller_id"`
}

// validate checks the trunk's keys.
func (t Trunk) validate(bad func(string, string, ...any)) {
	if t.Target == "" {
		return
	}
	hostport := strings.TrimPrefix(t.Target, "sip:")
	if _, after, ok := strings.Cut(hostport, "@"); ok {
		hostport = after
	}
	hostport, _, _ = strings.Cut(hostport, ";")
	if _, _, err := net.SplitHostPort(hostport); err != nil && (!strings.HasPrefix(t.Target, "sip:") || hostport == "") {
		bad("sip.trunk.target", "%q is not a sip: URI or host:port", t.Target)
	}
	if (t.Username == "") != (t.Password == "") {
		bad("sip.trunk.password", "username and password go together")
	}
}

// Softphone configures the WebRTC side of the helpers' browser phone.
type Softphone struct {
	// PublicIPs are the addresses announced to browsers instead of the
	// host's own, for a server behind 1:1 NAT; empty announces the
	// interfaces' addresses. Env MOROZ_SOFTPHONE_PUBLIC_IPS.
	PublicIPs []string `yaml:"public_ips"`
	// STUN are stun: URLs the server and browsers ask for their public
	// address; none by default. Env MOROZ_SOFTPHONE_STUN.
	STUN []string `yaml:"stun"`
	// TURN are turn: or turns: URLs relaying media when no direct path
	// exists; none by default. Env MOROZ_SOFTPHONE_TURN.
	TURN []string `yaml:"turn"`
	// TURNUsername and TURNPassword authenticate to the TURN servers.
	// Env MOROZ_SOFTPHONE_TURN_USERNAME, MOROZ_SOFTPHONE_TURN_PASSWORD.
	TURNUsername string `yaml:"turn_username"`
	TURNPassword string `yaml:"turn_password"`
	// Ports is the UDP port range "low-high" of the browsers' media;
	// empty lets the system choose. Env MOROZ_SOFTPHONE_PORTS.
	Ports string `yaml:"ports"`
	// Grace is how long a helper's browser that lost its connection
	// mid-call may take to come back (a reloaded tab) before the call
	// counts it as gone. Default 10s. Env MOROZ_SOFTPHONE_GRACE.
	Grace time.Duration `yaml:"grace"`
}

// SMTP configures letter intake.
type SMTP struct {
	// Addr is host:port for SMTP intake; port 0 picks a free one. Default
	// 127.0.0.1:2525. Env MOROZ_SMTP_ADDR.
	Addr string `yaml:"addr"`
}

// Default returns the configuration used when nothing is configured.
func Default() Config {
	return Config{
		Data: DefaultData,
		Log:  Log{Level: DefaultLogLevel, Format: DefaultLogFormat},
		HTTP: HTTP{Addr: DefaultHTTPAddr, SessionTTL: DefaultSessionTTL},
		SIP:  defaultSIP(),
		SMTP: SMTP{Addr: DefaultSMTPAddr},

		Softphone: Softphone{Grace: DefaultSoftphoneGrace},
		ARI:       defaultARI(),
		Mail:      mail.Config{}.WithDefaults(),
		Messenger: messenger.Config{}.WithDefaults(),
		Outbox:    Outbox{Lease: DefaultOutboxLease, Poll: DefaultOutboxPoll, Retention: DefaultOutboxRetention},
		Drain:     DefaultDrainPeriod,
	}
}

func defaultSIP() SIP {
	return SIP{Addr: DefaultSIPAddr, RTPPorts: DefaultRTPPorts, Lang: DefaultPromptLang, Realm: DefaultSIPRealm,
		AnnounceEvery: DefaultAnnounce, VoicemailMax: DefaultMessageMax, Trunk: Trunk{CallerID: "moroz"},
		Callbacks: Callbacks{RetryAfter: DefaultCallbackRetry, MaxAttempts: DefaultCallbackAttempts}}
}

// KeyError says which key is wrong and why.
type KeyError struct {
	Key    string // the key's path, such as "http.addr"
	Reason string
}

func (e *KeyError) Error() string { return e.Key + ": " + e.Reason }

// Validate checks every key and returns the problems joined, each a
// *KeyError.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &KeyError{Key: key, Reason: fmt.Sprintf(format, args...)})
	}
	if c.Data == "" && c.DB == "" {
		bad("data", "must not be empty")
	}
	if c.DB != "" {
		if u, err := url.Parse(c.DB); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			bad("db", "want a postgres:// URL")
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "auto", "text", "json":
	default:
		bad("log.format", "%q is not auto, text or json", c.Log.Format)
	}
	checkAddr(bad, "http.addr", c.HTTP.Addr)
	checkAddr(bad, "sip.addr", c.SIP.Addr)
	checkAddr(bad, "smtp.addr", c.SMTP.Addr)
	for _, o := range c.HTTP.Origins {
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" {
			bad("http.origins", "%q is not scheme://host[:port]", o)
		}
	}
	if u, err := url.Parse(c.HTTP.PublicURL); c.HTTP.PublicURL != "" && (err != nil ||
		(u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "") {
		bad("http.public_url", "%q is not http(s)://host[:port][/path]", c.HTTP.PublicURL)
	}
	if c.HTTP.SessionTTL < time.Minute {
		bad("http.session_ttl", "%v is shorter than a minute", c.HTTP.SessionTTL)
	}
	if a, err := netip.ParseAddr(c.SIP.PublicAddr); c.SIP.PublicAddr != "" && (err != nil || a.IsUnspecified()) {
		bad("sip.public_addr", "%q is not a specific IP address", c.SIP.PublicAddr)
	}
	if c.SIP.Realm == "" || strings.ContainsAny(c.SIP.Realm, "\"\\\r\n") {
		bad("sip.realm", "%q is empty or has a quote, backslash or line break", c.SIP.Realm)
	}
	if _, _, err := ParsePortRange(c.SIP.RTPPorts); err != nil {
		bad("sip.rtp_ports", "%v", err)
	}
	switch c.SIP.Lang {
	case "ru", "be", "en":
	default:
		bad("sip.lang", "%q is not ru, be or en", c.SIP.Lang)
	}
	if c.SIP.AnnounceEvery < 5*time.Second {
		bad("sip.announce_every", "%v is shorter than 5s", c.SIP.AnnounceEvery)
	}
	if c.SIP.VoicemailMax < 5*time.Second {
		bad("sip.voicemail_max", "%v is shorter than 5s", c.SIP.VoicemailMax)
	}
	if c.SIP.GreetingNumber != "" && !validPIN(c.SIP.GreetingPIN) {
		bad("sip.greeting_pin", "must be 4 to 16 digits when sip.greeting_number is set")
	}
	c.SIP.Trunk.validate(bad)
	c.SIP.Callbacks.validate(bad)
	c.Softphone.validate(bad)
	c.ARI.validate(bad)
	mc := c.Mail
	mc.DataDir = "-" // given by the node; only the keys are checked here
	if err := mc.Validate(); err != nil {
		errs = append(errs, sectionError("mail", err))
	}
	if c.Outbox.Lease < 5*time.Second {
		bad("outbox.lease", "%v is shorter than 5s", c.Outbox.Lease)
	}
	if c.Outbox.Poll <= 0 || c.Outbox.Poll > c.Outbox.Lease/3 {
		bad("outbox.poll", "%v is not between 0 and a third of outbox.lease", c.Outbox.Poll)
	}
	if c.Outbox.Retention != 0 && c.Outbox.Retention < time.Hour {
		bad("outbox.retention", "%v is neither 0 (keep) nor an hour or longer", c.Outbox.Retention)
	}
	if c.Drain < 0 {
		bad("drain", "must not be negative")
	}
	if err := c.Messenger.Validate(); err != nil {
		errs = append(errs, sectionError("messenger", err))
	}
	if _, err := c.RouterQueues(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func validPIN(pin string) bool {
	if len(pin) < 4 || len(pin) > 16 {
		return false
	}
	for _, r := range pin {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// sectionError turns the error of a package's own validation into a
// KeyError: "mail.domains: ..." names its key; other errors name the
// section.
func sectionError(section string, err error) error {
	msg := err.Error()
	if key, reason, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(key, section) && !strings.Contains(key, " ") {
		return &KeyError{Key: key, Reason: reason}
	}
	return &KeyError{Key: section, Reason: strings.TrimPrefix(msg, section+": ")}
}

func checkAddr(bad func(string, string, ...any), key, addr string) {
	if addr == "" {
		return // the listener is off
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		bad(key, "%q is not host:port", addr)
	}
}

// ParsePortRange parses "low-high" into its bounds.
func ParsePortRange(s string) (low, high int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q is not low-high", s)
	}
	if _, err := fmt.Sscan(a, &low); err != nil {
		return 0, 0, fmt.Errorf("%q is not low-high", s)
	}
	if _, err := fmt.Sscan(b, &high); err != nil {
		return 0, 0, fmt.Errorf("%q is not low-high", s)
	}
	if low < 1024 || high > 65535 || low > high || (high-low) < 1 {
		return 0, 0, fmt.Errorf("%q is not a range of ports within 1024-65535", s)
	}
	return low, high, nil
}

func (s Softphone) validate(bad func(string, string, ...any)) {
	for _, ip := range s.PublicIPs {
		if _, err := netip.ParseAddr(ip); err != nil {
			bad("softphone.public_ips", "%q is not an IP address", ip)
		}
	}
	for _, u := range s.STUN {
		if !strings.HasPrefix(u, "stun:") && !strings.HasPrefix(u, "stuns:") {
			bad("softphone.stun", "%q is not a stun: URL", u)
		}
	}
	for _, u := range s.TURN {
		if !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
			bad("softphone.turn", "%q is not a turn: or turns: URL", u)
		}
	}
	if len(s.TURN) > 0 && (s.TURNUsername == "" || s.TURNPassword == "") {
		bad("softphone.turn_username", "TURN servers need a username and a password")
	}
	if s.Ports != "" {
		if _, _, err := ParsePortRange(s.Ports); err != nil {
			bad("softphone.ports", "%v", err)
		}
	}
	if s.Grace < time.Second {
		bad("softphone.grace", "%v is shorter than 1s", s.Grace)
	}
}
