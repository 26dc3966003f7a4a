package sip

import (
	"fmt"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// rejection is the verdict of validation: the status to answer a request
// with, its reason phrase, what was wrong (for the log only), and any
// header the status requires (Unsupported for 420, Accept for 415 and
// 406, Allow for 405).
type rejection struct {
	Code    int
	Reason  string
	Detail  string
	Headers []sip.Header
}

func (r *rejection) Error() string {
	return fmt.Sprintf("%d %s: %s", r.Code, r.Reason, r.Detail)
}

func reject(code int, reason, format string, args ...any) *rejection {
	return &rejection{Code: code, Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// knownMethods are the methods of RFC 3261 and its extensions that Moroz
// recognises; a request with any other method gets 501 (RFC 3261 §8.2.1).
var knownMethods = map[sip.RequestMethod]bool{
	sip.INVITE: true, sip.ACK: true, sip.CANCEL: true, sip.BYE: true,
	sip.OPTIONS: true, sip.REGISTER: true, sip.INFO: true, sip.PRACK: true,
	sip.UPDATE: true, sip.MESSAGE: true, sip.SUBSCRIBE: true, sip.NOTIFY: true,
	sip.REFER: true, sip.PUBLISH: true,
}

// singleHeaders may appear at most once (RFC 3261 §7.3.1: only headers
// whose grammar is a comma-separated list may repeat).
var singleHeaders = []string{"From", "To", "Call-ID", "CSeq", "Max-Forwards", "Content-Length", "Content-Type"}

// validateRequest checks what sipgo's parser lets through and RFC 3261
// (with the cases of RFC 4475) says a UAS must refuse. allowed lists the
// methods this server serves, for 405. It returns nil for a request to serve.
func validateRequest(req *sip.Request, allowed []sip.RequestMethod) *rejection {
	checks := []func(*sip.Request) *rejection{
		checkVersion,
		checkRequired,
		checkSingle,
		checkMethodKnown,
		checkCSeq,
		checkRequestURI,
		checkAddresses,
		checkRequire,
	}
	for _, check := range checks {
		if r := check(req); r != nil {
			return r
		}
	}
	if r := checkAllowed(req, allowed); r != nil {
		return r
	}
	return checkBody(req)
}

// checkVersion answers 505 for any version but SIP/2.0 in the request
// line or the top Via (RFC 3261 §21.5.6, RFC 4475 §3.1.2.16).
func checkVersion(req *sip.Request) *rejection {
	if !strings.EqualFold(req.SipVersion, "SIP/2.0") {
		return reject(505, "Version Not Supported", "request line version %q", req.SipVersion)
	}
	if v := req.Via(); v != nil && (!strings.EqualFold(v.ProtocolName, "SIP") || v.ProtocolVersion != "2.0") {
		return reject(505, "Version Not Supported", "via version %s/%s", v.ProtocolName, v.ProtocolVersion)
	}
	return nil
}

// checkRequired: RFC 3261 §8.1.1 lists the headers every request carries;
// without them no response can even be matched (RFC 4475 §3.4.1).
func checkRequired(req *sip.Request) *rejection {
	present := map[string]bool{
		"Via": req.Via() != nil, "From": req.From() != nil, "To": req.To() != nil,
		"Call-ID": req.CallID() != nil, "CSeq": req.CSeq() != nil,
	}
	for _, name := range []string{"Via", "From", "To", "Call-ID", "CSeq"} {
		if !present[name] {
			return reject(400, "Missing "+name, "no %s header", name)
		}
	}
	if id := req.CallID(); strings.TrimSpace(id.Value()) == "" {
		return reject(400, "Bad Call-ID", "empty Call-ID")
	}
	return nil
}

// checkSingle refuses repeated single-valued headers (RFC 4475 §3.4.8, §3.4.9).
func checkSingle(req *sip.Request) *rejection {
	for _, name := range singleHeaders {
		if n := len(req.GetHeaders(name)); n > 1 {
			return reject(400, "Multiple "+name, "%d %s headers", n, name)
		}
	}
	return nil
}

// checkMethodKnown answers 501 for methods nobody defined (RFC 4475 §3.1.2.18
// prefers 501 to 400 even when the CSeq method also mismatches).
func checkMethodKnown(req *sip.Request) *rejection {
	if !knownMethods[req.Method] {
		return reject(501, "Not Implemented", "method %q", truncate(string(req.Method), 40))
	}
	return nil
}

// checkCSeq: the CSeq method must match the request line (RFC 3261 §8.2.2
// via §20.16; RFC 4475 §3.1.2.17), except that a CANCEL's and an ACK's
// CSeq name their own method too.
func checkCSeq(req *sip.Request) *rejection {
	if m := req.CSeq().MethodName; m != req.Method {
		return reject(400, "CSeq Method Mismatch", "request line %s, CSeq %s", req.Method, truncate(string(m), 40))
	}
	return nil
}

// checkRequestURI: 416 for a scheme we cannot serve (RFC 3261 §8.2.2.1,
// RFC 4475 §3.4.2), 400 for headers escaped into the Request-URI, which
// RFC 3261 §19.1.5 forbids there (RFC 4475 §3.1.2.11).
func checkRequestURI(req *sip.Request) *rejection {
	u := req.Recipient
	switch strings.ToLower(u.Scheme) {
	case "sip", "sips", "tel":
	default:
		return reject(416, "Unsupported URI Scheme", "request-uri scheme %q", truncate(u.Scheme, 40))
	}
	if u.Headers.Length() > 0 {
		return reject(400, "Bad Request-URI", "headers in the request-uri")
	}
	return nil
}

// checkAddresses: a REGISTER's To is an address of record and must be a
// SIP or SIPS URI (RFC 3261 §10.2, RFC 4475 §3.4.4). The check of '?'
// outside angle brackets needs the raw bytes: see checkRawAddresses.
func checkAddresses(req *sip.Request) *rejection {
	if req.Method == sip.REGISTER {
		if s := strings.ToLower(req.To().Address.Scheme); s != "sip" && s != "sips" {
			return reject(400, "Bad To", "register to scheme %q", truncate(s, 40))
		}
	}
	return nil
}

// supportedOptions are the option tags Moroz implements; none yet.
var supportedOptions = map[string]bool{}

// checkRequire answers 420 listing the option tags we do not support
// (RFC 3261 §8.2.2.3, RFC 4475 §3.4.5). ACK and CANCEL are exempt.
// Proxy-Require is for proxies and ignored here.
func checkRequire(req *sip.Request) *rejection {
	if req.Method == sip.ACK || req.Method == sip.CANCEL {
		return nil
	}
	var unknown []string
	for _, h := range req.GetHeaders("Require") {
		for _, tag := range strings.Split(h.Value(), ",") {
			if tag = strings.TrimSpace(tag); tag != "" && !supportedOptions[strings.ToLower(tag)] {
				unknown = append(unknown, tag)
			}
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	r := reject(420, "Bad Extension", "require %s", truncate(strings.Join(unknown, ", "), 80))
	r.Headers = []sip.Header{sip.NewHeader("Unsupported", strings.Join(unknown, ", "))}
	return r
}

// checkAllowed answers 405 with Allow for known methods we do not serve
// (RFC 3261 §8.2.1).
func checkAllowed(req *sip.Request, allowed []sip.RequestMethod) *rejection {
	for _, m := range allowed {
		if m == req.Method {
			return nil
		}
	}
	r := reject(405, "Method Not Allowed", "method %s", req.Method)
	r.Headers = []sip.Header{allowHeader(allowed)}
	return r
}

func allowHeader(allowed []sip.RequestMethod) sip.Header {
	names := make([]string, len(allowed))
	for i, m := range allowed {
		names[i] = string(m)
	}
	return sip.NewHeader("Allow", strings.Join(names, ", "))
}

// checkBody: an INVITE's body must be SDP (415 with Accept otherwise,
// RFC 3261 §8.2.3, RFC 4475 §3.4.6), and it must accept an SDP answer
// (406 when its Accept leaves SDP out, RFC 4475 §3.4.15).
func checkBody(req *sip.Request) *rejection {
	if req.Method != sip.INVITE {
		return nil
	}
	if len(req.Body()) > 0 {
		ct := req.ContentType()
		if ct == nil || mediaType(ct.Value()) != "application/sdp" {
			got := "none"
			if ct != nil {
				got = truncate(ct.Value(), 60)
			}
			r := reject(415, "Unsupported Media Type", "content-type %s", got)
			r.Headers = []sip.Header{sip.NewHeader("Accept", "application/sdp")}
			return r
		}
	}
	if accepts := req.GetHeaders("Accept"); len(accepts) > 0 && !acceptsSDP(accepts) {
		r := reject(406, "Not Acceptable", "accept leaves out application/sdp")
		r.Headers = []sip.Header{sip.NewHeader("Accept", "application/sdp")}
		return r
	}
	return nil
}

func acceptsSDP(accepts []sip.Header) bool {
	for _, h := range accepts {
		if strings.TrimSpace(h.Value()) == "" {
			return true // an empty Accept means nothing is refused here
		}
		for _, v := range strings.Split(h.Value(), ",") {
			switch mediaType(v) {
			case "application/sdp", "application/*", "*/*":
				return true
			}
		}
	}
	return false
}

// mediaType returns the lowercased type/subtype of a media-type value.
func mediaType(v string) string {
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	return strings.ToLower(strings.TrimSpace(v))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
