package sip

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// FuzzValidate feeds arbitrary datagrams through what the UDP screen does
// before sipgo: parse, the raw checks, validation, and the stateless raw
// response for what does not parse. None of it may panic, a refusal is
// always a 4xx-6xx, a request that passes has the headers a response
// needs, and a raw response is a well-framed 400.
//
// The committed seeds are in testdata/fuzz/FuzzValidate; the RFC 4475
// messages from sipgo's module are added when the module is at hand.
func FuzzValidate(f *testing.F) {
	if dir, err := tortureDirQuiet(); err == nil {
		files, _ := filepath.Glob(filepath.Join(dir, "*", "*.dat"))
		for _, name := range files {
			if b, err := os.ReadFile(name); err == nil {
				f.Add(b)
			}
		}
	}
	p := sip.NewParser()
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := p.ParseSIP(data)
		if err != nil {
			checkRawResponse(t, data)
			return
		}
		req, ok := msg.(*sip.Request)
		if !ok {
			return
		}
		if r := checkRawAddresses(data); r != nil && r.Code != 400 {
			t.Fatalf("raw address check: got %d, want 400", r.Code)
		}
		addLegacyTag(req)
		r := validateRequest(req, allowedMethods)
		if r != nil {
			if r.Code < 400 || r.Code > 699 {
				t.Fatalf("refusal status %d outside 4xx-6xx", r.Code)
			}
			_ = sip.NewResponseFromRequest(req, r.Code, r.Reason, nil).String()
			return
		}
		if req.Via() == nil || req.From() == nil || req.To() == nil || req.CallID() == nil || req.CSeq() == nil {
			t.Fatalf("request passed validation without a required header:\n%q", data)
		}
		if req.CSeq().MethodName != req.Method {
			t.Fatalf("request passed validation with CSeq %s for %s", req.CSeq().MethodName, req.Method)
		}
	})
}

func checkRawResponse(t *testing.T, data []byte) {
	t.Helper()
	code, reason := rawStatus(firstLine(data))
	res, ok := rawResponse(data, code, reason)
	if !ok {
		return
	}
	if !bytes.HasPrefix(res, []byte("SIP/2.0 400 ")) && !bytes.HasPrefix(res, []byte("SIP/2.0 416 ")) {
		t.Fatalf("raw response status line: %q", firstLine(res))
	}
	if !bytes.HasSuffix(res, []byte("Content-Length: 0\r\n\r\n")) {
		t.Fatalf("raw response not framed: %q", res)
	}
	if n := bytes.Count(res, []byte("\r\n\r\n")); n != 1 {
		t.Fatalf("raw response has %d blank lines, want 1: %q", n, res)
	}
}
