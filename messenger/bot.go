package messenger

import (
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// defaultBotYAML is the shipped flows; configs/bot.yaml is the same file,
// kept there as the documented sample.
//
//go:embed bot.yaml
var defaultBotYAML []byte

// DefaultMaxMisses is how many messages in a row the bot may fail to
// understand before it calls a helper.
const DefaultMaxMisses = 2

// Texts are one message in each language, by language code (ru, be, en).
type Texts map[string]string

// BotConfig is the chatbot's flows, as written in configs/bot.yaml.
type BotConfig struct {
	// Lang is the language used until the visitor's is known (default ru).
	Lang string `yaml:"lang"`
	// Greeting opens every conversation.
	Greeting Texts `yaml:"greeting"`
	// Hello are words that are only a greeting (answered by Greeting).
	Hello []string `yaml:"hello"`
	// Handoff are the words that ask for a person; HandoffReply answers
	// them when helpers are on duty, NobodyOnDuty when none is logged in,
	// OutOfHours when the queue is closed.
	Handoff      []string `yaml:"handoff"`
	HandoffReply Texts    `yaml:"handoff_reply"`
	NobodyOnDuty Texts    `yaml:"nobody_on_duty"`
	OutOfHours   Texts    `yaml:"out_of_hours"`
	// NotUnderstood answers what matches nothing; after MaxMisses such
	// messages in a row (default 2) the bot hands the chat to a helper.
	NotUnderstood Texts `yaml:"not_understood"`
	MaxMisses     int   `yaml:"max_misses"`
	// FAQ are answers to frequent questions, found by keywords.
	FAQ []FAQ `yaml:"faq"`
	// Letter starts collecting a letter when a message holds one of its
	// keywords: it asks for each field in turn, then answers Done (a
	// template over the fields) and hands the letter to the helpers.
	Letter Letter `yaml:"letter"`
}

// FAQ is one frequent question.
type FAQ struct {
	Name string `yaml:"name"`
	// Keywords in any language; a message holding one gets Answer in the
	// message's language.
	Keywords []string `yaml:"keywords"`
	Answer   Texts    `yaml:"answer"`
}

// Letter is the letter the bot collects.
type Letter struct {
	Keywords []string `yaml:"keywords"`
	Steps    []Step   `yaml:"steps"`
	// Done is a text/template per language over the collected fields,
	// e.g. "Спасибо, {{.name}}!".
	Done Texts `yaml:"done"`
}

// Step asks for one field.
type Step struct {
	Field string `yaml:"field"`
	// Kind is text (default) or int; Min and Max bound an int.
	Kind    string `yaml:"kind"`
	Min     int    `yaml:"min"`
	Max     int    `yaml:"max"`
	Ask     Texts  `yaml:"ask"`
	Invalid Texts  `yaml:"invalid"`
}

// ParseBot reads flows from YAML.
func ParseBot(b []byte) (BotConfig, error) {
	var c BotConfig
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return BotConfig{}, fmt.Errorf("bot flows: %w", err)
	}
	return c, nil
}

// DefaultBot returns the shipped flows.
func DefaultBot() (BotConfig, error) { return ParseBot(defaultBotYAML) }

// Bot runs the flows of one BotConfig. It holds no conversation state, so
// one Bot serves every conversation concurrently.
type Bot struct {
	cfg  BotConfig
	done map[string]*template.Template
}

// NewBot checks c and prepares its templates.
func NewBot(c BotConfig) (*Bot, error) {
	if c.Lang == "" {
		c.Lang = "ru"
	}
	if c.MaxMisses == 0 {
		c.MaxMisses = DefaultMaxMisses
	}
	var errs []error
	for name, t := range map[string]Texts{"greeting": c.Greeting, "handoff_reply": c.HandoffReply,
		"nobody_on_duty": c.NobodyOnDuty, "out_of_hours": c.OutOfHours, "not_understood": c.NotUnderstood} {
		if t[c.Lang] == "" {
			errs = append(errs, fmt.Errorf("bot.%s: no text in %s", name, c.Lang))
		}
	}
	if len(c.Handoff) == 0 {
		errs = append(errs, errors.New("bot.handoff: no words to ask for a person"))
	}
	b := &Bot{cfg: c, done: map[string]*template.Template{}}
	for lang, text := range c.Letter.Done {
		t, err := template.New(lang).Option("missingkey=zero").Parse(text)
		if err != nil {
			errs = append(errs, fmt.Errorf("bot.letter.done.%s: %w", lang, err))
			continue
		}
		b.done[lang] = t
	}
	for i, s := range c.Letter.Steps {
		if s.Field == "" || s.Ask[c.Lang] == "" {
			errs = append(errs, fmt.Errorf("bot.letter.steps[%d]: needs a field and a question in %s", i, c.Lang))
		}
	}
	return b, errors.Join(errs...)
}

