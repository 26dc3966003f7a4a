package mail

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/morozhq/moroz/acd"
)

// swaksPath finds swaks (Debian package swaks). Without it the test is
// skipped, unless MOROZ_REQUIRE_PEERS=1 (CI), which makes it fail.
func swaksPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("swaks")
	if err != nil {
		if os.Getenv("MOROZ_REQUIRE_PEERS") == "1" {
			t.Fatalf("swaks not found and MOROZ_REQUIRE_PEERS=1: %v", err)
		}
		t.Skip("swaks not installed (Debian package swaks); MOROZ_REQUIRE_PEERS=1 makes this fail")
	}
	return path
}

// swaks sends a letter file with the real swaks client and returns its
// transcript; failed says whether swaks reported a failure.
func (r *rig) swaks(from, to, file string, extra ...string) (transcript string, failed bool) {
	r.t.Helper()
	host, port, err := net.SplitHostPort(r.addr)
	if err != nil {
		r.t.Fatal(err)
	}
	args := append([]string{"--server", host, "--port", port, "--from", from, "--to", to,
		"--helo", "client.example.org", "--data", "@" + file}, extra...)
	cmd := exec.CommandContext(r.t.Context(), swaksPath(r.t), args...)
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		r.t.Fatalf("run swaks: %v", err)
	}
	return string(out), err != nil
}

// mustSwaks sends a corpus letter with swaks and fails unless it is taken.
func (r *rig) mustSwaks(from, name string, extra ...string) {
	r.t.Helper()
	out, failed := r.swaks(from, "ded@moroz.test", filepath.Join("testdata", "letters", name), extra...)
	if failed || !strings.Contains(out, "<-  250") {
		r.t.Fatalf("swaks %s failed:\n%s", name, out)
	}
}

func TestSwaksLetters(t *testing.T) {
	swaksPath(t)
	tests := []struct {
		file        string
		wantSubject string
		wantText    string
	}{
		{"plain-utf8.eml", "Письмо Деду Морозу", "Дорогой Дедушка Мороз! Я хочу велосипед."},
		{"windows-1251.eml", "Привет из Твери", "Здравствуй, Дедушка Мороз! Принеси мне, пожалуйста, санки."},
		{"koi8-r.eml", "Новый год", "Дедушка, подари мне куклу и книжку про зиму."},
		{"8bit-no-charset.eml", "Про ёлку", "Дедушка, я хорошо себя вёл весь год, принеси мне конструктор."},
		{"missing-close-boundary.eml", "cut off", "The first part arrived.\n\nAnd the second one was cut"},
		// The whole letter is kept as text, with the Return-Path the intake adds.
		{"garbage-header.eml", "", "Return-Path: <kid@example.org>\nthis is not a header at all\n" +
			" and some ÿþ bytes\n\nbody line"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r := newRig(t, nil)
			r.mustSwaks("kid@example.org", tt.file)
			it := r.onlyItem()
			ms := r.messages(it.ID)
			got := []string{it.Subject, ms[0].Text}
			if diff := cmp.Diff([]string{tt.wantSubject, tt.wantText}, got); diff != "" {
				t.Errorf("stored letter (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSwaksRefused(t *testing.T) {
	swaksPath(t)
	r := newRig(t, func(c *Config) { c.MaxMessageBytes = 4096 })
	big := filepath.Join(t.TempDir(), "big.eml")
	body := "From: kid@example.org\r\nSubject: big\r\n\r\n" + strings.Repeat(strings.Repeat("x", 70)+"\r\n", 100)
	if err := os.WriteFile(big, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join("testdata", "letters", "plain-utf8.eml")
	tests := []struct {
		name, to, file, want string
	}{
		{"oversized", "ded@moroz.test", big, "<** 552"},
		{"unknown recipient", "ded@example.com", plain, "<** 550"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, failed := r.swaks("kid@example.org", tt.to, tt.file)
			if !failed || !strings.Contains(out, tt.want) {
				t.Errorf("swaks: failed %v, want a %q answer:\n%s", failed, tt.want, out)
			}
		})
	}
	if n := len(r.items()); n != 0 {
		t.Errorf("items = %d after refused letters, want 0", n)
	}
}

func TestSwaksAutoSubmittedGetsNoReply(t *testing.T) {
	swaksPath(t)
	r := newRig(t, nil)
	r.mustSwaks("robot@example.net", "auto-reply.eml")
	r.mustSwaks("kid@example.org", "html-only.eml")
	if got := r.out.Pending(); got != 1 {
		t.Errorf("auto-replies queued = %d, want 1 (only the person's letter)", got)
	}
}

func TestSwaksSameMessageIDTwice(t *testing.T) {
	swaksPath(t)
	r := newRig(t, nil)
	r.mustSwaks("kid@example.org", "koi8-r.eml")
	r.mustSwaks("kid@example.org", "koi8-r.eml")
	it := r.onlyItem()
	if diff := cmp.Diff([]string{"in", "out"}, directions(r.messages(it.ID))); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
}

func TestSwaksReplyThreads(t *testing.T) {
	swaksPath(t)
	r := newRig(t, nil)
	r.mustSwaks("masha@example.ru", "plain-utf8.eml")
	r.mustSwaks("masha@example.ru", "reply.eml") // In-Reply-To and References
	it := r.onlyItem()
	if it.State == acd.StateClosed {
		t.Errorf("threaded item closed, want open")
	}
	if diff := cmp.Diff([]string{"in", "out", "in"}, directions(r.messages(it.ID))); diff != "" {
		t.Errorf("messages of the thread (-want +got):\n%s", diff)
	}
}

func TestSwaksStartTLS(t *testing.T) {
	swaksPath(t)
	_, _, certFile, keyFile := selfSigned(t)
	r := newRig(t, func(c *Config) { c.TLSCert, c.TLSKey = certFile, keyFile })
	r.mustSwaks("kid@example.org", "plain-utf8.eml", "--tls")
	if n := len(r.items()); n != 1 {
		t.Errorf("items = %d after a letter over STARTTLS, want 1", n)
	}
}
