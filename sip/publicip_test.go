package sip

import (
	"context"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
)

// TestPublicIPInSDPAndContact checks that behind NAT the answer's SDP and
// the Contact name the public IP, with the media port of the leg.
func TestPublicIPInSDPAndContact(t *testing.T) {
	srv := testServerWithHandler(t, Config{PublicIP: "203.0.113.7"}, func(ctx context.Context, c *Call) {
		c.Answer()
		<-c.Done()
	})
	u := newUAC(t, srv, false)
	m := u.invite("sendrecv")
	if m.status() != 200 {
		t.Fatalf("invite: got %d, want 200", m.status())
	}
	u.request("ACK", 1, "")
	defer func() {
		u.request("BYE", 2, "")
		u.final()
	}()

	var sd sdp.SessionDescription
	if err := sd.Unmarshal([]byte(m.body)); err != nil {
		t.Fatalf("answer sdp: %v\n%s", err, m.body)
	}
	if got := sd.ConnectionInformation.Address.Address; got != "203.0.113.7" {
		t.Errorf("c= address: got %s, want 203.0.113.7", got)
	}
	if got := sd.Origin.UnicastAddress; got != "203.0.113.7" {
		t.Errorf("o= address: got %s, want 203.0.113.7", got)
	}
	if port := sd.MediaDescriptions[0].MediaName.Port.Value; port < 30000 || port > 39998 {
		t.Errorf("m= port: got %d, want the leg's port in 30000-39998", port)
	}
	if got := m.header("Contact"); !strings.Contains(got, "@203.0.113.7:") {
		t.Errorf("contact: got %q, want the public IP", got)
	}
}

func TestPublicIPConfig(t *testing.T) {
	tests := []struct {
		name, ip string
		wantErr  bool
	}{
		{"unset", "", false},
		{"ipv4", "203.0.113.7", false},
		{"ipv6", "2001:db8::7", false},
		{"a name", "moroz.example", true},
		{"unspecified", "0.0.0.0", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Config{MediaIP: "127.0.0.1", PublicIP: tt.ip}.withDefaults()
			if (err != nil) != tt.wantErr {
				t.Errorf("public ip %q: got error %v, want error %v", tt.ip, err, tt.wantErr)
			}
		})
	}
}
