package mail

import (
	"strings"
	"testing"
	"time"
)

func TestShouldAutoReply(t *testing.T) {
	now := time.Date(2026, 12, 24, 12, 0, 0, 0, time.UTC)
	kid := func(edit func(*Letter)) *Letter {
		l := &Letter{From: Address{Name: "Kid", Addr: "kid@example.org"}, MessageID: "x@example.org"}
		if edit != nil {
			edit(l)
		}
		return l
	}
	tests := []struct {
		name       string
		letter     *Letter
		returnPath string
		last       time.Time
		want       string
	}{
		{"person", kid(nil), "kid@example.org", time.Time{}, ReasonSend},
		{"auto-submitted no", kid(func(l *Letter) { l.AutoSubmitted = "no" }), "kid@example.org", time.Time{}, ReasonSend},
		{"auto-replied", kid(func(l *Letter) { l.AutoSubmitted = "auto-replied" }), "kid@example.org", time.Time{}, ReasonAutoSubmitted},
		{"auto-generated", kid(func(l *Letter) { l.AutoSubmitted = "auto-generated" }), "kid@example.org", time.Time{}, ReasonAutoSubmitted},
		{"precedence bulk", kid(func(l *Letter) { l.Precedence = "bulk" }), "kid@example.org", time.Time{}, ReasonPrecedence},
		{"precedence list", kid(func(l *Letter) { l.Precedence = "list" }), "kid@example.org", time.Time{}, ReasonPrecedence},
		{"precedence junk", kid(func(l *Letter) { l.Precedence = "junk" }), "kid@example.org", time.Time{}, ReasonPrecedence},
		{"precedence first-class", kid(func(l *Letter) { l.Precedence = "first-class" }), "kid@example.org", time.Time{}, ReasonSend},
		{"list-id", kid(func(l *Letter) { l.ListID = "<kids.example.org>" }), "kid@example.org", time.Time{}, ReasonList},
		{"null return-path header", kid(func(l *Letter) { l.NullReturnPath = true }), "kid@example.org", time.Time{}, ReasonNullPath},
		{"null envelope", kid(nil), "", time.Time{}, ReasonNullPath},
		{"mailer-daemon", kid(nil), "MAILER-DAEMON@mx.example.org", time.Time{}, ReasonRobot},
		{"postmaster from", kid(func(l *Letter) { l.From.Addr = "postmaster@example.org" }), "kid@example.org", time.Time{}, ReasonRobot},
		{"no-reply", kid(nil), "no-reply@shop.example", time.Time{}, ReasonRobot},
		{"noreply tagged", kid(nil), "noreply+42@shop.example", time.Time{}, ReasonRobot},
		{"list owner", kid(nil), "owner-kids@lists.example", time.Time{}, ReasonRobot},
		{"list request", kid(nil), "kids-request@lists.example", time.Time{}, ReasonRobot},
		{"own domain", kid(nil), "ded@moroz.test", time.Time{}, ReasonOwn},
		{"own domain in From", kid(func(l *Letter) { l.From.Addr = "Ded@Moroz.Test" }), "kid@example.org", time.Time{}, ReasonOwn},
		{"not an address", kid(nil), "kid", time.Time{}, ReasonNoAddress},
		{"within window", kid(nil), "kid@example.org", now.Add(-time.Hour), ReasonWindow},
		{"window passed", kid(nil), "kid@example.org", now.Add(-25 * time.Hour), ReasonSend},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, got := ShouldAutoReply(AutoReplyInput{
				Letter: tt.letter, ReturnPath: tt.returnPath, OwnDomains: []string{"moroz.test"},
				LastReplied: tt.last, Window: 24 * time.Hour, Now: now,
			})
			if got != tt.want || ok != (tt.want == ReasonSend) {
				t.Errorf("ShouldAutoReply = %v, %q; want %q", ok, got, tt.want)
			}
		})
	}
}

func TestRuExpected(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "в ближайшее время"},
		{time.Minute, "примерно через минуту"},
		{3 * time.Minute, "примерно через 3 минуты"},
		{11 * time.Minute, "примерно через 11 минут"},
		{21 * time.Minute, "примерно через 21 минуту"},
		{90 * time.Minute, "примерно через 2 часа"},
		{5 * time.Hour, "примерно через 5 часов"},
		{72 * time.Hour, "примерно через 3 дня"},
	}
	for _, tt := range tests {
		t.Run(tt.in.String(), func(t *testing.T) {
			if got := ruExpected(tt.in); got != tt.want {
				t.Errorf("ruExpected(%v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestReplyTemplates(t *testing.T) {
	tmpl, err := newReplyTemplates(AutoReplyConfig{Subject: DefaultAutoReplySubject, Body: DefaultAutoReplyBody})
	if err != nil {
		t.Fatal(err)
	}
	subject, body, err := tmpl.render("ru", AutoReplyData{Name: "Оля", Subject: "Письмо\r\n Bcc: x@y", ExpectedText: "скоро"})
	if err != nil {
		t.Fatal(err)
	}
	if subject != "Re: Письмо Bcc: x@y" {
		t.Errorf("subject = %q, want one line", subject)
	}
	if !strings.HasPrefix(body, "Здравствуй, Оля!") || !strings.Contains(body, "ответит скоро.") {
		t.Errorf("body = %q", body)
	}
	if _, err := newReplyTemplates(AutoReplyConfig{Subject: "{{.Nope", Body: ""}); err == nil {
		t.Error("a broken template: got nil error")
	}
}

func TestReplyLanguages(t *testing.T) {
	tmpl, err := newReplyTemplates(AutoReplyConfig{
		Subject: "Re: {{.Subject}}", Body: "Здравствуй, {{.Name}}! Ответ {{.ExpectedText}}.",
		Langs: map[string]ReplyText{"EN": {Subject: "Re: {{.Subject}}", Body: "Hello, {{.Name}}! Answer {{.ExpectedText}}."}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		letter *Letter
		want   string
	}{
		{"content-language", &Letter{ContentLanguage: "en-gb", Text: "Привет"}, "Hello, Ann! Answer in about 2 h."},
		{"latin text", &Letter{Text: "Dear Father Frost, a sledge please"}, "Hello, Ann! Answer in about 2 h."},
		{"cyrillic text", &Letter{Text: "Дедушка, санки"}, "Здравствуй, Ann! Ответ примерно через 2 часа."},
		{"language without template", &Letter{ContentLanguage: "de"}, "Здравствуй, Ann! Ответ примерно через 2 часа."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lang := letterLang(tt.letter)
			_, body, err := tmpl.render(lang, AutoReplyData{Name: "Ann", ExpectedText: expectedText(lang, 2*time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			if body != tt.want {
				t.Errorf("body = %q, want %q", body, tt.want)
			}
		})
	}
	if _, err := newReplyTemplates(AutoReplyConfig{Subject: "x", Body: "y",
		Langs: map[string]ReplyText{"en": {Subject: "{{", Body: ""}}}); err == nil || !strings.Contains(err.Error(), "langs.en.subject") {
		t.Errorf("a broken language template: %v, want an error naming langs.en.subject", err)
	}
}
