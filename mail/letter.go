package mail

import (
	"strings"
	"time"
)

// Address is one mailbox: a display name and an address. Parse lower-cases
// nothing; Norm gives the form used as a contact identity.
type Address struct {
	Name string // display name, RFC 2047 decoded, may be empty
	Addr string // local@domain as written, empty when unreadable
}

// Norm returns the address in the form contacts are keyed on: trimmed and
// lower-cased. Local parts are case-sensitive in theory (RFC 5321 §2.4) but
// not in any mailbox Moroz meets, and one person must be one contact.
func (a Address) Norm() string {
	return strings.ToLower(strings.TrimSpace(a.Addr))
}

// Domain returns the lower-cased part after the last '@', or "".
func (a Address) Domain() string {
	addr := a.Norm()
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return addr[i+1:]
}

// String formats the address for logs and the Message From/To fields.
func (a Address) String() string {
	if a.Name == "" {
		return a.Addr
	}
	return a.Name + " <" + a.Addr + ">"
}

// Letter is a parsed letter. Every string is valid UTF-8 without NUL bytes,
// whatever the input was. Message ids are kept without angle brackets.
type Letter struct {
	From      Address
	Sender    Address // the Sender header, when it differs from From
	ReplyTo   []Address
	To        []Address
	Cc        []Address
	Subject   string
	MessageID string
	// InReplyTo and References list message ids, oldest reference first.
	InReplyTo  []string
	References []string
	Date       time.Time // zero when missing or unreadable

	// The RFC 3834 and list headers the auto-reply decision reads, each
	// trimmed and lower-cased (ListID is kept as written).
	AutoSubmitted string
	Precedence    string
	ListID        string
	// ReturnPath is the Return-Path header's address; NullReturnPath is
	// set when the header names the null path "<>".
	ReturnPath     string
	NullReturnPath bool
	// ContentLanguage is the Content-Language header, lower-cased.
	ContentLanguage string

	// Text is the plain text of the letter: its text/plain parts joined,
	// or text taken from the HTML part when there is none, or the raw body
	// when the MIME structure could not be read.
	Text string
	// HTML is the letter's HTML part after sanitising; safe to show.
	HTML string
	// Attachments lists the parts kept as files, in letter order.
	Attachments []Attachment
	// Report is set when the letter is a delivery status notification
	// (multipart/report, RFC 3464): a bounce or a delay warning.
	Report *DeliveryReport

	// Broken is set when the MIME structure was malformed; what could be
	// read is kept and Problems says what went wrong.
	Broken   bool
	Problems []string
}

// Attachment is one part kept as a file.
type Attachment struct {
	Name        string // sanitised file name, as the console offers it
	ContentType string // media type, lower-case, e.g. "image/jpeg"
	Size        int64  // bytes written to Path
	Truncated   bool   // the part was larger than the cap; Path holds its start
	// Path is the file's name inside ParseOptions.AttachmentDir; empty when
	// no directory was given and the part was only measured.
	Path string
}

// ThreadIDs returns the ids a reply may point at, nearest first:
// In-Reply-To, then References from the newest back, then the letter a
// delivery report is about, without repeats.
func (l *Letter) ThreadIDs() []string {
	seen := make(map[string]bool)
	var ids []string
	add := func(id string) {
		if id != "" && !seen[id] && id != l.MessageID {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	for _, id := range l.InReplyTo {
		add(id)
	}
	for i := len(l.References) - 1; i >= 0; i-- {
		add(l.References[i])
	}
	if l.Report != nil {
		add(l.Report.OriginalMessageID)
	}
	return ids
}
