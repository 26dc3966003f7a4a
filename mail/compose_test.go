package mail

import (
	"bytes"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
)

func TestNewMessageIDOrdered(t *testing.T) {
	form := regexp.MustCompile(`^[0-9a-f]{32}@moroz\.test$`)
	seen := make(map[string]bool)
	prev := NewMessageID("moroz.test")
	for i := range 3 {
		time.Sleep(2 * time.Millisecond) // the next millisecond
		for range 100 {
			id := NewMessageID("moroz.test")
			if !form.MatchString(id) {
				t.Fatalf("id %q: not 32 hex digits on the domain", id)
			}
			if seen[id] {
				t.Fatalf("id %q made twice", id)
			}
			seen[id] = true
		}
		id := NewMessageID("moroz.test")
		if id <= prev {
			t.Errorf("round %d: id %q made after %q sorts before it", i, id, prev)
		}
		prev = id
	}
}

// TestWriteReplyAsCreateWriter: a reply is written as go-message's
// CreateWriter writes its header and quoted-printable body.
func TestWriteReplyAsCreateWriter(t *testing.T) {
	r := Reply{
		From:       Address{Name: "Дед Мороз", Addr: "ded@moroz.test"},
		To:         Address{Name: "Маша Иванова", Addr: "masha@example.ru"},
		Subject:    "Re: " + strings.Repeat("Письмо Деду Морозу ", 6),
		Text:       "Здравствуй, Маша!\nЯ прочитал твоё письмо. " + strings.Repeat("=", 90) + "\n",
		InReplyTo:  "plain-1@example.ru",
		References: []string{"older@example.ru"},
		Auto:       true,
		Date:       time.Date(2026, 12, 24, 10, 0, 0, 0, time.UTC),
	}
	var got bytes.Buffer
	if err := writeReply(&got, r, "id-1@moroz.test"); err != nil {
		t.Fatal(err)
	}

	var h gomail.Header
	h.SetAddressList("From", []*gomail.Address{{Name: r.From.Name, Address: r.From.Addr}})
	h.SetAddressList("To", []*gomail.Address{{Name: r.To.Name, Address: r.To.Addr}})
	h.SetSubject(oneLine(r.Subject))
	h.SetDate(r.Date)
	h.SetMessageID("id-1@moroz.test")
	h.SetMsgIDList("In-Reply-To", []string{r.InReplyTo})
	h.SetMsgIDList("References", append(append([]string(nil), r.References...), r.InReplyTo))
	h.Set("Auto-Submitted", "auto-replied")
	h.Set("X-Auto-Response-Suppress", "All")
	h.Set("MIME-Version", "1.0")
	h.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
	h.Set("Content-Transfer-Encoding", "quoted-printable")
	var want bytes.Buffer
	mw, err := message.CreateWriter(&want, h.Header)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(mw, r.Text); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Errorf("reply:\n%s\nwant as CreateWriter writes it:\n%s", got.String(), want.String())
	}
}
