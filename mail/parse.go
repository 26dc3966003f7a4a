package mail

import (
	"errors"
	"fmt"
	"html"
	"io"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // windows-1251, KOI8-R and the rest
	gomail "github.com/emersion/go-message/mail"
	"github.com/microcosm-cc/bluemonday"
)

// Defaults for ParseOptions.
const (
	DefaultMaxDepth           = 8
	DefaultMaxParts           = 100
	DefaultMaxTextBytes       = 1 << 20
	DefaultMaxAttachmentBytes = 10 << 20
	DefaultMaxHeaderBytes     = 256 << 10
)

// ParseOptions bounds what a Parser reads. Zero fields take the defaults.
type ParseOptions struct {
	// MaxDepth is how deep multiparts may nest; deeper ones are skipped.
	// Default DefaultMaxDepth.
	MaxDepth int `yaml:"max_depth"`
	// MaxParts is how many MIME parts are read; the rest is skipped.
	// Default DefaultMaxParts.
	MaxParts int `yaml:"max_parts"`
	// MaxTextBytes caps Letter.Text and, separately, the HTML read, in
	// bytes. Default DefaultMaxTextBytes.
	MaxTextBytes int `yaml:"max_text_bytes"`
	// MaxAttachmentBytes caps each attachment file; a larger part is cut
	// and marked Truncated. Default DefaultMaxAttachmentBytes.
	MaxAttachmentBytes int64 `yaml:"max_attachment_bytes"`
	// MaxHeaderBytes caps the top-level header block. A letter whose
	// header is larger is kept as raw text. Default DefaultMaxHeaderBytes.
	MaxHeaderBytes int64 `yaml:"max_header_bytes"`
}

func (o ParseOptions) withDefaults() ParseOptions {
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MaxParts <= 0 {
		o.MaxParts = DefaultMaxParts
	}
	if o.MaxTextBytes <= 0 {
		o.MaxTextBytes = DefaultMaxTextBytes
	}
	if o.MaxAttachmentBytes <= 0 {
		o.MaxAttachmentBytes = DefaultMaxAttachmentBytes
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	return o
}

// Parser turns raw letters into Letters. It is safe for concurrent use.
type Parser struct {
	opts  ParseOptions
	html  *bluemonday.Policy // what the console may show
	plain *bluemonday.Policy // strips every tag, for text from HTML
}

// NewParser returns a Parser with opts, defaults filled in.
func NewParser(opts ParseOptions) *Parser {
	h := bluemonday.UGCPolicy()
	h.RequireNoReferrerOnLinks(true)
	h.AddTargetBlankToFullyQualifiedLinks(true)
	return &Parser{opts: opts.withDefaults(), html: h, plain: bluemonday.StrictPolicy()}
}

// Parse parses one letter with the default options; see Parser.Parse.
func Parse(r io.ReadSeeker, attachDir string) (*Letter, error) {
	return NewParser(ParseOptions{}).Parse(r, attachDir)
}

// Parse reads one RFC 5322 letter from r. Attachments are streamed to files
// in attachDir, created with the first one; an empty attachDir measures
// attachments without keeping them. A malformed letter is not an error: what could be
// read is returned with Broken set, and the raw body becomes the text when
// nothing else could be read. The error is only for failures to read r or
// to write an attachment.
func (p *Parser) Parse(r io.ReadSeeker, attachDir string) (*Letter, error) {
	w := &walker{p: p, dir: attachDir, l: &Letter{}}
	e, err := message.ReadWithOptions(r,
		&message.ReadOptions{MaxHeaderBytes: p.opts.MaxHeaderBytes})
	switch {
	case e == nil:
		w.noHeader = true
		w.broken("header: %v", err)
	case err != nil:
		w.problem("body: %v", err)
	}
	if e != nil {
		readHeader(w, e.Header)
		err := w.entity(e, 0)
		var de *diskError
		if errors.As(err, &de) {
			return nil, de.err
		}
	}
	if err := w.finish(r); err != nil {
		return nil, err
	}
	return w.l, nil
}

// diskError marks a failure to write an attachment: the only walk error
// Parse returns, because the letter itself was fine.
type diskError struct{ err error }

func (e *diskError) Error() string { return e.err.Error() }

// errStop ends the walk early after a limit or a structural error that was
// already recorded.
var errStop = errors.New("stop reading parts")

// walker holds the state of one Parse call.
type walker struct {
	p        *Parser
	dir      string
	l        *Letter
	parts    int
	limited  bool // a limit cut the walk short
	inReport bool // inside a multipart/report of delivery status (RFC 3462)
	noHeader bool // the header could not be read: all of the letter is text
	text     strings.Builder
	html     strings.Builder
}

func (w *walker) problem(format string, args ...any) {
	w.l.Problems = append(w.l.Problems, clean(fmt.Sprintf(format, args...)))
}

func (w *walker) broken(format string, args ...any) {
	w.l.Broken = true
	w.problem(format, args...)
}

// entity handles one MIME entity and, for a multipart, its children.
func (w *walker) entity(e *message.Entity, depth int) error {
	w.parts++
	if w.parts > w.p.opts.MaxParts {
		w.limited = true
		w.problem("more than %d parts: the rest is not read", w.p.opts.MaxParts)
		return errStop
	}
	mt, params, err := e.Header.ContentType()
	if err != nil || mt == "" {
		mt = "text/plain" // RFC 2045 §5.2
	}
	if mr := e.MultipartReader(); mr != nil {
		if mt == "multipart/report" && strings.EqualFold(params["report-type"], "delivery-status") {
			w.inReport = true
		}
		return w.multipart(mr, depth)
	}
	if w.inReport {
		if done, err := w.reportPart(e, mt); done {
			return err
		}
	}
	disp, dparams, _ := e.Header.ContentDisposition()
	name := partName(dparams["filename"], params["name"])
	if strings.HasPrefix(mt, "text/") && disp != "attachment" && name == "" {
		return w.textPart(e, mt)
	}
	return w.attachment(e, mt, name)
}

func (w *walker) multipart(mr message.MultipartReader, depth int) error {
	if depth >= w.p.opts.MaxDepth {
		w.limited = true
		w.problem("multipart nested deeper than %d: skipped", w.p.opts.MaxDepth)
		return nil
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil
		}
		if part == nil {
			w.broken("mime structure: %v", err)
			return errStop
		}
		if err != nil {
			w.problem("part %d: %v", w.parts+1, err)
		}
		if err := w.entity(part, depth+1); err != nil {
			return err
		}
	}
}