// BotState is one conversation's place in the flows. The zero value is a
// conversation that has not started.
type BotState struct {
	Lang      string
	Greeted   bool
	Misses    int               // messages in a row not understood
	Step      int               // the letter step asked, while Collecting
	Collect   bool              // a letter is being collected
	Fields    map[string]string // collected so far
	HandedOff bool              // the bot has passed the chat to helpers
	// AskedOffDuty: the visitor asked for a person while nobody was on
	// duty (the widget then offers the letter form); a quiet chat is then
	// routed to the helpers rather than closed.
	AskedOffDuty bool `json:",omitempty"`
}

// Env is what the bot knows of the contact centre when it answers.
type Env struct {
	Open   bool // the queue is within business hours
	OnDuty bool // at least one helper is logged in to the queue
}

// Turn is the bot's answer to one message.
type Turn struct {
	Replies []string
	// Handoff passes the conversation to the helpers' queue; Live says a
	// person asked to talk now (a collected letter can wait).
	Handoff bool
	Live    bool
	// Fields are the fields this message filled in.
	Fields map[string]string
}

// Respond advances s by the visitor's text and returns the bot's answer.
// It is a pure function of s, text and env.
func (b *Bot) Respond(s *BotState, text string, env Env) Turn {
	var t Turn
	if s.Lang == "" {
		s.Lang = b.cfg.Lang
	}
	words := tokens(text)
	if lang := detectLang(text); lang != "" && !s.Collect && !strings.HasPrefix(text, "/") {
		s.Lang = lang // an answer to a step (a city, a name) says little of the language
	}
	if !s.Greeted {
		s.Greeted = true
		t.Replies = append(t.Replies, b.text(b.cfg.Greeting, s.Lang))
		if len(words) == 0 || b.only(words, b.cfg.Hello) {
			return t
		}
	}
	switch {
	case s.HandedOff:
		return t // a helper answers from now on
	case matches(words, text, b.cfg.Handoff):
		return b.handoff(s, t, env, true)
	case s.Collect:
		return b.collect(s, t, text)
	}
	if faq := b.faq(words, text); faq != nil {
		s.Misses = 0
		t.Replies = append(t.Replies, b.text(faq.Answer, s.Lang))
		return t
	}
	if len(b.cfg.Letter.Steps) > 0 && matches(words, text, b.cfg.Letter.Keywords) {
		s.Collect, s.Step, s.Misses = true, -1, 0
		return b.ask(s, t)
	}
	if b.only(words, b.cfg.Hello) && len(t.Replies) == 0 {
		t.Replies = append(t.Replies, b.text(b.cfg.Greeting, s.Lang))
		return t
	}
	s.Misses++
	if s.Misses >= b.cfg.MaxMisses {
		return b.handoff(s, t, env, true)
	}
	t.Replies = append(t.Replies, b.text(b.cfg.NotUnderstood, s.Lang))
	return t
}

// handoff passes the conversation to the helpers, saying when they answer.
func (b *Bot) handoff(s *BotState, t Turn, env Env, live bool) Turn {
	t.Handoff, t.Live = true, live
	s.HandedOff, s.Collect = true, false
	switch {
	case !env.Open:
		t.Replies = append(t.Replies, b.text(b.cfg.OutOfHours, s.Lang))
	case !env.OnDuty:
		t.Replies = append(t.Replies, b.text(b.cfg.NobodyOnDuty, s.Lang))
	default:
		t.Replies = append(t.Replies, b.text(b.cfg.HandoffReply, s.Lang))
	}
	return t
}

