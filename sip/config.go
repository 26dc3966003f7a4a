package sip

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"
)

// Defaults for Config fields left zero.
const (
	DefaultAddr       = ":5060"
	DefaultRTPPortMin = 10000
	DefaultRTPPortMax = 20000
	DefaultRetryAfter = 30 * time.Second
	DefaultUserAgent  = "Moroz"
)

// Config is the SIP edge's configuration. The service layer fills it from
// moroz.yaml (key sip.*) and MOROZ_SIP_* variables.
type Config struct {
	// UDPAddr is the UDP listen address, host:port; port 0 picks a free
	// port (Server.UDPAddr reports it). Default DefaultAddr. "off" disables UDP.
	UDPAddr string
	// TCPAddr is the TCP listen address, as UDPAddr. Default DefaultAddr.
	// "off" disables TCP.
	TCPAddr string
	// MediaIP is the IP that RTP sockets bind to and that SDP and Contact
	// advertise. Default: the UDP (or TCP) listen IP when it is specific,
	// else the first non-loopback interface address, else 127.0.0.1.
	MediaIP string
	// PublicIP, when set, is the IP advertised in SDP (c= and o=) and in
	// Contact instead of MediaIP: the address of a 1:1 NAT in front of
	// Moroz, which forwards the SIP and RTP ports unchanged. Sockets still
	// bind to MediaIP.
	PublicIP string
	// RTPPortMin and RTPPortMax bound the RTP ports (even ports are used).
	// Default DefaultRTPPortMin-DefaultRTPPortMax.
	RTPPortMin, RTPPortMax int
	// RetryAfter goes in the Retry-After of 503 answers while draining.
	// Default DefaultRetryAfter; whole seconds are sent.
	RetryAfter time.Duration
	// UserAgent is sent in User-Agent and Server headers. Default DefaultUserAgent.
	UserAgent string
	// Logger receives the edge's logs; default slog.Default().
	Logger *slog.Logger
	// Registrar turns on REGISTER with digest authentication when its
	// Credentials are set.
	Registrar RegistrarConfig
}

// disabled is the address value that turns a transport off.
const disabled = "off"

// withDefaults returns c with zero fields defaulted and checks it.
func (c Config) withDefaults() (Config, error) {
	if c.UDPAddr == "" {
		c.UDPAddr = DefaultAddr
	}
	if c.TCPAddr == "" {
		c.TCPAddr = DefaultAddr
	}
	if c.UDPAddr == disabled && c.TCPAddr == disabled {
		return c, errors.New("sip config: udp_addr and tcp_addr are both off")
	}
	for _, a := range []struct{ key, v string }{{"udp_addr", c.UDPAddr}, {"tcp_addr", c.TCPAddr}} {
		if a.v == disabled {
			continue
		}
		if _, _, err := net.SplitHostPort(a.v); err != nil {
			return c, fmt.Errorf("sip config: %s %q: %w", a.key, a.v, err)
		}
	}
	if c.RTPPortMin == 0 && c.RTPPortMax == 0 {
		c.RTPPortMin, c.RTPPortMax = DefaultRTPPortMin, DefaultRTPPortMax
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = DefaultRetryAfter
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MediaIP == "" {
		c.MediaIP = defaultMediaIP(c.UDPAddr, c.TCPAddr).String()
	}
	if _, err := netip.ParseAddr(c.MediaIP); err != nil {
		return c, fmt.Errorf("sip config: media_ip %q: want an IP address", c.MediaIP)
	}
	if a, err := netip.ParseAddr(c.PublicIP); c.PublicIP != "" && (err != nil || a.IsUnspecified()) {
		return c, fmt.Errorf("sip config: public_ip %q: want a specific IP address", c.PublicIP)
	}
	return c, nil
}

func defaultMediaIP(addrs ...string) netip.Addr {
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			continue
		}
		if ip, err := netip.ParseAddr(host); err == nil && !ip.IsUnspecified() {
			return ip
		}
	}
	ifaddrs, _ := net.InterfaceAddrs()
	for _, a := range ifaddrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && !ip.IsLoopback() && ip.Unmap().Is4() && !ip.IsLinkLocalUnicast() {
				return ip.Unmap()
			}
		}
	}
	return netip.MustParseAddr("127.0.0.1")
}
