package voice_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/sip"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/voice"
	"github.com/morozhq/moroz/work"
)

// storedSecrets are the registrar's Credentials over the helpers'
// profiles, as the node wires them.
type storedSecrets struct{ st store.Store }

func (s storedSecrets) SIPHA1(ctx context.Context, ext string) (string, bool, error) {
	h, err := s.st.HelperByExtension(ctx, ext)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
		return "", false, nil
	}
	return h.SIPHA1, err == nil && h.SIPHA1 != "", err
}

// A helper's desk phone (baresip) registers its extension with digest
// authentication; a caller offered to that helper rings the phone where
// it registered, and the two hear each other.
func TestRegisteredDeskPhoneIsRung(t *testing.T) {
	needPeer(t, "sipp", "sip-tester")
	var h *harness
	h = newHarnessWith(t, &sip.RegistrarConfig{}, func(o *voice.Options) {
		o.Phone = func(ctx context.Context, helperID int64) (string, error) {
			p, err := h.st.Helper(ctx, helperID)
			return h.srv.Target(p.Extension), err
		}
	})
	helper := h.addDeskHelper(t, "elf", "201", "desk-secret")
	sipPort := itoa(int(h.srv.UDPAddr().Port()))
	_, phoneDir, _ := deskPhoneAccount(t,
		"<sip:201@127.0.0.1:"+sipPort+">;auth_pass=desk-secret;regint=60;answermode=auto")
	awaitRegistered(t, h, "201")
	if got := h.srv.Target("201"); !strings.HasPrefix(got, "sip:") {
		t.Fatalf("target of 201: got %q, want the phone's SIP URI", got)
	}

	sink := newSink(t)
	stop := sink.speak(h, callerHz)
	h.sipp(t, "answer.xml", "+79031234568", sink)
	id := h.awaitEnd(t)
	stop()
	checkBridged(t, h, id, helper, sink, phoneDir)
}

// A desk phone with the wrong password is never bound.
func TestDeskPhoneWithWrongPasswordIsRefused(t *testing.T) {
	h := newHarnessWith(t, &sip.RegistrarConfig{}, nil)
	h.addDeskHelper(t, "elf", "201", "desk-secret")
	sipPort := itoa(int(h.srv.UDPAddr().Port()))
	_, _, _ = deskPhoneAccount(t,
		"<sip:201@127.0.0.1:"+sipPort+">;auth_pass=wrong-secret;regint=60;answermode=auto")
	awaitStat(t, func() bool { return h.srv.Stats().AuthFailed > 0 })
	if got := h.srv.Locations("201"); len(got) != 0 {
		t.Errorf("bindings of 201: got %v, want none", got)
	}
}

// addDeskHelper makes an available helper of the calls queue whose desk
// phone registers extension ext with password.
func (h *harness) addDeskHelper(t *testing.T, login, ext, password string) int64 {
	t.Helper()
	ctx := context.Background()
	u, err := h.st.CreateUser(ctx, store.User{Login: login, Name: login, Role: store.RoleHelper})
	if err != nil {
		t.Fatal(err)
	}
	p := store.Helper{UserID: u.ID, Queues: []string{work.QueueCalls}, Extension: ext,
		SIPHA1: sip.HA1(ext, sip.DefaultRealm, password)}
	if err := h.work.UpdateHelper(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := h.work.SetStatus(ctx, u.ID, acd.StatusAvailable, "test"); err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func awaitRegistered(t *testing.T, h *harness, user string) {
	t.Helper()
	awaitStat(t, func() bool { return len(h.srv.Locations(user)) > 0 })
}

// awaitStat polls cond for up to 20 s; it guards a peer's start, it
// times nothing.
func awaitStat(t *testing.T, cond func() bool) {
	t.Helper()
	limit := time.After(20 * time.Second)
	for !cond() {
		select {
		case <-limit:
			t.Fatal("the desk phone did not get there within 20 s")
		case <-time.After(20 * time.Millisecond):
		}
	}
}
