package sip

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// passwords is a Credentials of fixed users in DefaultRealm.
type passwords map[string]string

func (p passwords) SIPHA1(_ context.Context, user string) (string, bool, error) {
	pw, ok := p[user]
	return HA1(user, DefaultRealm, pw), ok, nil
}

var (
	phoneIP = netip.MustParseAddr("192.0.2.10")
	otherIP = netip.MustParseAddr("192.0.2.99")
)

func registerReq(t *testing.T, user, auth string, extra ...string) *sip.Request {
	t.Helper()
	msg := "REGISTER sip:moroz.example SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKr1\r\n" +
		"From: <sip:" + user + "@moroz.example>;tag=r1\r\nTo: <sip:" + user + "@moroz.example>\r\n" +
		"Call-ID: reg-" + user + "\r\nCSeq: 1 REGISTER\r\nContact: <sip:" + user + "@192.0.2.10:5062>\r\n"
	if auth != "" {
		msg += "Authorization: " + auth + "\r\n"
	}
	for _, h := range extra {
		msg += h + "\r\n"
	}
	m, err := sip.NewParser().ParseSIP([]byte(msg + "Content-Length: 0\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	return m.(*sip.Request)
}

// answer computes the client's Authorization for a 401's challenge.
func answer(t *testing.T, v verdict, user, password string) string {
	t.Helper()
	if v.code != 401 {
		t.Fatalf("want a 401 challenge, got %d", v.code)
	}
	chal, err := digest.ParseChallenge(v.headers[0].Value())
	if err != nil {
		t.Fatal(err)
	}
	cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:moroz.example", Username: user, Password: password, Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	return cred.String()
}

func newTestRegistrar() *registrar {
	return newRegistrar(RegistrarConfig{Credentials: passwords{"101": "snowflake"}, MaxFailures: 3,
		BanFor: 10 * time.Minute, NonceTTL: 30 * time.Second})
}

func TestRegisterWithDigest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRegistrar()
		ctx := context.Background()
		chal := r.handle(ctx, registerReq(t, "101", ""), phoneIP)
		v := r.handle(ctx, registerReq(t, "101", answer(t, chal, "101", "snowflake"), "Expires: 600"), phoneIP)
		if v.code != 200 {
			t.Fatalf("register: got %d, want 200", v.code)
		}
		if len(v.headers) != 1 || !strings.Contains(v.headers[0].Value(), "expires=600") {
			t.Errorf("contacts in 200: got %v, want one with expires=600", v.headers)
		}
		b := r.lookup("101")
		if len(b) != 1 || b[0].Contact != "sip:101@192.0.2.10:5062" {
			t.Fatalf("bindings: got %+v, want the phone's contact", b)
		}
		time.Sleep(601 * time.Second)
		if b := r.lookup("101"); len(b) != 0 {
			t.Errorf("bindings after expiry: got %+v, want none", b)
		}
	})
}

func TestRegisterChallengeGivesNothingAway(t *testing.T) {
	r := newTestRegistrar()
	ctx := context.Background()
	shape := func(v verdict) string {
		h := v.headers[0].Value()
		i := strings.Index(h, `nonce="`)
		j := strings.Index(h[i+7:], `"`)
		return fmt.Sprintf("%d %s", v.code, h[:i]+h[i+7+j:])
	}
	known := r.handle(ctx, registerReq(t, "101", ""), phoneIP)
	unknown := r.handle(ctx, registerReq(t, "999", ""), phoneIP)
	if shape(known) != shape(unknown) {
		t.Errorf("challenges differ:\nknown   %s\nunknown %s", shape(known), shape(unknown))
	}
	wrongKnown := r.handle(ctx, registerReq(t, "101", answer(t, known, "101", "guess")), phoneIP)
	wrongUnknown := r.handle(ctx, registerReq(t, "999", answer(t, unknown, "999", "guess")), phoneIP)
	if shape(wrongKnown) != shape(wrongUnknown) {
		t.Errorf("answers to wrong passwords differ:\nknown   %s\nunknown %s", shape(wrongKnown), shape(wrongUnknown))
	}
}

func TestRegisterNonceRules(t *testing.T) {
	tests := []struct {
		name string
		use  func(t *testing.T, r *registrar, auth string) verdict
	}{
		{"used twice", func(t *testing.T, r *registrar, auth string) verdict {
			if v := r.handle(context.Background(), registerReq(t, "101", auth), phoneIP); v.code != 200 {
				t.Fatalf("first use: got %d, want 200", v.code)
			}
			return r.handle(context.Background(), registerReq(t, "101", auth), phoneIP)
		}},
		{"from another address", func(t *testing.T, r *registrar, auth string) verdict {
			return r.handle(context.Background(), registerReq(t, "101", auth), otherIP)
		}},
		{"expired", func(t *testing.T, r *registrar, auth string) verdict {
			time.Sleep(31 * time.Second)
			return r.handle(context.Background(), registerReq(t, "101", auth), phoneIP)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newTestRegistrar()
				chal := r.handle(context.Background(), registerReq(t, "101", ""), phoneIP)
				v := tt.use(t, r, answer(t, chal, "101", "snowflake"))
				if v.code != 401 || v.failed {
					t.Errorf("got %d (failed=%v), want a fresh 401 that is not counted as a failure", v.code, v.failed)
				}
			})
		})
	}
}

