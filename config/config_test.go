package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// The sample file documents every key with its default.
func TestSampleIsDefault(t *testing.T) {
	path := filepath.Join("..", "configs", "moroz.yaml")
	got, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, Default(), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("configs/moroz.yaml differs from Default() (-file +default):\n%s", diff)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fields(reflect.ValueOf(&Config{}).Elem(), "") {
		leaf := f.key[strings.LastIndex(f.key, ".")+1:]
		if !strings.Contains(string(raw), leaf+":") {
			t.Errorf("configs/moroz.yaml does not show key %s", f.key)
		}
	}
	if err := got.Validate(); err != nil {
		t.Errorf("default configuration is invalid: %v", err)
	}
}

func TestEnvOverridesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.yaml")
	if err := os.WriteFile(path, []byte("http:\n  addr: 127.0.0.1:9000\nmail:\n  domains: [a.example]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"MOROZ_MAIL_DOMAINS=ded.example, moroz.example",
		"MOROZ_DRAIN=5s",
		"MOROZ_HTTP_INSECURE_COOKIES=true",
		"HOME=/nowhere",
	}
	c, err := Load(path, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Addr != "127.0.0.1:9000" {
		t.Errorf("http.addr = %q, want the file's 127.0.0.1:9000", c.HTTP.Addr)
	}
	if diff := cmp.Diff(c.Mail.Domains, []string{"ded.example", "moroz.example"}); diff != "" {
		t.Errorf("mail.domains (-got +want):\n%s", diff)
	}
	if c.Drain != 5*time.Second || !c.HTTP.InsecureCookies {
		t.Errorf("drain %v, insecure_cookies %v: environment not applied", c.Drain, c.HTTP.InsecureCookies)
	}
}

func TestBadInputNamesTheKey(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  []string
		key  string
	}{
		{name: "unknown key", file: "htp:\n  addr: x\n", key: "htp"},
		{name: "wrong type", file: "drain: soon\n", key: "drain"},
		{name: "bad env duration", env: []string{"MOROZ_DRAIN=soon"}, key: "drain"},
		{name: "bad env bool", env: []string{"MOROZ_HTTP_INSECURE_COOKIES=perhaps"}, key: "http.insecure_cookies"},
		{name: "bad address", file: "http:\n  addr: localhost\n", key: "http.addr"},
		{name: "bad level", file: "log:\n  level: loud\n", key: "log.level"},
		{name: "bad db", file: "db: mysql://x\n", key: "db"},
		{name: "bad port range", file: "sip:\n  rtp_ports: 20000-10000\n", key: "sip.rtp_ports"},
		{name: "bad prompt language", file: "sip:\n  lang: fr\n", key: "sip.lang"},
		{name: "public address a name", file: "sip:\n  public_addr: moroz.example\n", key: "sip.public_addr"},
		{name: "public address unspecified", env: []string{"MOROZ_SIP_PUBLIC_ADDR=0.0.0.0"}, key: "sip.public_addr"},
		{name: "trunk not an address", file: "sip:\n  trunk:\n    target: nowhere\n", key: "sip.trunk.target"},
		{name: "callback retry too soon", env: []string{"MOROZ_SIP_CALLBACKS_RETRY_AFTER=1s"}, key: "sip.callbacks.retry_after"},
		{name: "no callback attempt", file: "sip:\n  callbacks:\n    max_attempts: 0\n", key: "sip.callbacks.max_attempts"},
		{name: "trunk user without password", env: []string{"MOROZ_SIP_TRUNK_TARGET=127.0.0.1:5080", "MOROZ_SIP_TRUNK_USERNAME=ded"}, key: "sip.trunk.password"},
		{name: "realm with a quote", file: "sip:\n  realm: 'a\"b'\n", key: "sip.realm"},
		{name: "announcements too often", env: []string{"MOROZ_SIP_ANNOUNCE_EVERY=1s"}, key: "sip.announce_every"},
		{name: "voicemail too short", file: "sip:\n  voicemail_max: 1s\n", key: "sip.voicemail_max"},
		{name: "greeting line without a pin", file: "sip:\n  greeting_number: \"*99\"\n  greeting_pin: \"12\"\n", key: "sip.greeting_pin"},
		{name: "bad domain", file: "mail:\n  domains: [\"ded moroz\"]\n", key: "mail.domains"},
		{name: "bad origin", file: "http:\n  origins: [desk.example]\n", key: "http.origins"},
		{name: "public url without scheme", file: "http:\n  public_url: moroz.example.org\n", key: "http.public_url"},
		{name: "public url with a query", env: []string{"MOROZ_HTTP_PUBLIC_URL=https://moroz.example.org/?a=1"}, key: "http.public_url"},
		{name: "bad public ip", env: []string{"MOROZ_SOFTPHONE_PUBLIC_IPS=203.0.113.7,gateway"}, key: "softphone.public_ips"},
		{name: "stun url without scheme", file: "softphone:\n  stun: [stun.example.org:3478]\n", key: "softphone.stun"},
		{name: "turn without credentials", env: []string{"MOROZ_SOFTPHONE_TURN=turn:turn.example.org"}, key: "softphone.turn_username"},
		{name: "bad softphone ports", file: "softphone:\n  ports: 70000-80000\n", key: "softphone.ports"},
		{name: "softphone grace too short", env: []string{"MOROZ_SOFTPHONE_GRACE=100ms"}, key: "softphone.grace"},
		{name: "outbox lease too short", env: []string{"MOROZ_OUTBOX_LEASE=1s"}, key: "outbox.lease"},
		{name: "outbox poll past the lease", file: "outbox:\n  poll: 30s\n", key: "outbox.poll"},
		{name: "outbox retention too short", env: []string{"MOROZ_OUTBOX_RETENTION=5m"}, key: "outbox.retention"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = filepath.Join(t.TempDir(), "m.yaml")
				if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			c, err := Load(path, tt.env)
			if err == nil {
				err = c.Validate()
			}
			if err == nil {
				t.Fatalf("no error, want one naming %s", tt.key)
			}
			var ke *KeyError
			if errors.As(err, &ke) && ke.Key != tt.key {
				t.Errorf("error names key %q, want %q: %v", ke.Key, tt.key, err)
			}
			if !strings.Contains(err.Error(), tt.key) {
				t.Errorf("error %q does not name %s", err, tt.key)
			}
		})
	}
}

