package mail

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
)

// crashDirEnv names the data folder of the intake TestCrashChild runs.
const crashDirEnv = "MOROZ_MAIL_CRASH_DIR"

// startChild runs the test binary's test named test in a child process
// with env added to its environment, and returns it with its standard
// output; its standard error goes to the test's log.
func startChild(t *testing.T, test string, env ...string) (*exec.Cmd, io.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$")
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = t.Output()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, stdout
}

// TestCrashAfter250 kills the intake process with SIGKILL right after it
// answered 250 and checks that the letter is in the store and on disk.
func TestCrashAfter250(t *testing.T) {
	dir := t.TempDir()
	cmd, stdout := startChild(t, "TestCrashChild", crashDirEnv+"="+dir)
	addr := childAddr(t, stdout)

	raw := corpus(t, "windows-1251.eml")
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail("petya@example.ru", []string{"ded@moroz.test"}, bytes.NewReader(raw)); err != nil {
		t.Fatalf("send: %v", err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	c.Close()

	checkSurvived(t, dir, raw)
}

// childAddr reads the "ADDR host:port" line the child prints.
func childAddr(t *testing.T, stdout interface{ Read([]byte) (int, error) }) string {
	t.Helper()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
			return addr
		}
	}
	t.Fatalf("child printed no address: %v", sc.Err())
	return ""
}

func checkSurvived(t *testing.T, dir string, raw []byte) {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	it, err := st.ItemByExternalID(context.Background(), acd.Email, "cp1251-1@example.ru")
	if err != nil {
		t.Fatalf("item after the crash: %v", err)
	}
	ms, err := st.Messages(context.Background(), it.ID)
	if err != nil || len(ms) == 0 {
		t.Fatalf("messages after the crash: %v, %v", ms, err)
	}
	var h struct{ Raw RawRef }
	if err := json.Unmarshal(ms[0].Headers, &h); err != nil {
		t.Fatal(err)
	}
	seg, err := os.ReadFile(filepath.Join(dir, "mail", h.Raw.File))
	if err != nil {
		t.Fatal(err)
	}
	if got := seg[h.Raw.Offset : h.Raw.Offset+h.Raw.Length]; !bytes.HasSuffix(got, raw) {
		t.Errorf("raw letter after the crash is not the letter sent (%d bytes)", len(got))
	}
}

// TestCrashChild is the intake process TestCrashAfter250 kills; it runs
// only when started by it.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("the process TestCrashAfter250 starts and kills")
	}
	st, err := store.Open(context.Background(), store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	out := NewOutbox(senderFunc(func(context.Context, Outgoing) error { return nil }), OutboxConfig{}, discard())
	srv, err := NewServer(Config{DataDir: dir, Domains: []string{"moroz.test"}, AutoReply: AutoReplyConfig{Enabled: true}},
		ServerOptions{Store: st, Intake: IntakeFunc(st.FileItem), Outbox: out})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("ADDR %s\n", ln.Addr())
	_ = srv.Serve(context.Background(), ln) // until SIGKILL
}
