package mail

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string // part of the error; "" for none
	}{
		{"defaults", func(*Config) {}, ""},
		{"bad domain", func(c *Config) { c.Domains = []string{"a@b"} }, "mail.domains"},
		{"no data folder", func(c *Config) { c.DataDir = "" }, "data folder"},
		{"tiny size", func(c *Config) { c.MaxMessageBytes = 10 }, "mail.max_message_bytes"},
		{"short lines", func(c *Config) { c.MaxLineLength = 80 }, "mail.max_line_length"},
		{"cert without key", func(c *Config) { c.TLSCert = "cert.pem" }, "mail.tls_key"},
		{"bad mailbox", func(c *Config) { c.Mailboxes = map[string]string{"a@b": "q"} }, "mail.mailboxes"},
		{"bad template", func(c *Config) { c.AutoReply.Body = "{{" }, "mail.auto_reply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{DataDir: t.TempDir()}
			tt.edit(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate: %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate: %v, want an error naming %q", err, tt.want)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{Domains: []string{" Moroz.Example "}, Mailboxes: map[string]string{"Ded": "letters"}}.withDefaults()
	if c.Domains[0] != "moroz.example" || c.Queue != DefaultQueue || c.Listen != DefaultListen {
		t.Errorf("defaults = %q %q %q", c.Domains, c.Queue, c.Listen)
	}
	if q, ok := c.queueFor("DED"); !ok || q != "letters" {
		t.Errorf("queueFor(DED) = %q, %v; want letters, true", q, ok)
	}
}
