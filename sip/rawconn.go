package sip

import (
	"bytes"
	"hash/fnv"
	"net"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/emiago/sipgo/sip"
)

// screenedConn is the SIP UDP socket as sipgo sees it. Each datagram is
// parsed here first: sipgo would log an unparseable one in full at Error
// and drop it, so instead it is counted, logged (rate-limited, without
// the payload) and, when it still names the headers a response needs,
// answered 400 (or 416 for an unknown Request-URI scheme) statelessly.
//
// It also forces rport (RFC 3581) on requests that lack it, so responses
// go back to the port the request came from, as Asterisk's force_rport
// does: callers behind NAT, and test tools on ephemeral ports, are
// answered where they listen.
type screenedConn struct {
	net.PacketConn
	parser *sip.Parser
	stats  *counters
	plog   *peerLog
}

// counters are the edge's counts; Server.Stats snapshots them.
type counters struct {
	unparseable, rawRejected, rejected, invites, answered, authFailed atomic.Uint64
}

// ReadFrom returns the next datagram for sipgo to handle.
func (c *screenedConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil {
			return n, addr, err
		}
		if out, ok := c.screen(b[:n], addr); ok {
			if len(out) > len(b) {
				out = b[:n] // cannot grow; hand over the original
			}
			return copy(b, out), addr, nil
		}
	}
}

// screen decides what becomes of one datagram.
//
// Every datagram is parsed here and again by sipgo, both on the socket's
// one reader goroutine; when two busy cores leave that goroutine
// unscheduled for long, the kernel drops datagrams at the socket
// (BENCHMARKS.md, voice: call flow) and the retransmissions that follow
// add load. Parsing once would need sipgo to take a parsed message.
func (c *screenedConn) screen(data []byte, addr net.Addr) ([]byte, bool) {
	if len(bytes.Trim(data, "\r\n\x00")) == 0 {
		return data, true // keep-alive (RFC 5626 §3.5.1); sipgo ignores it
	}
	msg, err := c.parser.ParseSIP(data)
	if err != nil {
		c.stats.unparseable.Add(1)
		c.plog.Warn("unparseable sip datagram", "peer", addr.String(), "bytes", len(data), "error", truncate(err.Error(), 120))
		c.rawReject(data, addr)
		return nil, false
	}
	req, ok := msg.(*sip.Request)
	if !ok {
		return data, true
	}
	if r := checkRawAddresses(data); r != nil && req.Method != sip.ACK {
		c.stats.rejected.Add(1)
		c.plog.Warn("sip request refused", "peer", addr.String(), "method", truncate(string(req.Method), 20),
			"status", r.Code, "reason", r.Detail)
		if res, ok := rawResponse(data, r.Code, r.Reason); ok {
			c.PacketConn.WriteTo(res, addr)
		}
		return nil, false
	}
	if addLegacyTag(req) {
		if via := req.Via(); via != nil && !via.Params.Has("rport") {
			via.Params.Add("rport", "")
		}
		return []byte(req.String()), true
	}
	if via := req.Via(); via != nil && !via.Params.Has("rport") {
		if out, ok := insertRport(data); ok {
			return out, true
		}
		via.Params.Add("rport", "")
		return []byte(req.String()), true
	}
	return data, true
}

// insertRport adds ";rport" to the first hop of the first Via header in
// the raw message, which is cheaper than serialising the parsed one. It
// gives up (false) on folded or quoted Via values.
func insertRport(data []byte) ([]byte, bool) {
	head, _, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	pos := bytes.Index(head, []byte("\r\n")) + 2
	for pos > 1 && pos < len(head) {
		end := bytes.Index(head[pos:], []byte("\r\n"))
		if end < 0 {
			end = len(head) - pos
		}
		line := head[pos : pos+end]
		name, value, ok := bytes.Cut(line, []byte(":"))
		if ok {
			n := strings.ToLower(strings.TrimSpace(string(name)))
			if n == "via" || n == "v" {
				if bytes.ContainsAny(value, "\"(") || pos+end+2 < len(head) && (head[pos+end+2] == ' ' || head[pos+end+2] == '\t') {
					return nil, false
				}
				at := pos + len(name) + 1 + len(bytes.TrimRight(value, " \t"))
				if i := bytes.IndexByte(value, ','); i >= 0 {
					at = pos + len(name) + 1 + len(bytes.TrimRight(value[:i], " \t"))
				}
				out := make([]byte, 0, len(data)+6)
				out = append(out, data[:at]...)
				out = append(out, ";rport"...)
				return append(out, data[at:]...), true
			}
		}
		pos += end + 2
	}
	return nil, false
}

