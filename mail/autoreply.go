package mail

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"
	"time"
)

// Reasons ShouldAutoReply gives. Only ReasonSend means a reply goes out.
const (
	ReasonSend          = "send"
	ReasonAutoSubmitted = "auto-submitted letter"   // RFC 3834 §5
	ReasonPrecedence    = "bulk, list or junk mail" // Precedence, RFC 3834 §2
	ReasonList          = "mailing list"            // List-Id, RFC 2919
	ReasonNullPath      = "null return path"        // RFC 3834 §2, bounces
	ReasonRobot         = "robot or role sender"    // RFC 3834 §2
	ReasonOwn           = "Moroz's own address"
	ReasonNoAddress     = "no address to reply to"
	ReasonWindow        = "already auto-replied in the window"
)

// AutoReplyInput is everything the auto-reply decision looks at.
type AutoReplyInput struct {
	Letter *Letter
	// ReturnPath is the envelope sender (MAIL FROM), where RFC 3834 §4 says
	// the reply goes; empty is the null path.
	ReturnPath string
	OwnDomains []string // lower-case
	// LastReplied is when this sender last got an auto-reply; zero when
	// never.
	LastReplied time.Time
	Window      time.Duration
	Now         time.Time
}

// ShouldAutoReply decides on arrival whether a letter gets an auto-reply,
// following RFC 3834: never to automatic mail, lists, bounces, robots or
// Moroz itself, and at most once per sender per window. It returns
// ReasonSend or why not. It is pure: the caller supplies the sender's last
// auto-reply and the clock.
func ShouldAutoReply(in AutoReplyInput) (bool, string) {
	l := in.Letter
	if reason := automatic(l); reason != "" {
		return false, reason
	}
	if in.ReturnPath == "" {
		return false, ReasonNullPath
	}
	for _, a := range []string{in.ReturnPath, l.From.Addr} {
		if reason := badRecipient(a, in.OwnDomains); reason != "" {
			return false, reason
		}
	}
	if !in.LastReplied.IsZero() && in.Now.Sub(in.LastReplied) < in.Window {
		return false, ReasonWindow
	}
	return true, ReasonSend
}

// automatic reports why the letter's own headers mark it as automatic or
// list mail, or "".
func automatic(l *Letter) string {
	switch {
	case l.AutoSubmitted != "" && l.AutoSubmitted != "no":
		return ReasonAutoSubmitted
	case l.Precedence == "bulk" || l.Precedence == "list" || l.Precedence == "junk":
		return ReasonPrecedence
	case l.ListID != "":
		return ReasonList
	case l.NullReturnPath:
		return ReasonNullPath
	}
	return ""
}

// robotLocal reports whether a local part belongs to software that never
// reads replies: RFC 3834 §2 names MAILER-DAEMON, LISTSERV, majordomo,
// owner-* and *-request; the rest are their modern spellings.
func robotLocal(local string) bool {
	switch local {
	case "mailer-daemon", "postmaster", "listserv", "majordomo", "no-reply",
		"noreply", "do-not-reply", "donotreply", "bounce", "bounces":
		return true
	}
	return strings.HasPrefix(local, "owner-") || strings.HasSuffix(local, "-request") ||
		strings.HasPrefix(local, "bounce-") || strings.HasPrefix(local, "bounces-")
}

// badRecipient reports why an address must not get an auto-reply, or "".
func badRecipient(addr string, own []string) string {
	a := Address{Addr: addr}
	norm := a.Norm()
	at := strings.LastIndexByte(norm, '@')
	if at <= 0 || at == len(norm)-1 {
		return ReasonNoAddress
	}
	for _, d := range own {
		if a.Domain() == d {
			return ReasonOwn
		}
	}
	local := norm[:at]
	if i := strings.IndexByte(local, '+'); i > 0 {
		local = local[:i]
	}
	if robotLocal(local) {
		return ReasonRobot
	}
	return ""
}

// The default auto-reply, in Russian as the letters are.
const (
	DefaultAutoReplySubject = `Re: {{.Subject}}`
	DefaultAutoReplyBody    = `Здравствуй{{with .Name}}, {{.}}{{end}}!

Дед Мороз получил твоё письмо и ответит {{.ExpectedText}}.

-- 
Это автоматический ответ, отвечать на него не нужно.
`
)

// AutoReplyData is what the auto-reply templates see.
type AutoReplyData struct {
	Name     string // the sender's name, "" when unknown
	Address  string // where the reply goes
	Subject  string // the letter's subject
	Queue    string
	Expected time.Duration // the expected wait for a personal answer, 0 when unknown
	// ExpectedText says Expected in words of the letter's language
	// ("примерно через 2 часа", "in about 2 h").
	ExpectedText string
	Lang         string // the language the reply is written in: "ru", "en", ...
}

