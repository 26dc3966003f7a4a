package mail

import (
	"mime"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
	"golang.org/x/text/encoding/charmap"
)

// decode8bit returns b as UTF-8. Valid UTF-8 is kept as it is. Anything
// else is 8-bit text without a (correct) charset label, which in this mail
// is nearly always Russian: it is decoded as windows-1251 or KOI8-R,
// whichever reads more like Russian, and as Latin-1 when neither does.
func decode8bit(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	cp, _ := charmap.Windows1251.NewDecoder().Bytes(b)
	koi, _ := charmap.KOI8R.NewDecoder().Bytes(b)
	high := 0
	for _, c := range b {
		if c >= 0x80 {
			high++
		}
	}
	cpScore, koiScore := russianScore(cp), russianScore(koi)
	best, score := cp, cpScore
	if koiScore > cpScore {
		best, score = koi, koiScore
	}
	if score*3 < high {
		latin, _ := charmap.ISO8859_1.NewDecoder().Bytes(b)
		return string(latin)
	}
	return string(best)
}

// russianScore counts the most frequent lower-case Russian letters, less
// a penalty for words mixing Cyrillic and Latin letters. Text decoded with
// the wrong one of windows-1251 and KOI8-R comes out mostly in upper case
// and rare letters, and Latin-1 text decoded as either mixes scripts inside
// words ("cafй"), so both score low.
func russianScore(b []byte) int {
	n := 0
	var prev rune
	for _, r := range string(b) {
		if strings.ContainsRune("оеаинтсрвлкмдпу", r) {
			n++
		}
		if isCyrillic(r) && isLatin(prev) || isLatin(r) && isCyrillic(prev) {
			n -= 3
		}
		prev = r
	}
	return n
}

func isCyrillic(r rune) bool { return r >= 0x400 && r <= 0x4FF }

func isLatin(r rune) bool { return r < 0x80 && unicode.IsLetter(r) }

// clean makes s safe to store and show: valid UTF-8, no NUL bytes (which
// PostgreSQL text refuses) and no other C0 controls but tab and newlines.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	ok := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' {
			return -1
		}
		return r
	}, s)
}

// tidyText turns CRLF into LF and drops blank lines and spaces at the
// start and end.
func tidyText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.TrimRight(s, " \t\r\n")
	return strings.TrimLeft(s, "\r\n")
}

// clip cuts s to at most n bytes without splitting a character.
func clip(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// maxIDLen bounds a message id; RFC 5322 lines stop at 998 characters.
const maxIDLen = 998

// msgIDs reads a list of message ids leniently: every <...> group, or the
// whitespace-separated words when there are no brackets, as mailers in the
// wild write both.
func msgIDs(v string) []string {
	v = clean(v)
	var ids []string
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			break
		}
		ids = appendID(ids, v[i+1:i+j])
		v = v[i+j+1:]
	}
	if ids != nil {
		return ids
	}
	for _, f := range strings.Fields(v) {
		ids = appendID(ids, strings.Trim(f, "<>"))
	}
	return ids
}

func appendID(ids []string, id string) []string {
	id = strings.TrimSpace(id)
	if id == "" || len(id) > maxIDLen || strings.ContainsAny(id, " \t\r\n") {
		return ids
	}
	return append(ids, id)
}

// addressList reads an address header, falling back to a lenient reading
// when it is not RFC 5322.
func addressList(h gomail.Header, key string) []Address {
	raw := h.Get(key)
	if strings.TrimSpace(raw) == "" {
		return nil
	}
	raw = decode8bit([]byte(raw))
	list, err := gomail.ParseAddressList(raw)
	if err != nil {
		return lenientAddresses(raw)
	}
	out := make([]Address, 0, len(list))
	for _, a := range list {
		out = append(out, Address{Name: clean(a.Name), Addr: clean(a.Address)})
	}
	return out
}

// lenientAddresses finds what looks like addresses in a malformed list:
// "Name <a@b>" or a bare word with an '@'.
func lenientAddresses(raw string) []Address {
	dec := mime.WordDecoder{CharsetReader: message.CharsetReader}
	var out []Address
	for _, chunk := range strings.Split(raw, ",") {
		if a, ok := lenientAddress(chunk, &dec); ok {
			out = append(out, a)
		}
	}
	return out
}

func lenientAddress(chunk string, dec *mime.WordDecoder) (Address, bool) {
	if i := strings.IndexByte(chunk, '<'); i >= 0 {
		if j := strings.IndexByte(chunk[i:], '>'); j > 0 {
			addr := strings.TrimSpace(chunk[i+1 : i+j])
			name := strings.Trim(strings.TrimSpace(chunk[:i]), `"' `)
			if d, err := dec.DecodeHeader(name); err == nil {
				name = d
			}
			if strings.Contains(addr, "@") {
				return Address{Name: clean(name), Addr: clean(addr)}, true
			}
		}
	}
	for _, f := range strings.Fields(chunk) {
		f = strings.Trim(f, `<>"'()[];`)
		if strings.Count(f, "@") == 1 && !strings.HasPrefix(f, "@") && !strings.HasSuffix(f, "@") {
			return Address{Addr: clean(f)}, true
		}
	}
	return Address{}, false
}

// maxNameLen bounds an attachment's file name in bytes.
const maxNameLen = 120

// safeFileName reduces an attachment name from a letter to a plain base
// name that is safe on any file system: no directories, no controls, no
// characters shells or Windows treat specially, no leading dots, bounded
// length. An empty result becomes "attachment-N" with an extension for
// the media type.
func safeFileName(name, mediaType string, n int) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		switch {
		case r == utf8.RuneError, unicode.IsControl(r), strings.ContainsRune(`<>:"|?*`, r):
			return '_'
		case unicode.IsSpace(r):
			return ' '
		}
		return r
	}, clean(name))
	name = strings.Trim(name, ". ")
	if name == "" {
		return "attachment-" + strconv.Itoa(n) + extensionFor(mediaType)
	}
	return clipName(name)
}

// clipName shortens a long name, keeping a short extension.
func clipName(name string) string {
	if len(name) <= maxNameLen {
		return name
	}
	ext := ""
	if i := strings.LastIndexByte(name, '.'); i > 0 && len(name)-i <= 16 {
		ext = name[i:]
	}
	return strings.TrimRight(clip(name[:len(name)-len(ext)], maxNameLen-len(ext)), ". ") + ext
}

func extensionFor(mediaType string) string {
	switch mediaType {
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "image/gif":
		return ".gif"
	case "application/pdf":
		return ".pdf"
	case "text/plain":
		return ".txt"
	case "text/html":
		return ".html"
	case "message/rfc822":
		return ".eml"
	}
	return ".bin"
}
