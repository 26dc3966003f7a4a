// Package baresiptest runs Debian's baresip as a SIP phone for tests: a
// helper's desk phone that registers, answers or plays a file.
//
// A test whose phone is not installed is skipped, or fails when
// MOROZ_REQUIRE_PEERS=1 (as .ci/run sets). MOROZ_BARESIP_MODULES names
// baresip's module folder when it is not Debian's.
package baresiptest

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Start runs baresip with its configuration in dir until the test ends:
// listening on 127.0.0.1 with the G.711 codecs and the account module,
// conf's lines added, and account (an accounts line) as its one account.
// It returns baresip's SIP port once baresip says it is ready. Another
// package's test may take the port between FreePort and baresip's bind
// (packages run in parallel): a phone that exits before it is ready is
// started again on another port.
func Start(t testing.TB, dir, account string, conf ...string) (port string) {
	t.Helper()
	bin, err := exec.LookPath("baresip")
	if err != nil {
		if os.Getenv("MOROZ_REQUIRE_PEERS") == "1" {
			t.Fatal("baresip not found and MOROZ_REQUIRE_PEERS=1: install Debian's baresip-core")
		}
		t.Skip("baresip not found: install Debian's baresip-core to run this test")
	}
	modules := "/usr/lib/baresip/modules"
	if p := os.Getenv("MOROZ_BARESIP_MODULES"); p != "" {
		modules = p
	}
	for attempt := 1; ; attempt++ {
		port = FreePort(t)
		lines := append([]string{"sip_listen 127.0.0.1:" + port, "module_path " + modules,
			"module g711.so", "module_app account.so"}, conf...)
		for name, body := range map[string]string{"config": strings.Join(lines, "\n") + "\n", "accounts": account + "\n"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, bin, "-f", dir, "-t", "90")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = cmd.Stdout
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cancel(); cmd.Wait() })
		if awaitReady(out) {
			return port
		}
		if attempt == 3 {
			t.Fatal("baresip exited before it was ready, three times")
		}
	}
}

// awaitReady reads baresip's output until it says it is ready, reporting
// whether it did before the output ended, and drains the rest.
func awaitReady(r io.Reader) bool {
	found := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(r)
		ok := false
		for sc.Scan() {
			if !ok && strings.Contains(sc.Text(), "baresip is ready") {
				ok = true
				found <- true
			}
		}
		if !ok {
			found <- false
		}
	}()
	return <-found
}

// FreePort finds a port on 127.0.0.1 free for both UDP and TCP, as a SIP
// peer listens on both.
func FreePort(t testing.TB) string {
	t.Helper()
	for range 20 {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		c.Close()
		if err == nil {
			l.Close()
			return strconv.Itoa(port)
		}
	}
	t.Fatal("no port free on both UDP and TCP")
	return ""
}
