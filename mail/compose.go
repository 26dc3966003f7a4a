package mail

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime/quotedprintable"
	"strings"
	"time"

	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// Reply is an answer to a letter: a helper's reply or an auto-reply.
type Reply struct {
	From    Address
	To      Address
	Subject string
	Text    string
	// InReplyTo is the answered letter's Message-ID (without brackets);
	// References are its References. Compose appends InReplyTo to them,
	// as RFC 5322 §3.6.4 asks, so the reply lands in the same thread.
	InReplyTo  string
	References []string
	// Auto marks an auto-reply: Auto-Submitted: auto-replied (RFC 3834 §5)
	// and a null envelope sender (RFC 3834 §3.3), so no bounce or
	// responder answers it.
	Auto bool
	Date time.Time // zero means now
}

// NewMessageID returns a fresh Message-ID on domain, without brackets: 32
// hex digits, the first 12 the time in milliseconds and the rest random
// (80 bits). Ids made later sort later, so the store's indexes of them
// (the outbox's, the messages') grow at their end, where a group commit
// writes one page for many letters, instead of each id dirtying a page of
// its own.
func NewMessageID(domain string) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16)
	_, _ = rand.Read(b[6:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:]) + "@" + domain
}

// Compose writes r as an RFC 5322 letter with a new Message-ID on domain and
// returns it ready for the Outbox.
func Compose(r Reply, domain string) (Outgoing, error) {
	if r.To.Addr == "" || !strings.Contains(r.To.Addr, "@") {
		return Outgoing{}, fmt.Errorf("compose reply: recipient %q is not an address", r.To.Addr)
	}
	if r.From.Addr == "" {
		return Outgoing{}, errors.New("compose reply: no sender")
	}
	id := NewMessageID(domain)
	var buf bytes.Buffer
	// The header, and the text in quoted-printable: up to three bytes for
	// each, and a soft line break every 73.
	buf.Grow(1024 + 3*len(r.Text) + len(r.Text)/16)
	if err := writeReply(&buf, r, id); err != nil {
		return Outgoing{}, fmt.Errorf("compose reply to %s: %w", r.To.Addr, err)
	}
	out := Outgoing{MessageID: id, From: r.From.Addr, To: []string{r.To.Addr}, Raw: buf.Bytes()}
	if r.Auto {
		out.From = ""
	}
	return out, nil
}

func writeReply(w io.Writer, r Reply, id string) error {
	var h gomail.Header
	h.SetAddressList("From", []*gomail.Address{{Name: r.From.Name, Address: r.From.Addr}})
	h.SetAddressList("To", []*gomail.Address{{Name: r.To.Name, Address: r.To.Addr}})
	h.SetSubject(oneLine(r.Subject))
	date := r.Date
	if date.IsZero() {
		date = time.Now()
	}
	h.SetDate(date)
	h.SetMessageID(id)
	if r.InReplyTo != "" {
		h.SetMsgIDList("In-Reply-To", []string{r.InReplyTo})
		h.SetMsgIDList("References", append(append([]string(nil), r.References...), r.InReplyTo))
	}
	if r.Auto {
		h.Set("Auto-Submitted", "auto-replied")
		h.Set("X-Auto-Response-Suppress", "All") // the Exchange spelling of the same wish
	}
	h.Set("MIME-Version", "1.0")
	h.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
	h.Set("Content-Transfer-Encoding", "quoted-printable")
	// What message.CreateWriter writes, without the copy of the header it
	// makes first.
	if err := textproto.WriteHeader(w, h.Header.Header); err != nil {
		return err
	}
	qp := quotedprintable.NewWriter(w)
	if _, err := io.WriteString(qp, r.Text); err != nil {
		return err
	}
	return qp.Close()
}

// oneLine folds a subject to one line, as header values must be.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
