package firefoxtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Timeout bounds one browser's life: a hang guard, not a timing
// assertion.
const Timeout = 3 * time.Minute

// startTimeout bounds how long Firefox may take to open its BiDi port.
const startTimeout = 60 * time.Second

// Names are the executables tried, in order (Debian's firefox-esr first).
var names = []string{"firefox-esr", "firefox"}

// Path returns Firefox's path, or skips t when it is not installed (fails
// it under MOROZ_REQUIRE_PEERS=1).
func Path(t testing.TB) string {
	t.Helper()
	for _, n := range names {
		if path, err := exec.LookPath(n); err == nil {
			return path
		}
	}
	if os.Getenv("MOROZ_REQUIRE_PEERS") == "1" {
		t.Fatal("firefox is required (MOROZ_REQUIRE_PEERS=1) but not installed (Debian package firefox-esr)")
	}
	t.Skip("firefox not installed (Debian package firefox-esr)")
	return ""
}

// basePrefs keep Firefox off the network and out of the way: no first
// run pages, default-browser check, telemetry, updates, safe browsing,
// remote settings, captive portal or connectivity probes, and media may
// play without a gesture.
var basePrefs = map[string]any{
	"app.normandy.enabled":                       false,
	"app.update.auto":                            false,
	"app.update.disabledForTesting":              true,
	"browser.aboutwelcome.enabled":               false,
	"browser.newtabpage.enabled":                 false,
	"browser.safebrowsing.blockedURIs.enabled":   false,
	"browser.safebrowsing.downloads.enabled":     false,
	"browser.safebrowsing.malware.enabled":       false,
	"browser.safebrowsing.phishing.enabled":      false,
	"browser.shell.checkDefaultBrowser":          false,
	"browser.startup.homepage_override.mstone":   "ignore",
	"browser.startup.page":                       0,
	"browser.tabs.warnOnClose":                   false,
	"datareporting.healthreport.uploadEnabled":   false,
	"datareporting.policy.dataSubmissionEnabled": false,
	"extensions.getAddons.cache.enabled":         false,
	"extensions.update.enabled":                  false,
	"media.autoplay.block-webaudio":              false,
	"media.autoplay.default":                     0,
	"media.gmp-manager.updateEnabled":            false,
	"network.captive-portal-service.enabled":     false,
	"network.connectivity-service.enabled":       false,
	"network.dns.disablePrefetch":                true,
	"network.prefetch-next":                      false,
	"services.settings.server":                   "data:,",
	"toolkit.telemetry.enabled":                  false,
	"toolkit.telemetry.server":                   "data:,",
	"toolkit.telemetry.unified":                  false,
	"toolkit.startup.max_resumed_crashes":        -1,
	"browser.region.network.url":                 "",
	"browser.search.geoSpecificDefaults":         false,
	"geo.provider.network.url":                   "",
}

// userJS renders prefs as a user.js, sorted so that the file reads the
// same every time.
func userJS(prefs map[string]any) (string, error) {
	keys := make([]string, 0, len(prefs))
	for k := range prefs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		var v string
		switch x := prefs[k].(type) {
		case bool:
			v = fmt.Sprint(x)
		case int:
			v = fmt.Sprint(x)
		case string:
			v = fmt.Sprintf("%q", x)
		default:
			return "", fmt.Errorf("pref %s: type %T is none of bool, int, string", k, x)
		}
		fmt.Fprintf(&b, "user_pref(%q, %s);\n", k, v)
	}
	return b.String(), nil
}

// Start launches headless Firefox with a fresh profile whose preferences
// are basePrefs overridden by prefs, and opens a BiDi session on it; its
// tabs have a viewport of width×height. The browser ends with the test.
func Start(t testing.TB, width, height int, prefs map[string]any) *Browser {
	t.Helper()
	path := Path(t)
	profile := t.TempDir()
	all := map[string]any{}
	for k, v := range basePrefs {
		all[k] = v
	}
	for k, v := range prefs {
		all[k] = v
	}
	js, err := userJS(all)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(profile, "user.js"), []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	t.Cleanup(cancel)
	b, err := launch(ctx, path, profile, width, height)
	if err != nil {
		t.Fatalf("start firefox: %v", err)
	}
	t.Cleanup(func() {
		if err := b.close(); err != nil {
			t.Logf("close firefox: %v", err)
		}
	})
	return b
}

// launch starts the process, waits for its BiDi address and opens a
// session.
func launch(ctx context.Context, path, profile string, width, height int) (*Browser, error) {
	cmd := exec.Command(path, "--headless", "--no-remote", "--remote-debugging-port=0",
		"--profile", profile, fmt.Sprintf("--window-size=%d,%d", width, height), "about:blank")
	cmd.Env = append(os.Environ(), "MOZ_CRASHREPORTER_DISABLE=1", "MOZ_HEADLESS=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its content processes end with it
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	addr := make(chan string, 1)
	p.wg.Add(1)
	go func() { defer p.wg.Done(); p.readStderr(stderr, addr) }()
	go func() { p.err = cmd.Wait(); close(p.exited) }()

	wait, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	var url string
	select {
	case url = <-addr:
	case <-p.exited:
		return nil, fmt.Errorf("firefox exited before listening (%v): %s", p.err, p.tail())
	case <-wait.Done():
		p.kill()
		return nil, fmt.Errorf("firefox did not open its remote port: %w: %s", wait.Err(), p.tail())
	}
	b, err := dial(ctx, url+"/session", p)
	if err != nil {
		p.kill()
		return nil, err
	}
	b.width, b.height = width, height
	if err := b.newSession(wait); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

// process is the Firefox process and what it printed last.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process ended
	err    error         // set before exited closes
	wg     sync.WaitGroup

	mu   sync.Mutex
	last []string // guarded by mu: the last lines of stderr
}

const listening = "WebDriver BiDi listening on "

// readStderr sends the BiDi address once printed and keeps the last
// lines for error messages, until the process closes its stderr.
func (p *process) readStderr(r io.Reader, addr chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	sent := false
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, listening); i >= 0 && !sent {
			addr <- strings.TrimSpace(line[i+len(listening):])
			sent = true
		}
		p.mu.Lock()
		p.last = append(p.last, line)
		if len(p.last) > 20 {
			p.last = p.last[1:]
		}
		p.mu.Unlock()
	}
}

func (p *process) tail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.last, "\n")
}

// kill ends the process group of Firefox (its own, made at start) and
// waits for it.
func (p *process) kill() {
	if p.cmd.Process != nil {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
	<-p.exited
	p.wg.Wait()
}

// stop waits up to d for Firefox to end by itself, then kills it.
func (p *process) stop(d time.Duration) error {
	select {
	case <-p.exited:
		// Content processes of the group may outlive the parent briefly.
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		p.wg.Wait()
		return nil
	case <-time.After(d):
		p.kill()
		return errors.New("firefox did not quit; killed")
	}
}