// textPart adds a text/plain or text/html part to the letter's text. The
// multipart reader skips whatever of the part is left unread.
func (w *walker) textPart(e *message.Entity, mt string) error {
	b := &w.text
	if mt == "text/html" {
		b = &w.html
	}
	room := w.p.opts.MaxTextBytes - b.Len()
	if room <= 0 {
		w.limited = true
		return nil
	}
	raw, err := io.ReadAll(io.LimitReader(e.Body, int64(room)))
	if err != nil {
		w.broken("%s part: %v", mt, err)
	}
	s := tidyText(clean(decode8bit(raw)))
	if s == "" {
		return nil
	}
	if b.Len() > 0 {
		b.WriteString("\n\n")
	}
	b.WriteString(clip(s, w.p.opts.MaxTextBytes-b.Len()))
	return nil
}

// attachment streams a part to a file under the size cap.
func (w *walker) attachment(e *message.Entity, mt, name string) error {
	a := Attachment{
		Name:        safeFileName(name, mt, len(w.l.Attachments)+1),
		ContentType: mt,
	}
	dst := io.Discard
	if w.dir != "" {
		a.Path = fmt.Sprintf("%02d-%s", len(w.l.Attachments)+1, a.Name)
		if err := os.MkdirAll(w.dir, 0o700); err != nil {
			return &diskError{fmt.Errorf("attachment folder: %w", err)}
		}
		// The name is a function of the letter: parsing a letter again
		// (a retried delivery) rewrites the same files.
		f, err := os.OpenFile(filepath.Join(w.dir, a.Path),
			os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return &diskError{fmt.Errorf("attachment %s: %w", a.Path, err)}
		}
		defer f.Close()
		dst = f
	}
	ew := &errWriter{w: dst}
	n, err := io.Copy(ew, io.LimitReader(e.Body, w.p.opts.MaxAttachmentBytes))
	a.Size = n
	if ew.err != nil {
		return &diskError{fmt.Errorf("attachment %s: write: %w", a.Path, ew.err)}
	}
	if err != nil {
		w.broken("attachment %s: %v", a.Name, err)
	}
	if more, _ := io.CopyN(io.Discard, e.Body, 1); more > 0 {
		a.Truncated = true
		w.problem("attachment %s: larger than %d bytes: cut", a.Name, w.p.opts.MaxAttachmentBytes)
	}
	w.l.Attachments = append(w.l.Attachments, a)
	return nil
}

// errWriter remembers a write failure so it is not mistaken for a read
// failure of the letter.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
}

