package sip

import (
	"testing"

	"github.com/emiago/sipgo/sip"
)

func TestInsertRport(t *testing.T) {
	tests := []struct {
		name, in, wantVia string
		ok                bool
	}{
		{"plain", "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport", true},
		{"compact with two hops", "v: SIP/2.0/UDP a;branch=z9hG4bK1,SIP/2.0/UDP b;branch=z9hG4bK2", "SIP/2.0/UDP a;branch=z9hG4bK1;rport", true},
		{"trailing space", "Via: SIP/2.0/UDP a;branch=z9hG4bK1  ", "SIP/2.0/UDP a;branch=z9hG4bK1;rport", true},
		{"folded", "Via: SIP/2.0/UDP a;\r\n branch=z9hG4bK1", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := "OPTIONS sip:a@b SIP/2.0\r\n" + tt.in + "\r\nFrom: <sip:c@d>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
			out, ok := insertRport([]byte(msg))
			if ok != tt.ok {
				t.Fatalf("ok: got %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			m, err := sip.NewParser().ParseSIP(out)
			if err != nil {
				t.Fatalf("parse result: %v\n%q", err, out)
			}
			via := m.Via()
			if !via.Params.Has("rport") || via.Params.GetOr("branch", "") != "z9hG4bK1" {
				t.Errorf("via: got %q, want %q", via.Value(), tt.wantVia)
			}
		})
	}
}

func TestCheckRawAddresses(t *testing.T) {
	for _, tc := range []struct {
		name, headers string
		want          int // 0: accepted
	}{
		{"bracketed", "From: <sip:a@x?subject=hi>;tag=1\r\nTo: <sip:b@x>", 0},
		{"bare query in From", "From: sip:a@x?subject=hi;tag=1\r\nTo: <sip:b@x>", 400},
		{"compact Contact", "f: <sip:a@x>;tag=1\r\nm: sip:c@x?x=y", 400},
		{"query on a continuation line", "From: sip:a@x\r\n ?subject=hi;tag=1", 400},
		{"bracket on a continuation line", "To: sip:b@x?x=y\r\n\t<sip:b@x>", 0},
		{"other headers may hold a query", "Subject: why?\r\nVia: SIP/2.0/UDP h;x=?", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := "INVITE sip:ded@x SIP/2.0\r\n" + tc.headers + "\r\nContent-Length: 0\r\n\r\n"
			got := 0
			if r := checkRawAddresses([]byte(msg)); r != nil {
				got = r.Code
			}
			if got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}