func TestUnknownEnv(t *testing.T) {
	got := UnknownEnv([]string{"MOROZ_HTTP_ADDR=x", "MOROZ_HTTP_ADRR=y", "MOROZ_TEST_DB=z", "MOROZ_REQUIRE_PG=1", "PATH=/bin"})
	if diff := cmp.Diff(got, []string{"MOROZ_HTTP_ADRR"}); diff != "" {
		t.Errorf("UnknownEnv (-got +want):\n%s", diff)
	}
}

func TestQueues(t *testing.T) {
	good := `
queues:
  - name: calls
    strategy: ring-all
    sla: 20s
    wrap_up: 30s
    hours:
      time_zone: Europe/Moscow
      week:
        mon: ["09:00-13:00", "14:00-24:00"]
      holidays: ["2027-01-01"]
  - name: letters
`
	path := filepath.Join(t.TempDir(), "q.yaml")
	os.WriteFile(path, []byte(good), 0o600)
	c, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	qs, err := c.RouterQueues()
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != 2 || qs[0].Strategy != "ring-all" || qs[0].Hours == nil || len(qs[0].Hours.Week[time.Monday]) != 2 {
		t.Fatalf("queues: %+v", qs)
	}
	monday := time.Date(2026, 12, 7, 15, 0, 0, 0, qs[0].Hours.Location) // a Monday afternoon
	if !qs[0].Hours.Open(monday) || qs[0].Hours.Open(monday.Add(24*time.Hour)) {
		t.Errorf("hours: open Monday 15:00 %v, Tuesday %v", qs[0].Hours.Open(monday), qs[0].Hours.Open(monday.Add(24*time.Hour)))
	}

	bad := []struct{ name, file, key string }{
		{"unknown key in a queue", "queues:\n  - name: x\n    stratgy: random\n", "queues[0].stratgy"},
		{"bad strategy", "queues:\n  - name: x\n    strategy: fastest\n", "queues[0]"},
		{"bad period", "queues:\n  - name: x\n    hours:\n      week:\n        mon: [\"18:00-09:00\"]\n", "queues[0]"},
		{"bad zone", "queues:\n  - name: x\n    hours:\n      time_zone: Mars/Olympus\n", "queues[0]"},
		{"bad day", "queues:\n  - name: x\n    hours:\n      week:\n        funday: [\"09:00-10:00\"]\n", "queues[0]"},
		{"duplicate", "queues:\n  - name: x\n  - name: x\n", "queues[1].name"},
		{"not a list", "queues: calls\n", "queues"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "q.yaml")
			os.WriteFile(path, []byte(tt.file), 0o600)
			c, err := Load(path, nil)
			if err == nil {
				err = c.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tt.key) {
				t.Errorf("error %v, want one naming %s", err, tt.key)
			}
		})
	}
}
