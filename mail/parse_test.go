package mail

import (
	"bytes"
	"fmt"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/text/encoding/charmap"
)

// parsed is the part of a Letter the corpus table checks.
type parsed struct {
	From       Address
	Subject    string
	MessageID  string
	InReplyTo  []string
	References []string
	Text       string
	Broken     bool
	Problems   bool // any problem reported
}

func project(l *Letter) parsed {
	return parsed{
		From: l.From, Subject: l.Subject, MessageID: l.MessageID,
		InReplyTo: l.InReplyTo, References: l.References, Text: l.Text,
		Broken: l.Broken, Problems: len(l.Problems) > 0,
	}
}

func parseFile(t *testing.T, name, dir string) *Letter {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "letters", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l, err := Parse(f, dir)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return l
}

func TestParseCorpus(t *testing.T) {
	tests := []struct {
		file string
		want parsed
	}{
		{"plain-utf8.eml", parsed{
			From:    Address{Name: "Маша Иванова", Addr: "Masha@Example.RU"},
			Subject: "Письмо Деду Морозу", MessageID: "plain-1@example.ru",
			Text: "Дорогой Дедушка Мороз! Я хочу велосипед.",
		}},
		{"windows-1251.eml", parsed{
			From:    Address{Name: "Петя", Addr: "petya@example.ru"},
			Subject: "Привет из Твери", MessageID: "cp1251-1@example.ru",
			Text: "Здравствуй, Дедушка Мороз! Принеси мне, пожалуйста, санки.",
		}},
		{"koi8-r.eml", parsed{
			From:    Address{Name: "Оля", Addr: "olya@example.ru"},
			Subject: "Новый год", MessageID: "koi8-1@example.ru",
			Text: "Дедушка, подари мне куклу и книжку про зиму.",
		}},
		{"8bit-no-charset.eml", parsed{
			From:    Address{Addr: "vasya@example.ru"},
			Subject: "Про ёлку", MessageID: "nocharset-1@example.ru",
			Text: "Дедушка, я хорошо себя вёл весь год, принеси мне конструктор.",
		}},
		{"8bit-koi8-no-charset.eml", parsed{
			From:    Address{Addr: "vasya@example.ru"},
			Subject: "test", MessageID: "nocharset-2@example.ru",
			Text: "Дедушка, я хорошо себя вёл весь год, принеси мне конструктор.",
		}},
		{"alternative.eml", parsed{
			From:    Address{Name: "Anna", Addr: "anna@example.com"},
			Subject: "Hello", MessageID: "alt-1@example.com",
			Text: "Hello, Ded Moroz!",
		}},
		{"html-only.eml", parsed{
			From:    Address{Addr: "anna@example.com"},
			Subject: "HTML only", MessageID: "html-1@example.com",
			Text: "I want a sledge & skates",
		}},
		{"reply.eml", parsed{
			From:    Address{Name: "Masha", Addr: "masha@example.ru"},
			Subject: "Re: Your letter", MessageID: "reply-1@example.ru",
			InReplyTo:  []string{"moroz-1@localhost"},
			References: []string{"plain-1@example.ru", "moroz-1@localhost"},
			Text:       "Thank you!",
		}},
		{"missing-close-boundary.eml", parsed{
			From:    Address{Addr: "kid@example.com"},
			Subject: "cut off", MessageID: "cut-1@example.com",
			Text:   "The first part arrived.\n\nAnd the second one was cut",
			Broken: true, Problems: true,
		}},
		{"wrong-boundary.eml", parsed{
			From:    Address{Addr: "kid@example.com"},
			Subject: "wrong boundary", MessageID: "wrongb-1@example.com",
			Text: "--other\nContent-Type: text/plain\n\n" +
				"Text behind a boundary nobody declared.\n--other--",
			Broken: true, Problems: true,
		}},
		{"no-boundary.eml", parsed{
			From:    Address{Addr: "kid@example.com"},
			Subject: "no boundary", MessageID: "nob-1@example.com",
			Text:   "Text in a multipart without a boundary.",
			Broken: true, Problems: true,
		}},
		{"bad-base64.eml", parsed{
			From:    Address{Addr: "kid@example.com"},
			Subject: "bad base64", MessageID: "b64-1@example.com",
			Text:   "Hello,",
			Broken: true, Problems: true,
		}},
		{"unknown-charset.eml", parsed{
			From:    Address{Addr: "kid@example.com"},
			Subject: "=?x-martian?Q?zzz?=", MessageID: "unk-1@example.com",
			Text:     "plain words и немного кириллицы по-русски",
			Problems: true,
		}},
		{"garbage-header.eml", parsed{
			Text:   "this is not a header at all\n and some ÿþ bytes\n\nbody line",
			Broken: true, Problems: true,
		}},
		{"no-message-id.eml", parsed{
			From:    Address{Name: "Real", Addr: "real@example.org"},
			Subject: "no id", Text: "body", Problems: true,
		}},
		{"nul-and-controls.eml", parsed{
			From:    Address{Addr: "kid@example.com"},
			Subject: "nulinside", MessageID: "nul-1@example.com",
			Text: "helloworld!",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got := project(parseFile(t, tt.file, t.TempDir()))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse(%s) (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

func TestParseHeaders(t *testing.T) {
	l := parseFile(t, "auto-reply.eml", "")
	got := []string{l.AutoSubmitted, l.Precedence, l.ListID, fmt.Sprint(l.NullReturnPath)}
	want := []string{"auto-replied", "bulk", "Kids news <news.example.net>", "true"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("RFC 3834 headers (-want +got):\n%s", diff)
	}

	l = parseFile(t, "plain-utf8.eml", "")
	wantDate := time.Date(2025, 12, 1, 7, 0, 0, 0, time.UTC)
	if !l.Date.Equal(wantDate) {
		t.Errorf("Date = %v, want %v", l.Date, wantDate)
	}
	if l.ContentLanguage != "ru" {
		t.Errorf("ContentLanguage = %q, want ru", l.ContentLanguage)
	}
	if diff := cmp.Diff([]Address{{Name: "Ded Moroz", Addr: "ded@localhost"}}, l.To); diff != "" {
		t.Errorf("To (-want +got):\n%s", diff)
	}
}

func TestParseSanitisesHTML(t *testing.T) {
	l := parseFile(t, "alternative.eml", "")
	for _, bad := range []string{"<script", "alert", "onclick", "javascript:", "<style"} {
		if strings.Contains(l.HTML, bad) {
			t.Errorf("HTML = %q, still contains %q", l.HTML, bad)
		}
	}
	for _, good := range []string{"<b>Ded Moroz</b>", `href="https://example.com/"`, "noreferrer"} {
		if !strings.Contains(l.HTML, good) {
			t.Errorf("HTML = %q, lost %q", l.HTML, good)
		}
	}
}

func TestParseAttachments(t *testing.T) {
	dir := t.TempDir()
	l := parseFile(t, "attachment.eml", dir)
	want := []Attachment{
		{Name: "passwd", ContentType: "image/png", Size: 340, Path: "01-passwd"},
		{Name: "рисунок_2_.pdf", ContentType: "application/octet-stream", Size: 13,
			Path: "02-рисунок_2_.pdf"},
		{Name: "attachment-3.bin", ContentType: "application/octet-stream", Size: 8,
			Path: "03-attachment-3.bin"},
	}
	if diff := cmp.Diff(want, l.Attachments); diff != "" {
		t.Fatalf("Attachments (-want +got):\n%s", diff)
	}
	got, err := os.ReadFile(filepath.Join(dir, "02-рисунок_2_.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "%PDF-1.4 tiny" {
		t.Errorf("attachment content = %q, want %q", got, "%PDF-1.4 tiny")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 {
		t.Errorf("files in the attachment folder = %d, want 3 (nothing outside it)", len(entries))
	}
}

func TestParseAttachmentCap(t *testing.T) {
	dir := t.TempDir()
	p := NewParser(ParseOptions{MaxAttachmentBytes: 100})
	f, err := os.Open(filepath.Join("testdata", "letters", "attachment.eml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l, err := p.Parse(f, dir)
	if err != nil {
		t.Fatal(err)
	}
	a := l.Attachments[0]
	if !a.Truncated || a.Size != 100 {
		t.Errorf("first attachment: Truncated %v, Size %d; want true, 100", a.Truncated, a.Size)
	}
	fi, err := os.Stat(filepath.Join(dir, a.Path))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != 100 {
		t.Errorf("file size = %d, want 100", fi.Size())
	}
}

// nested builds a letter of depth multiparts, one inside the other, with a
// text part at the bottom.
func nested(depth int) []byte {
	var b bytes.Buffer
	b.WriteString("From: a@example.com\r\nSubject: deep\r\n")
	for i := range depth {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i)
	}
	b.WriteString("Content-Type: text/plain\r\n\r\nbottom\r\n")
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\r\n", i)
	}
	return b.Bytes()
}

// many builds a multipart letter of n text parts.
func many(n int) []byte {
	var b bytes.Buffer
	b.WriteString("From: a@example.com\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n")
	for i := range n {
		fmt.Fprintf(&b, "--x\r\nContent-Type: text/plain\r\n\r\npart %d\r\n", i)
	}
	b.WriteString("--x--\r\n")
	return b.Bytes()
}

func TestParseLimits(t *testing.T) {
	tests := []struct {
		name      string
		raw       []byte
		opts      ParseOptions
		wantText  string
		wantLimit bool
	}{
		{"depth within limit", nested(3), ParseOptions{MaxDepth: 4}, "bottom", false},
		{"depth beyond limit", nested(6), ParseOptions{MaxDepth: 4}, "", true},
		{"parts within limit", many(2), ParseOptions{MaxParts: 3}, "part 0\n\npart 1", false},
		{"parts beyond limit", many(5), ParseOptions{MaxParts: 3}, "part 0\n\npart 1", true},
		{"text cap", many(1), ParseOptions{MaxTextBytes: 4}, "part", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := NewParser(tt.opts).Parse(bytes.NewReader(tt.raw), "")
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantText != "" && l.Text != tt.wantText {
				t.Errorf("Text = %q, want %q", l.Text, tt.wantText)
			}
			if got := len(l.Problems) > 0; got != tt.wantLimit {
				t.Errorf("problems reported = %v (%q), want %v", got, l.Problems, tt.wantLimit)
			}
		})
	}
}

func TestParseDepthFallsBackToRaw(t *testing.T) {
	l, err := NewParser(ParseOptions{MaxDepth: 2}).Parse(bytes.NewReader(nested(5)), "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(l.Text, "bottom") {
		t.Errorf("Text = %q, want the raw body kept when the limit hides all text", l.Text)
	}
}

func TestParseDiskError(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join("testdata", "letters", "attachment.eml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := Parse(f, filepath.Join(file, "sub")); err == nil {
		t.Error("Parse into a folder under a file: got nil error, want one")
	}
}

func TestDecode8bit(t *testing.T) {
	const ru = "Дедушка Мороз, принеси подарок"
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"utf-8 kept", []byte(ru), ru},
		{"windows-1251", encode(t, "windows-1251", ru), ru},
		{"koi8-r", encode(t, "koi8-r", ru), ru},
		{"latin-1", []byte("caf\xe9 cr\xe8me"), "café crème"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decode8bit(tt.in); got != tt.want {
				t.Errorf("decode8bit = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSafeFileName(t *testing.T) {
	tests := []struct {
		name, in, media, want string
	}{
		{"plain", "photo.jpg", "image/jpeg", "photo.jpg"},
		{"unix path", "../../etc/passwd", "", "passwd"},
		{"windows path", `C:\Users\kid\wish.docx`, "", "wish.docx"},
		{"hidden", "...profile", "", "profile"},
		{"specials", `a<b>c:d"e|f?g*h`, "", "a_b_c_d_e_f_g_h"},
		{"controls", "a\x00b\x1bc", "", "abc"},
		{"empty", "", "image/png", "attachment-7.png"},
		{"only dots", "..", "application/pdf", "attachment-7.pdf"},
		{"long", strings.Repeat("я", 100) + ".pdf", "", strings.Repeat("я", 58) + ".pdf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := safeFileName(tt.in, tt.media, 7)
			if got != tt.want {
				t.Errorf("safeFileName(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if len(got) > maxNameLen || !utf8.ValidString(got) {
				t.Errorf("safeFileName(%q) = %q: too long or not UTF-8", tt.in, got)
			}
		})
	}
}

func TestMsgIDs(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"one", "<a@b>", []string{"a@b"}},
		{"folded list", "<a@b>\r\n <c@d>  <e@f>", []string{"a@b", "c@d", "e@f"}},
		{"no brackets", "a@b c@d", []string{"a@b", "c@d"}},
		{"comment between", "<a@b> (first) <c@d>", []string{"a@b", "c@d"}},
		{"empty brackets", "<>", nil},
		{"unclosed", "<a@b", []string{"a@b"}},
		{"space inside", "<a b@c>", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, msgIDs(tt.in)); diff != "" {
				t.Errorf("msgIDs(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestThreadIDs(t *testing.T) {
	l := &Letter{
		MessageID:  "self@x",
		InReplyTo:  []string{"b@x"},
		References: []string{"root@x", "a@x", "b@x", "self@x"},
	}
	want := []string{"b@x", "a@x", "root@x"}
	if diff := cmp.Diff(want, l.ThreadIDs()); diff != "" {
		t.Errorf("ThreadIDs (-want +got):\n%s", diff)
	}
}

func encode(t *testing.T, name, s string) []byte {
	t.Helper()
	cm := charmap.Windows1251
	if name == "koi8-r" {
		cm = charmap.KOI8R
	}
	b, err := cm.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseDeliveryReport(t *testing.T) {
	l := parseFile(t, "bounce.eml", t.TempDir())
	want := &DeliveryReport{
		OriginalMessageID: "original-1@moroz.test",
		Recipients: []ReportRecipient{{Addr: "masha@example.ru", Action: "failed", Status: "5.1.1",
			Diagnostic: "smtp; 550 5.1.1 <masha@example.ru>: Recipient address rejected: User unknown"}},
	}
	if diff := cmp.Diff(want, l.Report); diff != "" {
		t.Errorf("Report (-want +got):\n%s", diff)
	}
	if !l.Report.Failed() {
		t.Error("Failed() = false for a 5.1.1 report")
	}
	if diff := cmp.Diff([]string{"original-1@moroz.test"}, l.ThreadIDs()); diff != "" {
		t.Errorf("ThreadIDs (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(l.Text, "This is the mail system") || strings.Contains(l.Text, "Final-Recipient") {
		t.Errorf("Text = %q, want only the human part", l.Text)
	}
}

// TestLetterDateAsNetMail: the usual form's shortcut gives what
// net/mail.ParseDate gives, for the usual form and for the others.
func TestLetterDateAsNetMail(t *testing.T) {
	for _, v := range []string{
		"Wed, 24 Dec 2026 10:00:00 +0300",
		"Wed, 3 Dec 2026 10:00:00 +0300",
		"Wed, 03 Dec 2026 10:00:00 -0000",
		"Wed, 24 Dec 2026 10:00 +0300",
		"Wed, 24 Dec 2026 10:00:00 +0300 (MSK)",
		"24 Dec 2026 10:00:00 +0300",
		"Wed, 24 Dec 26 10:00:00 GMT",
		"Wed, 24 Dec 2026\r\n 10:00:00 +0300",
		"Wed, 24 Dec 2026 25:00:00 +0300",
		"next Wednesday",
		"",
	} {
		got, gotErr := letterDate(v)
		want, wantErr := netmail.ParseDate(v)
		if !got.Equal(want) || got.Location().String() != want.Location().String() || (gotErr == nil) != (wantErr == nil) {
			t.Errorf("letterDate(%q) = %v, %v; net/mail.ParseDate = %v, %v", v, got, gotErr, want, wantErr)
		}
	}
}