// WriteTo sends a message, first removing any tag addLegacyTag made up, so
// the peer gets its From (or To) back as it sent it.
func (c *screenedConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if !bytes.Contains(b, []byte(legacyTagPrefix)) {
		return c.PacketConn.WriteTo(b, addr)
	}
	if _, err := c.PacketConn.WriteTo(stripLegacyTags(b), addr); err != nil {
		return 0, err
	}
	return len(b), nil // sipgo checks that all it handed over was written
}

// legacyTagPrefix starts the From tags Moroz makes up for requests that
// have none. RFC 3261 §12.2.1.1 asks a UAS to accept a From without a tag
// (RFC 2543 did not have them), but sipgo cannot key a transaction
// without one; the made-up tag is derived from the Call-ID and From
// address so every request of the dialog gets the same one.
const legacyTagPrefix = ";tag=m2543x"

func addLegacyTag(req *sip.Request) bool {
	from, id := req.From(), req.CallID()
	if from == nil || id == nil || from.Params.Has("tag") {
		return false
	}
	h := fnv.New64a()
	h.Write([]byte(id.Value()))
	h.Write([]byte(from.Address.String()))
	from.Params.Add("tag", strings.TrimPrefix(legacyTagPrefix, ";tag=")+strconv.FormatUint(h.Sum64(), 36))
	return true
}

// stripLegacyTags removes made-up tags (the prefix and the base-36 digits after it).
func stripLegacyTags(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for {
		i := bytes.Index(b, []byte(legacyTagPrefix))
		if i < 0 {
			return append(out, b...)
		}
		out = append(out, b[:i]...)
		b = b[i+len(legacyTagPrefix):]
		j := 0
		for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] >= 'a' && b[j] <= 'z') {
			j++
		}
		b = b[j:]
	}
}

// rawReject answers a request sipgo cannot parse, when its headers allow.
// A response (or anything without Via, From, To, Call-ID and CSeq) is
// dropped: RFC 3261 §18.1.2 has a malformed response discarded.
func (c *screenedConn) rawReject(data []byte, addr net.Addr) {
	code, reason := rawStatus(firstLine(data))
	res, ok := rawResponse(data, code, reason)
	if !ok {
		return
	}
	if _, err := c.PacketConn.WriteTo(res, addr); err == nil {
		c.stats.rawRejected.Add(1)
	}
}