// replyTemplates are the parsed auto-reply templates: the default one
// and one per configured language.
type replyTemplates struct {
	def   replyTemplate
	langs map[string]replyTemplate
}

type replyTemplate struct {
	subject, body *template.Template
}

func newReplyTemplates(c AutoReplyConfig) (*replyTemplates, error) {
	def, err := parseReplyTemplate("", ReplyText{Subject: c.Subject, Body: c.Body})
	if err != nil {
		return nil, err
	}
	t := &replyTemplates{def: def, langs: make(map[string]replyTemplate, len(c.Langs))}
	for lang, text := range c.Langs {
		if t.langs[strings.ToLower(lang)], err = parseReplyTemplate(lang, text); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func parseReplyTemplate(lang string, text ReplyText) (replyTemplate, error) {
	where := "subject"
	if lang != "" {
		where = "langs." + lang + ".subject"
	}
	subject, err := template.New("subject").Option("missingkey=error").Parse(text.Subject)
	if err != nil {
		return replyTemplate{}, fmt.Errorf("%s: %w", where, err)
	}
	body, err := template.New("body").Option("missingkey=error").Parse(text.Body)
	if err != nil {
		return replyTemplate{}, fmt.Errorf("%s: %w", strings.TrimSuffix(where, "subject")+"body", err)
	}
	return replyTemplate{subject: subject, body: body}, nil
}

// render returns the auto-reply's subject (one line) and body in lang,
// or in the default language when lang has no template of its own.
func (t *replyTemplates) render(lang string, d AutoReplyData) (string, string, error) {
	tmpl, ok := t.langs[lang]
	if !ok {
		tmpl = t.def
	}
	var s, b bytes.Buffer
	if err := tmpl.subject.Execute(&s, d); err != nil {
		return "", "", fmt.Errorf("render subject: %w", err)
	}
	if err := tmpl.body.Execute(&b, d); err != nil {
		return "", "", fmt.Errorf("render body: %w", err)
	}
	subject := strings.Join(strings.Fields(s.String()), " ")
	return subject, b.String(), nil
}

// letterLang guesses the language of a letter for its auto-reply: the
// primary tag of Content-Language when given ("en-GB" is "en"), else "en"
// for a text in Latin letters without Cyrillic ones, else "ru".
func letterLang(l *Letter) string {
	if l.ContentLanguage != "" {
		tag, _, _ := strings.Cut(l.ContentLanguage, ",")
		tag, _, _ = strings.Cut(strings.TrimSpace(tag), "-")
		return tag
	}
	latin, cyrillic := 0, 0
	for _, r := range l.Subject + " " + clip(l.Text, 4096) {
		switch {
		case isCyrillic(r):
			cyrillic++
		case isLatin(r):
			latin++
		}
	}
	if cyrillic == 0 && latin > 0 {
		return "en"
	}
	return "ru"
}

// expectedText says d in words of lang: English for "en", Russian for the
// rest.
func expectedText(lang string, d time.Duration) string {
	if lang != "en" {
		return ruExpected(d)
	}
	switch {
	case d <= 0:
		return "soon"
	case d < time.Hour:
		return fmt.Sprintf("in about %d min", int((d+time.Minute-1)/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("in about %d h", int((d+time.Hour-1)/time.Hour))
	}
	return fmt.Sprintf("in about %d days", int((d+24*time.Hour-1)/(24*time.Hour)))
}

// ruExpected says d in Russian, rounded up to minutes, hours or days.
func ruExpected(d time.Duration) string {
	switch {
	case d <= 0:
		return "в ближайшее время"
	case d < time.Hour:
		n := int((d + time.Minute - 1) / time.Minute)
		return "примерно через " + ruCount(n, "минуту", "минуты", "минут")
	case d < 48*time.Hour:
		n := int((d + time.Hour - 1) / time.Hour)
		return "примерно через " + ruCount(n, "час", "часа", "часов")
	}
	n := int((d + 24*time.Hour - 1) / (24 * time.Hour))
	return "примерно через " + ruCount(n, "день", "дня", "дней")
}

// ruCount writes n with the Russian plural form it takes: one, few, many.
func ruCount(n int, one, few, many string) string {
	form := many
	switch m10, m100 := n%10, n%100; {
	case m10 == 1 && m100 != 11:
		form = one
	case m10 >= 2 && m10 <= 4 && (m100 < 12 || m100 > 14):
		form = few
	}
	if n == 1 {
		return form
	}
	return fmt.Sprintf("%d %s", n, form)
}
