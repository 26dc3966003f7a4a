package node

import (
	"context"
	"strings"
	"testing"

	"github.com/morozhq/moroz/internal/baresiptest"
	"github.com/morozhq/moroz/logging"
	"github.com/morozhq/moroz/sip"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/work"
)

// baresip starts baresip registering account (an accounts line) until
// the test ends, with conf's lines added to its configuration, and
// returns its SIP port.
func baresip(t *testing.T, account string, conf ...string) (port string) {
	t.Helper()
	return baresiptest.Start(t, t.TempDir(), account, conf...)
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