// collect takes the answer to the step asked and asks the next.
func (b *Bot) collect(s *BotState, t Turn, text string) Turn {
	step := b.cfg.Letter.Steps[s.Step]
	v, ok := step.clean(text)
	if !ok {
		msg := b.text(step.Invalid, s.Lang)
		if msg == "" {
			msg = b.text(step.Ask, s.Lang)
		}
		t.Replies = append(t.Replies, msg)
		return t
	}
	if s.Fields == nil {
		s.Fields = map[string]string{}
	}
	s.Fields[step.Field] = v
	t.Fields = map[string]string{step.Field: v}
	return b.ask(s, t)
}

// ask asks the next step whose field is not known yet, or ends the letter.
func (b *Bot) ask(s *BotState, t Turn) Turn {
	steps := b.cfg.Letter.Steps
	for s.Step++; s.Step < len(steps); s.Step++ {
		if s.Fields[steps[s.Step].Field] == "" {
			t.Replies = append(t.Replies, b.text(steps[s.Step].Ask, s.Lang))
			return t
		}
	}
	s.Collect = false
	if done := b.render(s); done != "" {
		t.Replies = append(t.Replies, done)
	}
	t.Handoff, s.HandedOff = true, true
	return t
}

func (b *Bot) render(s *BotState) string {
	tm := b.done[s.Lang]
	if tm == nil {
		tm = b.done[b.cfg.Lang]
	}
	if tm == nil {
		return ""
	}
	var sb strings.Builder
	if err := tm.Execute(&sb, s.Fields); err != nil {
		return ""
	}
	return sb.String()
}

func (st Step) clean(text string) (string, bool) {
	v := strings.Join(strings.Fields(text), " ")
	if v == "" || len([]rune(v)) > 1000 {
		return "", false
	}
	if st.Kind != KindInt {
		return v, true
	}
	n, err := strconv.Atoi(strings.Trim(v, " .!"))
	if err != nil || (st.Min != 0 || st.Max != 0) && (n < st.Min || n > st.Max) {
		return "", false
	}
	return strconv.Itoa(n), true
}

func (b *Bot) faq(words []string, text string) *FAQ {
	for i := range b.cfg.FAQ {
		if matches(words, text, b.cfg.FAQ[i].Keywords) {
			return &b.cfg.FAQ[i]
		}
	}
	return nil
}

// text picks the text in lang, else in the default language.
func (b *Bot) text(t Texts, lang string) string {
	if s := t[lang]; s != "" {
		return s
	}
	return t[b.cfg.Lang]
}

// only reports whether every word is one of list (a bare greeting).
func (b *Bot) only(words, list []string) bool {
	if len(words) == 0 {
		return false
	}
	for _, w := range words {
		if !slices.Contains(list, w) {
			return false
		}
	}
	return true
}

// matches reports whether the text holds a keyword: a keyword of one word
// matches a word's beginning (so "подарок" matches "подарки" only when
// written as the stem "подар"), one of several words matches as a phrase.
func matches(words []string, text string, keywords []string) bool {
	lower := " " + strings.Join(tokens(text), " ") + " "
	for _, k := range keywords {
		k = strings.ToLower(k)
		if strings.Contains(k, " ") {
			if strings.Contains(lower, " "+k) {
				return true
			}
			continue
		}
		for _, w := range words {
			if strings.HasPrefix(w, k) {
				return true
			}
		}
	}
	return false
}

// tokens splits text into lower-case words of letters and digits ("/start"
// keeps its slash).
func tokens(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '/' && r != '\''
	})
}

// detectLang guesses the language of text: Belarusian by its letters і
// and ў, Russian by Cyrillic, English by Latin letters; "" when it has no
// letters.
func detectLang(text string) string {
	var cyr, lat bool
	for _, r := range strings.ToLower(text) {
		switch {
		case r == 'і' || r == 'ў':
			return "be"
		case unicode.Is(unicode.Cyrillic, r):
			cyr = true
		case r < 128 && unicode.IsLetter(r):
			lat = true
		}
	}
	switch {
	case cyr:
		return "ru"
	case lat:
		return "en"
	}
	return ""
}
