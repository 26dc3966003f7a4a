package sip

import (
	"bytes"
	"net"
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
	unparseable, rawRejected, rejected, invites, answered atomic.Uint64
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
	if via := req.Via(); via != nil && !via.Params.Has("rport") {
		via.Params.Add("rport", "")
		return []byte(req.String()), true
	}
	return data, true
}

// rawReject answers a request sipgo cannot parse, when its headers allow.
// A response (or anything without Via, From, To, Call-ID and CSeq) is
// dropped: RFC 3261 §18.1.2 has a malformed response discarded.
func (c *screenedConn) rawReject(data []byte, addr net.Addr) {
	res, ok := rawResponse(data)
	if !ok {
		return
	}
	if _, err := c.PacketConn.WriteTo(res, addr); err == nil {
		c.stats.rawRejected.Add(1)
	}
}

// rawResponse builds a stateless error response from a request's raw bytes
// by copying the headers RFC 3261 §8.2.6.2 says a response copies.
func rawResponse(data []byte) ([]byte, bool) {
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
	b.WriteString(rawStatusLine(lines[0]))
	b.WriteString("\r\n")
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

// rawStatusLine picks 416 when the Request-URI is well formed but of a
// scheme Moroz does not serve (RFC 4475 §3.4.3), else 400.
func rawStatusLine(requestLine string) string {
	parts := strings.Split(requestLine, " ")
	if len(parts) == 3 {
		if scheme, _, ok := strings.Cut(parts[1], ":"); ok && isSchemeToken(scheme) {
			switch strings.ToLower(scheme) {
			case "sip", "sips", "tel":
			default:
				return "SIP/2.0 416 Unsupported URI Scheme"
			}
		}
	}
	return "SIP/2.0 400 Bad Request"
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
