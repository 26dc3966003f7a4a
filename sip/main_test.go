package sip

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"testing"
)

// testServer starts a server on loopback with free ports and handler h.
func testServer(t *testing.T, h InviteHandler) *Server {
	t.Helper()
	return testServerWithHandler(t, Config{}, h)
}

// testServerWith starts a server with cfg's registrar and a handler that refuses calls.
func testServerWith(t *testing.T, cfg Config) *Server {
	t.Helper()
	return testServerWithHandler(t, cfg, func(ctx context.Context, c *Call) { c.Reject(480, "Temporarily Unavailable") })
}

func testServerWithHandler(t *testing.T, cfg Config, h InviteHandler) *Server {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("MOROZ_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := New(Config{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", MediaIP: "127.0.0.1",
		RTPPortMin: 30000, RTPPortMax: 39998, PublicIP: cfg.PublicIP, Logger: log, Registrar: cfg.Registrar}, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// needPeer finds a peer binary, skipping the test when it is missing unless
// MOROZ_REQUIRE_PEERS=1 (set in CI), in which case the test fails.
func needPeer(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("MOROZ_REQUIRE_PEERS") == "1" {
		t.Fatalf("%s not found and MOROZ_REQUIRE_PEERS=1: install it (Debian package sip-tester for sipp)", name)
	}
	t.Skipf("%s not found: install Debian's sip-tester to run this test", name)
	return ""
}