// rawResponse builds a stateless error response from a request's raw bytes
// by copying the headers RFC 3261 §8.2.6.2 says a response copies.
func rawResponse(data []byte, code int, reason string) ([]byte, bool) {
	head, _, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	lines := unfold(string(head))
	if len(lines) < 2 || strings.HasPrefix(strings.ToUpper(lines[0]), "SIP/") {
		return nil, false
	}
	copied := map[string][]string{}
	for _, l := range lines[1:] {
		name, _, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		if canon := compactNames[strings.ToLower(strings.TrimSpace(name))]; canon != "" {
			copied[canon] = append(copied[canon], l)
		}
	}
	for _, h := range []string{"Via", "From", "To", "Call-ID", "CSeq"} {
		if len(copied[h]) == 0 {
			return nil, false
		}
	}
	var b strings.Builder
	b.WriteString("SIP/2.0 " + strconv.Itoa(code) + " " + reason + "\r\n")
	for _, h := range []string{"Via", "From", "To", "Call-ID", "CSeq"} {
		for i, l := range copied[h] {
			if h != "Via" && i > 0 {
				break
			}
			b.WriteString(l)
			if h == "To" && !strings.Contains(strings.ToLower(l), "tag=") {
				b.WriteString(";tag=" + sip.GenerateTagN(10))
			}
			b.WriteString("\r\n")
		}
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return []byte(b.String()), true
}

// compactNames maps header names (and RFC 3261 §7.3.3 compact forms) to
// the headers a raw response copies.
var compactNames = map[string]string{
	"via": "Via", "v": "Via", "from": "From", "f": "From", "to": "To", "t": "To",
	"call-id": "Call-ID", "i": "Call-ID", "cseq": "CSeq",
}

// rawStatus picks 416 when the Request-URI is well formed but of a
// scheme Moroz does not serve (RFC 4475 §3.4.3), else 400.
func rawStatus(requestLine string) (int, string) {
	parts := strings.Split(requestLine, " ")
	if len(parts) == 3 {
		if scheme, _, ok := strings.Cut(parts[1], ":"); ok && isSchemeToken(scheme) {
			switch strings.ToLower(scheme) {
			case "sip", "sips", "tel":
			default:
				return 416, "Unsupported URI Scheme"
			}
		}
	}
	return 400, "Bad Request"
}

func firstLine(data []byte) string {
	line, _, _ := bytes.Cut(data, []byte("\r\n"))
	return string(line)
}

// checkRawAddresses: an addr-spec holding '?' (URI headers) must be in
// angle brackets (RFC 3261 §20.10, RFC 4475 §3.1.2.13). sipgo's parsed
// headers no longer show whether brackets were there, so this reads the
// raw header lines, continuation lines joined to their header (RFC 3261
// §7.3.1), without copying them: it runs on every datagram.
func checkRawAddresses(data []byte) *rejection {
	head, _, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	_, rest, _ := bytes.Cut(head, []byte("\r\n")) // past the request line
	var h addrHeader
	first := true
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		if !first && len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			h.see(line)
			continue
		}
		first = false
		if r := h.verdict(); r != nil {
			return r
		}
		h = addrHeader{}
		if name, v, ok := bytes.Cut(line, []byte(":")); ok && isAddrHeader(bytes.TrimSpace(name)) {
			h.name, h.watched = name, true
			h.see(v)
		}
	}
	return h.verdict()
}

// addrHeader is what checkRawAddresses saw of one header's value.
type addrHeader struct {
	name                  []byte
	watched, angle, query bool
}

func (h *addrHeader) see(v []byte) {
	h.angle = h.angle || bytes.IndexByte(v, '<') >= 0
	h.query = h.query || bytes.IndexByte(v, '?') >= 0
}

func (h *addrHeader) verdict() *rejection {
	if !h.watched || !h.query || h.angle {
		return nil
	}
	name := strings.TrimSpace(string(h.name))
	return reject(400, "Bad "+name, "%s with '?' outside angle brackets", strings.ToLower(name))
}

// isAddrHeader reports whether name is Contact, From or To (or their
// compact forms m, f, t).
func isAddrHeader(name []byte) bool {
	for _, n := range []string{"contact", "m", "from", "f", "to", "t"} {
		if bytes.EqualFold(name, []byte(n)) {
			return true
		}
	}
	return false
}

// isSchemeToken checks RFC 3986 §3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func isSchemeToken(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		alpha := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !alpha && (i == 0 || !(r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.')) {
			return false
		}
	}
	return true
}

// unfold splits a header block into lines, joining continuation lines
// (RFC 3261 §7.3.1: a line starting with whitespace continues the last).
func unfold(head string) []string {
	var out []string
	for _, l := range strings.Split(head, "\r\n") {
		if len(out) > 1 && (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) {
			out[len(out)-1] += " " + strings.TrimSpace(l)
			continue
		}
		out = append(out, l)
	}
	return out
}
