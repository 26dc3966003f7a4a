package mail

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
)

// rig is a running intake on a free loopback port over the real SQLite
// store in a temporary folder. Its Outbox is not running, so auto-replies
// stay queued where the test can count them.
type rig struct {
	t    *testing.T
	dir  string
	st   store.Store
	out  *Outbox
	srv  *Server
	addr string
}

func newRig(t *testing.T, edit func(*Config)) *rig {
	t.Helper()
	return newRigOutbox(t, edit, nil)
}

// newRigOutbox is newRig with the given Outbox (nil: one that is not run).
func newRigOutbox(t *testing.T, edit func(*Config), out *Outbox) *rig {
	t.Helper()
	return newRigDB(t, edit, out, "")
}

// newRigDB is newRigOutbox on the database db names: a PostgreSQL URL, or
// "" for SQLite in the data folder.
func newRigDB(t *testing.T, edit func(*Config), out *Outbox, db string) *rig {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), store.Config{DataDir: dir, DB: db})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	cfg := Config{
		DataDir:   dir,
		Domains:   []string{"moroz.test", "localhost"},
		AutoReply: AutoReplyConfig{Enabled: true, Name: "Дед Мороз"},
	}
	if edit != nil {
		edit(&cfg)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	if out == nil {
		out = NewOutbox(senderFunc(func(context.Context, Outgoing) error { return nil }), OutboxConfig{}, log)
	}
	srv, err := NewServer(cfg, ServerOptions{Store: st, Intake: IntakeFunc(st.FileItem), Outbox: out, Logger: log})
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(ctx, ln); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		srv.Close()
		st.Close()
	})
	return &rig{t: t, dir: dir, st: st, out: out, srv: srv, addr: ln.Addr().String()}
}

type senderFunc func(ctx context.Context, m Outgoing) error

func (f senderFunc) Send(ctx context.Context, m Outgoing) error { return f(ctx, m) }

// send delivers raw with a Go SMTP client and returns the server's verdict.
func (r *rig) send(from string, to []string, raw []byte) error {
	c, err := smtp.Dial(r.addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SendMail(from, to, bytes.NewReader(raw)); err != nil {
		return err
	}
	return c.Quit()
}

// mustSend delivers a corpus letter and fails the test unless it gets 250.
func (r *rig) mustSend(from, file string) {
	r.t.Helper()
	if err := r.send(from, []string{"ded@moroz.test"}, corpus(r.t, file)); err != nil {
		r.t.Fatalf("send %s: %v", file, err)
	}
}

func corpus(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "letters", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// items lists every email item.
func (r *rig) items() []store.Item {
	r.t.Helper()
	its, err := r.st.ListItems(context.Background(), store.ItemFilter{Channel: acd.Email})
	if err != nil {
		r.t.Fatal(err)
	}
	return its
}

func (r *rig) onlyItem() store.Item {
	r.t.Helper()
	its := r.items()
	if len(its) != 1 {
		r.t.Fatalf("items = %d, want 1", len(its))
	}
	return its[0]
}

func (r *rig) messages(itemID int64) []store.Message {
	r.t.Helper()
	ms, err := r.st.Messages(context.Background(), itemID)
	if err != nil {
		r.t.Fatal(err)
	}
	return ms
}

// directions returns the messages' directions in order, "in"/"out".
func directions(ms []store.Message) []string {
	var d []string
	for _, m := range ms {
		d = append(d, m.Direction)
	}
	return d
}

// smtpCode returns the SMTP status of err, 250 for nil, 0 for a non-SMTP
// error.
func smtpCode(err error) int {
	var se *smtp.SMTPError
	switch {
	case err == nil:
		return 250
	case errors.As(err, &se):
		return se.Code
	}
	return 0
}
