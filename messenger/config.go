package messenger

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"time"
)

// Defaults of Config.
const (
	DefaultMaxBody         = 64 << 10 // bytes of a form post
	DefaultRatePerMinute   = 10       // form posts per client address
	DefaultRateBurst       = 5
	DefaultTelegramAPI     = "https://api.telegram.org"
	DefaultPollTimeout     = 30 * time.Second
	DefaultTelegramRate    = 30 // messages per second, over all chats
	DefaultMaxAttachment   = 20 << 20
	DefaultChatMaxMessage  = 4096 // characters of one chat line
	defaultFieldMaxLength  = 1000
	defaultTelegramPerChat = 1 // messages per second to one chat
	DefaultBotQuiet        = time.Hour
)

// Config is the messenger's configuration: the forms, who may call them,
// the Telegram bot and the chat widget. Its zero value, passed through
// WithDefaults, serves the letter form and the chat, with Telegram off.
type Config struct {
	// Forms are the web forms by name; nil means the letter form
	// (LetterForm).
	Forms []Form `yaml:"forms"`
	// AllowedOrigins are the sites (scheme://host[:port]) whose pages may
	// post the forms and open the chat: CORS and the websocket's Origin
	// check. Empty allows none but same-origin requests.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// MaxBody is the largest form body in bytes (default 64 KiB); larger
	// posts get 413.
	MaxBody int64 `yaml:"max_body"`
	// RatePerMinute and RateBurst limit form posts per client address
	// (defaults 10 a minute, bursts of 5); more get 429 with Retry-After.
	// Chat connections have a looser limit of their own.
	RatePerMinute int `yaml:"rate_per_minute"`
	RateBurst     int `yaml:"rate_burst"`
	// TrustProxy takes the client address from X-Forwarded-For (the last
	// hop) when Moroz runs behind a reverse proxy. Off by default.
	TrustProxy bool `yaml:"trust_proxy"`
	// Telegram is the bot; off while its Token is empty.
	Telegram Telegram `yaml:"telegram"`
	// SecureCookie gives the chat's visitor cookie the Secure flag and
	// SameSite=None, for sites on another domain served over HTTPS.
	SecureCookie bool `yaml:"secure_cookie"`
	// BotQuiet is how long a chat only the bot has answered (Telegram or
	// the widget) stays open without a message; then it is closed as
	// auto-replied, and the visitor's next message starts a new chat with
	// the bot. Default 1h.
	BotQuiet time.Duration `yaml:"bot_quiet"`
}

// Telegram configures the Telegram bot.
type Telegram struct {
	// Token is the bot's token from @BotFather; empty turns Telegram off.
	Token string `yaml:"token"`
	// API is the Bot API base URL (default https://api.telegram.org).
	API string `yaml:"api"`
	// WebhookSecret is the secret_token given to setWebhook; the webhook
	// refuses updates without it (401). Required for the webhook.
	WebhookSecret string `yaml:"webhook_secret"`
	// Poll takes updates by long polling (getUpdates) instead of the
	// webhook.
	Poll bool `yaml:"poll"`
	// PollTimeout is getUpdates' long-poll timeout (default 30s).
	PollTimeout time.Duration `yaml:"poll_timeout"`
	// RatePerSecond limits messages sent over all chats (default 30);
	// each chat gets at most one a second.
	RatePerSecond int `yaml:"rate_per_second"`
	// MaxAttachment is the largest photo or voice note fetched, in bytes
	// (default 20 MiB, the Bot API's own limit for getFile).
	MaxAttachment int64 `yaml:"max_attachment"`
}

// Form describes one web form.
type Form struct {
	// Name is the {form} of POST /api/v1/forms/{form}.
	Name string `yaml:"name"`
	// Queue is where its items wait; empty means the channel's default.
	Queue string `yaml:"queue"`
	// Subject names the field whose value becomes the item's subject.
	Subject string `yaml:"subject"`
	// Honeypot names a field people never see: a post that fills it is
	// spam, answered as if accepted and not stored. Empty: none.
	Honeypot string `yaml:"honeypot"`
	// Fields are the fields it accepts; others are refused.
	Fields []Field `yaml:"fields"`
}

// Field is one field of a form.
type Field struct {
	// Name is the field's key in the posted body.
	Name string `yaml:"name"`
	// Required fields must be present and not blank.
	Required bool `yaml:"required"`
	// Kind is text (default), int or email. An email field becomes the
	// contact's identity.
	Kind string `yaml:"kind"`
	// Min and Max bound an int field (both zero: any).
	Min int `yaml:"min"`
	Max int `yaml:"max"`
	// MaxLength bounds a text field in characters (default 1000).
	MaxLength int `yaml:"max_length"`
	// Contact names where the value goes on the contact: "name" (its
	// name), "field" (Fields[Name]), or empty (only the item's data).
	Contact string `yaml:"contact"`
}

// Field kinds.
const (
	KindText  = "text"
	KindInt   = "int"
	KindEmail = "email"
)

