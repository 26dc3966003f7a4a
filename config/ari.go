package config

import (
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Defaults of the ari section.
const (
	DefaultARIApp          = "moroz"
	DefaultARIExternalHost = "127.0.0.1"
	DefaultARIRingTimeout  = 30 * time.Second
)

// ARI configures Asterisk mode (package sip/ari): Moroz as the Stasis
// application of an Asterisk that owns the trunks and phones.
type ARI struct {
	// URL is ARI's base, such as http://127.0.0.1:8088/ari; empty turns
	// Asterisk mode off. Env MOROZ_ARI_URL.
	URL string `yaml:"url"`
	// User and Password are a user of Asterisk's ari.conf.
	// Env MOROZ_ARI_USER, MOROZ_ARI_PASSWORD.
	User     string `yaml:"user"`
	Password string `yaml:"password"`
	// App is the Stasis application's name, as extensions.conf names it
	// in Stasis(…). Default moroz. Env MOROZ_ARI_APP.
	App string `yaml:"app"`
	// ExternalHost is an IP address of this host that Asterisk reaches:
	// Moroz's media legs listen on it, on ports of sip.rtp_ports, and
	// external media channels send their RTP there. Default 127.0.0.1.
	// Env MOROZ_ARI_EXTERNAL_HOST.
	ExternalHost string `yaml:"external_host"`
	// RingTimeout is how long a helper's phone on Asterisk rings. Default
	// 30s, whole seconds, at least 5s. Env MOROZ_ARI_RING_TIMEOUT.
	RingTimeout time.Duration `yaml:"ring_timeout"`
	// Trunk is the PJSIP endpoint of the provider (pjsip.conf) that
	// accepted callbacks dial out through, as PJSIP/<number>@<trunk>;
	// empty leaves callbacks to the helpers (or to sip.trunk). Env
	// MOROZ_ARI_TRUNK.
	Trunk string `yaml:"trunk"`
	// CallerID is the number a called-back person sees; empty leaves
	// Asterisk's (the trunk endpoint's callerid). Env MOROZ_ARI_CALLER_ID.
	CallerID string `yaml:"caller_id"`
}

func defaultARI() ARI {
	return ARI{App: DefaultARIApp, ExternalHost: DefaultARIExternalHost, RingTimeout: DefaultARIRingTimeout}
}

// Enabled reports whether Asterisk mode is on.
func (a ARI) Enabled() bool { return a.URL != "" }

func (a ARI) validate(bad func(string, string, ...any)) {
	if !a.Enabled() {
		return
	}
	if u, err := url.Parse(a.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("ari.url", "%q is not an http(s) URL such as http://127.0.0.1:8088/ari", a.URL)
	}
	if a.App == "" {
		bad("ari.app", "must not be empty when ari.url is set")
	}
	if ip, err := netip.ParseAddr(a.ExternalHost); err != nil || ip.IsUnspecified() {
		bad("ari.external_host", "%q is not an IP address Asterisk can send to", a.ExternalHost)
	}
	if strings.ContainsAny(a.Trunk, "/@&, ") {
		bad("ari.trunk", "%q is not a PJSIP endpoint name (such as trunk)", a.Trunk)
	}
	if a.RingTimeout < 5*time.Second || a.RingTimeout%time.Second != 0 {
		bad("ari.ring_timeout", "%v is not a whole number of seconds of at least 5s", a.RingTimeout)
	}
}
