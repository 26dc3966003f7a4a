package mail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/morozhq/moroz/store"
)

// imapRig is an intake fed by a poller of a real dovecot.
type imapRig struct {
	t      *testing.T
	d      *dovecot
	st     store.Store
	srv    *Server
	out    *Outbox
	refuse atomic.Bool // the intake fails while set
}

func newIMAPRig(t *testing.T, edit func(*IMAPConfig)) *imapRig {
	t.Helper()
	return newIMAPRigConfig(t, edit, nil)
}

func newIMAPRigConfig(t *testing.T, edit func(*IMAPConfig), editCfg func(*Config)) *imapRig {
	t.Helper()
	r := &imapRig{t: t, d: startDovecot(t)}
	dir := t.TempDir()
	r.st = openDiskStore(t, dir)
	t.Cleanup(func() { r.st.Close() })
	imapCfg := IMAPConfig{Addr: r.d.addr, TLS: IMAPPlain, Username: "ded", Password: "secret"}
	if edit != nil {
		edit(&imapCfg)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	r.out = NewOutbox(nil, OutboxConfig{}, log) // not run: auto-replies stay queued
	intake := IntakeFunc(func(ctx context.Context, a store.Arrival) (store.Filed, error) {
		if r.refuse.Load() {
			return store.Filed{}, errors.New("store unavailable")
		}
		return r.st.FileItem(ctx, a)
	})
	cfg := Config{DataDir: dir, Domains: []string{"moroz.test"}, IMAP: imapCfg, AutoReply: AutoReplyConfig{Enabled: true}}
	if editCfg != nil {
		editCfg(&cfg)
	}
	srv, err := NewServer(cfg, ServerOptions{Store: r.st, Intake: intake, Outbox: r.out, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	r.srv = srv
	return r
}

// poll runs one poll with a new poller, as after a restart.
func (r *imapRig) poll() PollResult {
	r.t.Helper()
	p, err := NewIMAPPoller(r.srv, r.st, slog.New(slog.NewTextHandler(r.t.Output(), nil)))
	if err != nil {
		r.t.Fatal(err)
	}
	defer p.Close()
	res, err := p.Poll(context.Background())
	if err != nil {
		r.t.Fatalf("poll: %v", err)
	}
	return res
}

func (r *imapRig) subjects() []string {
	r.t.Helper()
	its, err := r.st.ListItems(context.Background(), store.ItemFilter{})
	if err != nil {
		r.t.Fatal(err)
	}
	var got []string
	for _, it := range its {
		got = append(got, it.Subject)
	}
	return got
}

// imapLetter is a letter from kid n; without an id it has no Message-ID.
func imapLetter(n int, id string) []byte {
	head := fmt.Sprintf("Return-Path: <kid%d@example.org>\r\nFrom: Ребёнок %d <kid%d@example.org>\r\n"+
		"To: ded@moroz.test\r\nSubject: Письмо %d\r\n", n, n, n, n)
	if id != "" {
		head += "Message-ID: <" + id + ">\r\n"
	}
	return []byte(head + "Content-Type: text/plain; charset=utf-8\r\n\r\nХочу санки.\r\n")
}

func (r *imapRig) wantState(what string, subjects []string, replies int, flags map[string]string) {
	r.t.Helper()
	if d := cmp.Diff(subjects, r.subjects()); d != "" {
		r.t.Errorf("%s: items (-want +got):\n%s", what, d)
	}
	if got := r.out.Pending(); got != replies {
		r.t.Errorf("%s: auto-replies queued: got %d, want %d", what, got, replies)
	}
	if d := cmp.Diff(flags, r.d.files("")); d != "" {
		r.t.Errorf("%s: INBOX flags (-want +got):\n%s", what, d)
	}
}

func TestIMAPPollMarksSeen(t *testing.T) {
	r := newIMAPRig(t, nil)
	r.d.deliver("a", imapLetter(1, "one@example.org"))
	r.d.deliver("b", imapLetter(2, "two@example.org"))
	r.d.deliver("c", imapLetter(3, "")) // deduped by its bytes
	three := []string{"Письмо 1", "Письмо 2", "Письмо 3"}
	allSeen := map[string]string{"a": "S", "b": "S", "c": "S"}

	if got, want := r.poll(), (PollResult{Stored: 3}); got != want {
		t.Errorf("first poll: got %+v, want %+v", got, want)
	}
	r.wantState("first poll", three, 3, allSeen)

	if got, want := r.poll(), (PollResult{}); got != want {
		t.Errorf("poll after restart: got %+v, want %+v", got, want)
	}
	r.wantState("poll after restart", three, 3, allSeen)

	r.d.unflag() // as if the flags had been lost after the letters were stored
	if got, want := r.poll(), (PollResult{Resumed: 3}); got != want {
		t.Errorf("poll of stored letters unflagged: got %+v, want %+v", got, want)
	}
	r.wantState("poll of stored letters unflagged", three, 3, allSeen)

	r.d.stop()
	r.d.unflag()
	r.d.bumpUIDValidity()
	r.d.restart()
	if got, want := r.poll(), (PollResult{Stored: 3}); got != want {
		t.Errorf("poll after UIDVALIDITY changed: got %+v, want %+v", got, want)
	}
	r.wantState("poll after UIDVALIDITY changed", three, 3, allSeen)

	r.d.deliver("d", imapLetter(4, "four@example.org"))
	if got, want := r.poll(), (PollResult{Stored: 1}); got != want {
		t.Errorf("poll of a new letter: got %+v, want %+v", got, want)
	}
	allSeen["d"] = "S"
	r.wantState("poll of a new letter", append(three, "Письмо 4"), 4, allSeen)
}

func TestIMAPPollLeavesUnstored(t *testing.T) {
	r := newIMAPRig(t, nil)
	r.d.deliver("a", imapLetter(1, "one@example.org"))
	r.refuse.Store(true)
	if got, want := r.poll(), (PollResult{Failed: 1}); got != want {
		t.Errorf("poll while the store fails: got %+v, want %+v", got, want)
	}
	r.wantState("poll while the store fails", nil, 0, map[string]string{"a": ""})

	r.refuse.Store(false)
	if got, want := r.poll(), (PollResult{Stored: 1}); got != want {
		t.Errorf("poll once the store works: got %+v, want %+v", got, want)
	}
	r.wantState("poll once the store works", []string{"Письмо 1"}, 1, map[string]string{"a": "S"})
}

func TestIMAPPollLeavesOversize(t *testing.T) {
	r := newIMAPRigConfig(t, nil, func(c *Config) { c.MaxMessageBytes = 1024 })
	r.d.deliver("big", append(imapLetter(1, "big@example.org"), strings.Repeat("снег ", 300)...))
	r.d.deliver("small", imapLetter(2, "small@example.org"))
	for _, poll := range []string{"first poll", "second poll"} {
		want := PollResult{Stored: 1, Oversize: 1}
		if poll == "second poll" {
			want.Stored = 0
		}
		if got := r.poll(); got != want {
			t.Errorf("%s: got %+v, want %+v", poll, got, want)
		}
		r.wantState(poll, []string{"Письмо 2"}, 1, map[string]string{"big": "", "small": "S"})
	}
}

func TestIMAPPollMoves(t *testing.T) {
	r := newIMAPRig(t, func(c *IMAPConfig) { c.After, c.MoveTo = IMAPMove, "Moroz" })
	r.d.deliver("a", imapLetter(1, "one@example.org"))
	r.d.deliver("b", imapLetter(2, "two@example.org"))
	if got, want := r.poll(), (PollResult{Stored: 2}); got != want {
		t.Errorf("first poll: got %+v, want %+v", got, want)
	}
	r.wantState("first poll", []string{"Письмо 1", "Письмо 2"}, 2, map[string]string{})
	if got := len(r.d.files("Moroz")); got != 2 { // dovecot names the copies anew
		t.Errorf("letters in Moroz: got %d, want 2", got)
	}
	if got, want := r.poll(), (PollResult{}); got != want {
		t.Errorf("second poll: got %+v, want %+v", got, want)
	}
}

func TestIMAPConfigRefused(t *testing.T) {
	good := IMAPConfig{Addr: "imap.example.org:993", Username: "ded"}
	tests := []struct {
		name string
		edit func(*IMAPConfig)
		key  string
	}{
		{"no port", func(c *IMAPConfig) { c.Addr = "imap.example.org" }, "mail.imap.addr"},
		{"unknown tls", func(c *IMAPConfig) { c.TLS = "ssl" }, "mail.imap.tls"},
		{"no user", func(c *IMAPConfig) { c.Username = "" }, "mail.imap.username"},
		{"fast poll", func(c *IMAPConfig) { c.Interval = 1 }, "mail.imap.interval"},
		{"unknown action", func(c *IMAPConfig) { c.After = "delete" }, "mail.imap.after"},
		{"move nowhere", func(c *IMAPConfig) { c.After = IMAPMove }, "mail.imap.move_to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.edit(&c)
			err := Config{DataDir: t.TempDir(), IMAP: c}.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), tt.key+":") {
				t.Errorf("Validate: got %v, want an error about %s", err, tt.key)
			}
		})
	}
	if err := (Config{DataDir: t.TempDir(), IMAP: good}).Validate(); err != nil {
		t.Errorf("Validate of a good config: %v", err)
	}
}

func TestEnvelopeSender(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   string
	}{
		{"return path", "Return-Path: <kid@example.org>\r\nFrom: Other <other@example.org>\r\n", "kid@example.org"},
		{"null return path", "Return-Path: <>\r\nFrom: robot@example.org\r\n", ""},
		{"from only", "From: Маша <masha@example.ru>\r\n", "masha@example.ru"},
		{"unreadable from", "From: not an address\r\n", ""},
		{"nothing", "", ""},
		{"garbage", "\x00\xff: \r\n\r\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := envelopeSender([]byte(tt.header)); got != tt.want {
				t.Errorf("envelopeSender: got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSizeLimit(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		limit   int64
		wantErr error
	}{
		{"under", "abc", 4, nil},
		{"exactly", "abcd", 4, nil},
		{"over", "abcde", 4, errTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := io.ReadAll(&sizeLimit{r: strings.NewReader(tt.body), left: tt.limit})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("read: got error %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && string(got) != tt.body {
				t.Errorf("read: got %q, want %q", got, tt.body)
			}
		})
	}
}
