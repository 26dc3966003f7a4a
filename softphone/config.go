package softphone

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/pion/webrtc/v4"
)

// DefaultGrace is how long a browser that lost its connection mid-call
// may take to come back before the leg ends as lost.
const DefaultGrace = 10 * time.Second

// ICEServer is one STUN or TURN server the browser and the server use.
type ICEServer struct {
	// URLs are stun:, turn: or turns: URLs (RFC 7064, RFC 7065).
	URLs []string `yaml:"urls" json:"urls"`
	// Username and Credential authenticate to a TURN server.
	Username   string `yaml:"username" json:"username,omitempty"`
	Credential string `yaml:"credential" json:"credential,omitempty"`
}

// Config is the WebRTC side of the softphone. The zero value works on a
// host whose addresses the browsers reach directly.
type Config struct {
	// PublicIPs are the addresses announced in ICE host candidates
	// instead of the interfaces' own (NAT 1:1); empty announces those.
	PublicIPs []string `yaml:"public_ips"`
	// ICEServers are STUN and TURN servers; none by default.
	ICEServers []ICEServer `yaml:"ice_servers"`
	// PortMin and PortMax bound the UDP ports of peer connections; zero
	// lets the system choose.
	PortMin uint16 `yaml:"port_min"`
	PortMax uint16 `yaml:"port_max"`
	// Loopback offers loopback candidates too (tests, one-machine demos).
	Loopback bool `yaml:"loopback"`
	// Grace is how long a disconnected browser may take to re-attach;
	// 0 means DefaultGrace.
	Grace time.Duration `yaml:"grace"`
}

// Validate reports the first key that is wrong and why.
func (c Config) Validate() error {
	for _, ip := range c.PublicIPs {
		if _, err := netip.ParseAddr(ip); err != nil {
			return fmt.Errorf("softphone.public_ips: %q is not an IP address", ip)
		}
	}
	for i, s := range c.ICEServers {
		if len(s.URLs) == 0 {
			return fmt.Errorf("softphone.ice_servers[%d]: no urls", i)
		}
		for _, u := range s.URLs {
			if !strings.HasPrefix(u, "stun:") && !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
				return fmt.Errorf("softphone.ice_servers[%d]: %q is not a stun:, turn: or turns: URL", i, u)
			}
		}
	}
	if (c.PortMin == 0) != (c.PortMax == 0) || c.PortMin > c.PortMax {
		return errors.New("softphone.port_min and port_max: set both, min not above max")
	}
	if c.Grace < 0 {
		return errors.New("softphone.grace: must not be negative")
	}
	return nil
}

func (c Config) iceServers() []webrtc.ICEServer {
	out := make([]webrtc.ICEServer, 0, len(c.ICEServers))
	for _, s := range c.ICEServers {
		w := webrtc.ICEServer{URLs: s.URLs, Username: s.Username}
		if s.Credential != "" {
			w.Credential = s.Credential
		}
		out = append(out, w)
	}
	return out
}

// settings builds the SettingEngine all peer connections share.
func (c Config) settings() (webrtc.SettingEngine, error) {
	var se webrtc.SettingEngine
	if len(c.PublicIPs) > 0 {
		se.SetNAT1To1IPs(c.PublicIPs, webrtc.ICECandidateTypeHost)
	}
	if c.PortMin != 0 {
		if err := se.SetEphemeralUDPPortRange(c.PortMin, c.PortMax); err != nil {
			return se, fmt.Errorf("softphone ports %d-%d: %w", c.PortMin, c.PortMax, err)
		}
	}
	se.SetIncludeLoopbackCandidate(c.Loopback)
	// mDNS names would hide the host candidates behind names the server
	// cannot resolve; browsers still use them, and pion resolves those.
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	// A closed tab stops answering ICE checks: notice within seconds.
	se.SetICETimeouts(3*time.Second, 6*time.Second, time.Second)
	return se, nil
}