func TestRegisterBruteForceIsBanned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRegistrar()
		ctx := context.Background()
		try := func(ip netip.Addr, password string) int {
			chal := r.handle(ctx, registerReq(t, "101", ""), ip)
			if chal.code == 403 {
				return 403
			}
			return r.handle(ctx, registerReq(t, "101", answer(t, chal, "101", password)), ip).code
		}
		for i := range 3 {
			if got := try(phoneIP, fmt.Sprintf("guess%d", i)); got != 401 {
				t.Fatalf("guess %d: got %d, want 401", i, got)
			}
		}
		if got := try(phoneIP, "snowflake"); got != 403 {
			t.Errorf("right password while banned: got %d, want 403", got)
		}
		if got := try(otherIP, "snowflake"); got != 200 {
			t.Errorf("another address: got %d, want 200", got)
		}
		time.Sleep(10*time.Minute + time.Second)
		if got := try(phoneIP, "snowflake"); got != 200 {
			t.Errorf("after the ban: got %d, want 200", got)
		}
	})
}

func TestRegisterExpiresRules(t *testing.T) {
	tests := []struct {
		name  string
		extra []string
		want  int
	}{
		{"too brief", []string{"Expires: 10"}, 423},
		{"bad expires", []string{"Expires: soon"}, 400},
		{"remove", []string{"Expires: 0"}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestRegistrar()
			chal := r.handle(context.Background(), registerReq(t, "101", ""), phoneIP)
			v := r.handle(context.Background(), registerReq(t, "101", answer(t, chal, "101", "snowflake"), tt.extra...), phoneIP)
			if v.code != tt.want {
				t.Errorf("got %d, want %d", v.code, tt.want)
			}
		})
	}
}

func TestRegisterForAnotherUserForbidden(t *testing.T) {
	r := newTestRegistrar()
	chal := r.handle(context.Background(), registerReq(t, "102", ""), phoneIP)
	// Credentials of 101 on a REGISTER whose To is 102.
	v := r.handle(context.Background(), registerReq(t, "102", answer(t, chal, "101", "snowflake")), phoneIP)
	if v.code != 403 {
		t.Errorf("got %d, want 403", v.code)
	}
}

// TestDigestResponse checks HA1 and the response against RFC 2617 §3.5's
// worked example, and that what the challenge does not offer is refused.
func TestDigestResponse(t *testing.T) {
	ha1 := HA1("Mufasa", "testrealm@host.com", "Circle Of Life")
	if want := "939e7578ed9e3c518a452acee763bce9"; ha1 != want {
		t.Fatalf("HA1: got %s, want %s", ha1, want)
	}
	cred := func(alg, qop string) *digest.Credentials {
		return &digest.Credentials{Username: "Mufasa", Realm: "testrealm@host.com", Algorithm: alg,
			Nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093", URI: "/dir/index.html", QOP: qop, Nc: 1, Cnonce: "0a4f113b"}
	}
	tests := []struct {
		name    string
		cred    *digest.Credentials
		want    string
		wantErr bool
	}{
		{"qop auth", cred("", "auth"), "6629fae49393a05397450978507c4ef1", false},
		{"qop auth, MD5 named", cred("MD5", "auth"), "6629fae49393a05397450978507c4ef1", false},
		{"sha-256 not offered", cred("SHA-256", "auth"), "", true},
		{"auth-int not offered", cred("MD5", "auth-int"), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := expectedResponse(tt.cred, "GET", ha1)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err: got %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("response: got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestBindingTarget(t *testing.T) {
	tests := []struct {
		name, contact, source, want string
	}{
		{"reachable contact", "sip:201@127.0.0.1:5062", "127.0.0.1:5062", "sip:201@127.0.0.1:5062"},
		{"behind nat", "sip:201@10.0.0.5:5062;transport=udp", "198.51.100.4:40112",
			"sip:201@198.51.100.4:40112;transport=udp"},
		{"no source", "sip:201@10.0.0.5:5062", "", "sip:201@10.0.0.5:5062"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Binding{Contact: tt.contact, Source: tt.source}.Target()
			if got != tt.want {
				t.Errorf("target: got %s, want %s", got, tt.want)
			}
		})
	}
}
