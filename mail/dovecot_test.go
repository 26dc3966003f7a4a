package mail

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// dovecot is a real IMAP server (Debian package dovecot-imapd) run by the
// test in a temp folder: one user, "ded" with password "secret", whose
// maildir the test fills directly.
type dovecot struct {
	t       *testing.T
	dir     string
	conf    string
	addr    string
	maildir string // the user's Maildir
	uid     int    // owner of the mail files
	cmd     *exec.Cmd
}

// dovecotPath finds the dovecot binary; without it the test is skipped,
// unless MOROZ_REQUIRE_PEERS=1 (CI), which makes it fail.
func dovecotPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("dovecot")
	if err == nil {
		_, err = user.Lookup("nobody")
	}
	if err == nil && os.Geteuid() != 0 {
		err = fmt.Errorf("not root")
	}
	if err != nil {
		if os.Getenv("MOROZ_REQUIRE_PEERS") == "1" {
			t.Fatalf("dovecot cannot run and MOROZ_REQUIRE_PEERS=1: %v", err)
		}
		t.Skipf("dovecot cannot run (Debian package dovecot-imapd, as root): %v", err)
	}
	return path
}

// startDovecot configures and starts a dovecot; the test stops it.
func startDovecot(t *testing.T) *dovecot {
	t.Helper()
	bin := dovecotPath(t)
	dir := t.TempDir()
	// dovecot's unprivileged processes must reach their sockets.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	nobody, _ := user.Lookup("nobody")
	uid, _ := strconv.Atoi(nobody.Uid)
	d := &dovecot{t: t, dir: dir, conf: filepath.Join(dir, "dovecot.conf"), addr: freeAddr(t),
		maildir: filepath.Join(dir, "home", "ded", "Maildir"), uid: uid}
	for _, sub := range []string{"cur", "new", "tmp"} {
		mkdirOwned(t, filepath.Join(d.maildir, sub), uid)
	}
	if err := os.Chmod(filepath.Join(dir, "home"), 0o755); err != nil {
		t.Fatal(err)
	}
	d.writeConf(nobody.Gid)
	d.start(bin)
	return d
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// mkdirOwned makes path and every missing folder up to the test's temp
// folder, owned by uid.
func mkdirOwned(t *testing.T, path string, uid int) {
	t.Helper()
	if err := os.MkdirAll(path, 0o700); err != nil {
		t.Fatal(err)
	}
	for p := path; filepath.Base(p) != "home"; p = filepath.Dir(p) {
		if err := os.Chown(p, uid, -1); err != nil {
			t.Fatal(err)
		}
	}
}

func (d *dovecot) writeConf(gid string) {
	_, port, _ := net.SplitHostPort(d.addr)
	passwd := filepath.Join(d.dir, "passwd")
	home := filepath.Dir(d.maildir)
	line := fmt.Sprintf("ded:{PLAIN}secret:%d:%s::%s\n", d.uid, gid, home)
	if err := os.WriteFile(passwd, []byte(line), 0o644); err != nil {
		d.t.Fatal(err)
	}
	conf := fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
instance_name = moroz-test-%[2]s
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
log_path = %[1]s/dovecot.log
mail_location = maildir:~/Maildir:INDEX=MEMORY
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[3]s
}
userdb {
  driver = passwd-file
  args = username_format=%%u %[3]s
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = %[2]s
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
`, d.dir, port, passwd)
	if err := os.WriteFile(d.conf, []byte(conf), 0o644); err != nil {
		d.t.Fatal(err)
	}
}

// start runs dovecot in the foreground and waits until it accepts
// connections, as pg_ctl -w does for PostgreSQL.
func (d *dovecot) start(bin string) {
	d.t.Helper()
	d.cmd = exec.Command(bin, "-F", "-c", d.conf)
	d.cmd.Stdout, d.cmd.Stderr = d.t.Output(), d.t.Output()
	if err := d.cmd.Start(); err != nil {
		d.t.Fatalf("start dovecot: %v", err)
	}
	d.t.Cleanup(func() {
		d.stop()
		if d.t.Failed() {
			log, _ := os.ReadFile(filepath.Join(d.dir, "dovecot.log"))
			d.t.Logf("dovecot's log:\n%s", log)
		}
	})
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for range 500 {
		if c, err := net.Dial("tcp", d.addr); err == nil {
			c.Close()
			return
		}
		<-tick.C
	}
	log, _ := os.ReadFile(filepath.Join(d.dir, "dovecot.log"))
	d.t.Fatalf("dovecot did not listen on %s; its log:\n%s", d.addr, log)
}

// stop ends dovecot and waits for it; stopping it twice is no error.
func (d *dovecot) stop() {
	if d.cmd == nil {
		return
	}
	_ = d.cmd.Process.Signal(os.Interrupt)
	_ = d.cmd.Wait()
	d.cmd = nil
}

// restart stops dovecot and starts it again on the same address.
func (d *dovecot) restart() {
	d.t.Helper()
	d.stop()
	d.start(dovecotPath(d.t))
}

// deliver puts a letter into the maildir's new folder, as a local
// delivery agent would.
func (d *dovecot) deliver(name string, raw []byte) {
	d.t.Helper()
	path := filepath.Join(d.maildir, "new", name)
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		d.t.Fatal(err)
	}
	if err := os.Chown(path, d.uid, -1); err != nil {
		d.t.Fatal(err)
	}
}

// files lists the maildir files of folder ("" is INBOX, else the
// Maildir++ folder name) in cur and new, with their flags; the letter's
// name is the part before the first '.' of the delivered name.
func (d *dovecot) files(folder string) map[string]string {
	d.t.Helper()
	root := d.maildir
	if folder != "" {
		root = filepath.Join(d.maildir, "."+folder)
	}
	got := map[string]string{}
	for _, sub := range []string{"cur", "new"} {
		entries, err := os.ReadDir(filepath.Join(root, sub))
		if err != nil && !os.IsNotExist(err) {
			d.t.Fatal(err)
		}
		for _, e := range entries {
			name, flags, _ := strings.Cut(e.Name(), ":2,")
			name, _, _ = strings.Cut(name, ",")
			got[name] = flags
		}
	}
	return got
}

// unflag clears the flags of every letter in INBOX, as a person marking
// them unread would.
func (d *dovecot) unflag() {
	d.t.Helper()
	cur := filepath.Join(d.maildir, "cur")
	entries, err := os.ReadDir(cur)
	if err != nil {
		d.t.Fatal(err)
	}
	for _, e := range entries {
		base, _, ok := strings.Cut(e.Name(), ":2,")
		if ok {
			if err := os.Rename(filepath.Join(cur, e.Name()), filepath.Join(cur, base+":2,")); err != nil {
				d.t.Fatal(err)
			}
		}
	}
}

// bumpUIDValidity gives INBOX a new UIDVALIDITY (RFC 9051 §2.3.1.1): every
// UID the poller knew is void. dovecot must be stopped.
func (d *dovecot) bumpUIDValidity() {
	d.t.Helper()
	path := filepath.Join(d.maildir, "dovecot-uidlist")
	b, err := os.ReadFile(path)
	if err != nil {
		d.t.Fatal(err)
	}
	head, rest, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(head)
	for i, f := range fields {
		if v, ok := strings.CutPrefix(f, "V"); ok {
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				d.t.Fatalf("uidlist header %q: %v", head, err)
			}
			fields[i] = "V" + strconv.FormatUint(n+1, 10)
		}
	}
	if err := os.WriteFile(path, []byte(strings.Join(fields, " ")+"\n"+rest), 0o600); err != nil {
		d.t.Fatal(err)
	}
}