// finish sets Text and HTML, falling back to the raw body when the
// structure could not be read.
func (w *walker) finish(r io.ReadSeeker) error {
	l := w.l
	l.Text = w.text.String()
	if w.html.Len() > 0 {
		l.HTML = clean(w.p.html.Sanitize(w.html.String()))
		if l.Text == "" {
			l.Text = tidyText(clean(html.UnescapeString(w.p.plain.Sanitize(w.html.String()))))
		}
	}
	if (l.Broken || w.limited) && l.Text == "" && l.HTML == "" {
		raw, err := rawText(r, w.p.opts, !w.noHeader)
		if err != nil {
			return err
		}
		l.Text = raw
	}
	return nil
}

// rawText reads the start of the letter again and returns it as text,
// without the header when skipHeader is set and a header end is found.
func rawText(r io.ReadSeeker, o ParseOptions, skipHeader bool) (string, error) {
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return "", fmt.Errorf("raw body: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(r, o.MaxHeaderBytes+int64(o.MaxTextBytes)))
	if err != nil {
		return "", fmt.Errorf("raw body: %w", err)
	}
	for _, sep := range []string{"\r\n\r\n", "\n\n"} {
		if i := strings.Index(string(b), sep); skipHeader && i >= 0 {
			b = b[i+len(sep):]
			break
		}
	}
	return clip(tidyText(clean(decode8bit(b))), o.MaxTextBytes), nil
}

// partName picks a part's file name, RFC 2231 and 2047 already decoded by
// go-message, falling back from Content-Disposition to Content-Type.
func partName(disposition, contentType string) string {
	if disposition != "" {
		return disposition
	}
	return contentType
}

// readHeader fills the letter's header fields.
// usualDate is how nearly every mailer writes a date (RFC 5322 §3.3, no
// comment after the zone). net/mail.ParseDate takes it too, as the first
// of its layouts with a day name.
const usualDate = "Mon, 2 Jan 2006 15:04:05 -0700"

// letterDate parses a Date header as net/mail.ParseDate does, trying the
// usual form first: ParseDate tries two dozen layouts without a day name
// before it, each failure allocating an error.
func letterDate(v string) (time.Time, error) {
	if t, err := time.Parse(usualDate, v); err == nil {
		return t, nil
	}
	return netmail.ParseDate(v)
}

func readHeader(w *walker, h message.Header) {
	l := w.l
	mh := gomail.Header{Header: h}
	l.From = first(addressList(mh, "From"))
	if s := first(addressList(mh, "Sender")); s.Norm() != l.From.Norm() {
		l.Sender = s
	}
	l.ReplyTo = addressList(mh, "Reply-To")
	l.To = addressList(mh, "To")
	l.Cc = addressList(mh, "Cc")
	l.Subject = headerText(w, mh, "Subject")
	l.MessageID = first(msgIDs(h.Get("Message-Id")))
	l.InReplyTo = msgIDs(h.Get("In-Reply-To"))
	l.References = msgIDs(h.Get("References"))
	if h.Has("Date") {
		d, err := letterDate(h.Get("Date"))
		if err != nil {
			w.problem("date: %v", err)
		}
		l.Date = d
	}
	l.AutoSubmitted = token(h.Get("Auto-Submitted"))
	l.Precedence = token(h.Get("Precedence"))
	l.ListID = clean(strings.TrimSpace(decode8bit([]byte(h.Get("List-Id")))))
	l.ContentLanguage = token(h.Get("Content-Language"))
	readReturnPath(l, h)
}

func readReturnPath(l *Letter, h message.Header) {
	if !h.Has("Return-Path") {
		return
	}
	v := strings.TrimSpace(h.Get("Return-Path"))
	v = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(v, "<"), ">"))
	l.ReturnPath = clean(decode8bit([]byte(v)))
	l.NullReturnPath = l.ReturnPath == ""
}

// headerText decodes an unstructured header (RFC 2047), keeping the raw
// value when the charset is unknown.
func headerText(w *walker, h gomail.Header, key string) string {
	s, err := h.Text(key)
	if err != nil {
		w.problem("%s: %v", strings.ToLower(key), err)
	}
	return clean(strings.TrimSpace(decode8bit([]byte(s))))
}

// token returns the first ';'-separated token of a header, trimmed and
// lower-cased: "auto-generated; owner-email=..." gives "auto-generated".
func token(v string) string {
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	return clean(strings.ToLower(strings.TrimSpace(v)))
}

func first[T any](l []T) T {
	var zero T
	if len(l) == 0 {
		return zero
	}
	return l[0]
}
