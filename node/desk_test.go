package node

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/morozhq/moroz/logging"
	"github.com/morozhq/moroz/sip"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/work"
)

// baresip starts baresip registering account (an accounts line) from
// 127.0.0.1 until the test ends, with conf's lines added to its
// configuration, and returns its SIP port. Another package's test may
// take the port between freeUDPPort and baresip's bind (packages run in
// parallel): a phone that exits before it is ready is started again on
// another port.
func baresip(t *testing.T, account string, conf ...string) (port string) {
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
		port = freeUDPPort(t)
		dir := t.TempDir()
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

// A helper's desk phone registers with the node using the secret stored
// in the helper's profile, and the node then rings the helper there; a
// phone with another password is not bound.
func TestDeskPhoneRegistersWithStoredSecret(t *testing.T) {
	n, err := New(context.Background(), testConfig(t), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	addHelper := func(login, ext string) int64 {
		u, err := n.store.CreateUser(ctx, store.User{Login: login, Name: login, Role: store.RoleHelper})
		if err != nil {
			t.Fatal(err)
		}
		h := store.Helper{UserID: u.ID, Queues: []string{work.QueueCalls}, Extension: ext,
			SIPHA1: sip.HA1(ext, n.cfg.SIP.Realm, "desk-secret")}
		if err := n.store.PutHelper(ctx, h); err != nil {
			t.Fatal(err)
		}
		return u.ID
	}
	elf, gnome := addHelper("elf", "201"), addHelper("gnome", "202")
	phone := n.helperPhone()
	if got, err := phone(ctx, elf); err != nil || got != "" {
		t.Fatalf("phone of elf before registering: got %q, %v; want none", got, err)
	}

	port := baresip(t, "<sip:201@"+n.Addr("sip")+">;auth_pass=desk-secret;regint=60")
	baresip(t, "<sip:202@"+n.Addr("sip")+">;auth_pass=wrong-secret;regint=60")
	waitFor(t, func() bool { return len(n.sip.Locations("201")) > 0 && n.sip.Stats().AuthFailed > 0 })

	got, err := phone(ctx, elf)
	if err != nil || !strings.HasPrefix(got, "sip:201") || !strings.Contains(got, "@127.0.0.1:"+port) {
		t.Errorf("phone of elf: got %q, %v; want the registered phone at 127.0.0.1:%s", got, err, port)
	}
	if got, err := phone(ctx, gnome); err != nil || got != "" {
		t.Errorf("phone of gnome (wrong password): got %q, %v; want none", got, err)
	}
}
