package config

import (
	"errors"
	"testing"
)

func TestARIValidation(t *testing.T) {
	tests := []struct {
		name string
		ari  func(*ARI)
		key  string // the key the error names; "" for valid
	}{
		{name: "off by default", ari: func(*ARI) {}},
		{name: "on", ari: func(a *ARI) { a.URL = "http://10.0.0.5:8088/ari" }},
		{name: "not a url", ari: func(a *ARI) { a.URL = "asterisk:8088" }, key: "ari.url"},
		{name: "no app", ari: func(a *ARI) { a.URL, a.App = "http://pbx:8088/ari", "" }, key: "ari.app"},
		{name: "external host a name", ari: func(a *ARI) { a.URL, a.ExternalHost = "http://pbx:8088/ari", "moroz.lan" }, key: "ari.external_host"},
		{name: "external host unspecified", ari: func(a *ARI) { a.URL, a.ExternalHost = "http://pbx:8088/ari", "0.0.0.0" }, key: "ari.external_host"},
		{name: "ring timeout too short", ari: func(a *ARI) { a.URL, a.RingTimeout = "http://pbx:8088/ari", 2e9 }, key: "ari.ring_timeout"},
		{name: "trunk", ari: func(a *ARI) { a.URL, a.Trunk = "http://pbx:8088/ari", "trunk" }},
		{name: "trunk a dial string", ari: func(a *ARI) { a.URL, a.Trunk = "http://pbx:8088/ari", "PJSIP/trunk" }, key: "ari.trunk"},
		{name: "ring timeout not whole seconds", ari: func(a *ARI) { a.URL, a.RingTimeout = "http://pbx:8088/ari", 7.5e9 }, key: "ari.ring_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.ari(&c.ARI)
			err := c.Validate()
			var ke *KeyError
			switch {
			case tt.key == "" && err != nil:
				t.Errorf("valid ari section refused: %v", err)
			case tt.key != "" && !errors.As(err, &ke):
				t.Errorf("error %v, want one naming %s", err, tt.key)
			case tt.key != "" && ke.Key != tt.key:
				t.Errorf("error names %q, want %q", ke.Key, tt.key)
			}
		})
	}
}

func TestARIFromEnv(t *testing.T) {
	c, err := Load("", []string{"MOROZ_ARI_URL=http://pbx:8088/ari", "MOROZ_ARI_APP=desk", "MOROZ_ARI_RING_TIMEOUT=20s"})
	if err != nil {
		t.Fatal(err)
	}
	if c.ARI.URL != "http://pbx:8088/ari" || c.ARI.App != "desk" || c.ARI.RingTimeout.Seconds() != 20 || !c.ARI.Enabled() {
		t.Errorf("ari from env = %+v", c.ARI)
	}
}