// LetterForm is the example form: a letter to Ded Moroz.
func LetterForm() Form {
	return Form{
		Name: "letter", Subject: "wish", Honeypot: "website",
		Fields: []Field{
			{Name: "name", Required: true, MaxLength: 100, Contact: "name"},
			{Name: "age", Kind: KindInt, Min: 1, Max: 120, Contact: "field"},
			{Name: "city", MaxLength: 100, Contact: "field"},
			{Name: "wish", Required: true, MaxLength: 4000, Contact: "field"},
			{Name: "email", Kind: KindEmail, MaxLength: 254},
		},
	}
}

// WithDefaults returns c with its zero fields set to the defaults.
func (c Config) WithDefaults() Config {
	if c.Forms == nil {
		c.Forms = []Form{LetterForm()}
	}
	if c.MaxBody == 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.RatePerMinute == 0 {
		c.RatePerMinute = DefaultRatePerMinute
	}
	if c.RateBurst == 0 {
		c.RateBurst = DefaultRateBurst
	}
	if c.BotQuiet == 0 {
		c.BotQuiet = DefaultBotQuiet
	}
	t := &c.Telegram
	if t.API == "" {
		t.API = DefaultTelegramAPI
	}
	if t.PollTimeout == 0 {
		t.PollTimeout = DefaultPollTimeout
	}
	if t.RatePerSecond == 0 {
		t.RatePerSecond = DefaultTelegramRate
	}
	if t.MaxAttachment == 0 {
		t.MaxAttachment = DefaultMaxAttachment
	}
	for i := range c.Forms {
		for j := range c.Forms[i].Fields {
			f := &c.Forms[i].Fields[j]
			if f.Kind == "" {
				f.Kind = KindText
			}
			if f.MaxLength == 0 {
				f.MaxLength = defaultFieldMaxLength
			}
		}
	}
	return c
}

var formName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Validate reports the first wrong key of c (after WithDefaults), naming it.
func (c Config) Validate() error {
	var errs []error
	seen := map[string]bool{}
	for i, f := range c.Forms {
		key := fmt.Sprintf("messenger.forms[%d]", i)
		if !formName.MatchString(f.Name) {
			errs = append(errs, fmt.Errorf("%s.name %q: want lower-case letters, digits, - or _", key, f.Name))
		}
		if seen[f.Name] {
			errs = append(errs, fmt.Errorf("%s.name %q: named twice", key, f.Name))
		}
		seen[f.Name] = true
		errs = append(errs, f.validate(key))
	}
	for i, o := range c.AllowedOrigins {
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" {
			errs = append(errs, fmt.Errorf("messenger.allowed_origins[%d] %q: want scheme://host[:port]", i, o))
		}
	}
	if c.BotQuiet < time.Minute {
		errs = append(errs, fmt.Errorf("messenger.bot_quiet %s: want a minute or more", c.BotQuiet))
	}
	if c.MaxBody < 0 || c.RatePerMinute < 0 || c.RateBurst < 0 {
		errs = append(errs, errors.New("messenger: max_body, rate_per_minute and rate_burst must not be negative"))
	}
	t := c.Telegram
	if t.Token != "" && !t.Poll && t.WebhookSecret == "" {
		errs = append(errs, errors.New("messenger.telegram.webhook_secret: required for the webhook (or set poll)"))
	}
	if t.WebhookSecret != "" && !webhookSecret.MatchString(t.WebhookSecret) {
		errs = append(errs, errors.New("messenger.telegram.webhook_secret: want 1 to 256 of A-Z, a-z, 0-9, _ and - (Telegram's secret_token)"))
	}
	if _, err := url.Parse(t.API); err != nil {
		errs = append(errs, fmt.Errorf("messenger.telegram.api %q: %w", t.API, err))
	}
	return errors.Join(errs...)
}

func (f Form) validate(key string) error {
	var errs []error
	names := map[string]bool{}
	for j, fl := range f.Fields {
		fk := fmt.Sprintf("%s.fields[%d]", key, j)
		if fl.Name == "" || names[fl.Name] {
			errs = append(errs, fmt.Errorf("%s.name %q: empty or named twice", fk, fl.Name))
		}
		names[fl.Name] = true
		if !slices.Contains([]string{KindText, KindInt, KindEmail}, fl.Kind) {
			errs = append(errs, fmt.Errorf("%s.kind %q: want text, int or email", fk, fl.Kind))
		}
		if !slices.Contains([]string{"", "name", "field"}, fl.Contact) {
			errs = append(errs, fmt.Errorf("%s.contact %q: want name, field or nothing", fk, fl.Contact))
		}
	}
	if f.Subject != "" && !names[f.Subject] {
		errs = append(errs, fmt.Errorf("%s.subject %q: no such field", key, f.Subject))
	}
	if f.Honeypot != "" && names[f.Honeypot] {
		errs = append(errs, fmt.Errorf("%s.honeypot %q: is also a field", key, f.Honeypot))
	}
	return errors.Join(errs...)
}
