package main

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/morozhq/moroz/config"
	"github.com/morozhq/moroz/node"
	"github.com/morozhq/moroz/sip"
	"github.com/morozhq/moroz/store"
)

// storedHelper reads the profile of login from the store in data.
func storedHelper(t *testing.T, data, login string) store.Helper {
	t.Helper()
	cfg := config.Default()
	cfg.Data = data
	st, err := node.OpenStore(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.UserByLogin(t.Context(), login)
	if err != nil {
		t.Fatal(err)
	}
	h, err := st.Helper(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHelperSetDeskPhone(t *testing.T) {
	data := t.TempDir()
	for _, login := range []string{"elf", "gnome"} {
		if code, _, errOut := moroz(t, "long-password\n", "user", "add", login, "--role", "helper", "--data", data); code != 0 {
			t.Fatalf("user add %s: code %d, err %q", login, code, errOut)
		}
	}
	steps := []struct {
		name     string
		stdin    string
		args     []string
		wantCode int
		wantOut  string
		want     store.Helper // Extension and SIPHA1 after the step
	}{
		{"extension and password", "desk-secret\n", []string{"--extension", "201", "--sip-password-stdin"}, 0,
			`extension "201", sip password set`, store.Helper{Extension: "201", SIPHA1: sip.HA1("201", "moroz", "desk-secret")}},
		{"new password", "other-secret", []string{"--sip-password-stdin"}, 0,
			"sip password set", store.Helper{Extension: "201", SIPHA1: sip.HA1("201", "moroz", "other-secret")}},
		{"new extension drops the old secret", "", []string{"--extension", "202"}, 0,
			"sip password not set", store.Helper{Extension: "202"}},
		{"no password on stdin", "", []string{"--sip-password-stdin"}, 2, "", store.Helper{Extension: "202"}},
		{"bad extension", "", []string{"--extension", "20 1"}, 2, "", store.Helper{Extension: "202"}},
		{"both password flags", "x", []string{"--sip-password-stdin", "--no-sip-password"}, 2, "", store.Helper{Extension: "202"}},
		{"a sip uri", "", []string{"--extension", "sip:201@127.0.0.1:5070"}, 0,
			"sip password not set", store.Helper{Extension: "sip:201@127.0.0.1:5070"}},
		{"password for a sip uri", "pw", []string{"--sip-password-stdin"}, 2, "", store.Helper{Extension: "sip:201@127.0.0.1:5070"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			args := append([]string{"helper", "set", "elf", "--data", data}, st.args...)
			code, out, errOut := moroz(t, st.stdin, args...)
			if code != st.wantCode || !strings.Contains(out, st.wantOut) {
				t.Fatalf("code %d, out %q, err %q; want code %d and %q", code, out, errOut, st.wantCode, st.wantOut)
			}
			h := storedHelper(t, data, "elf")
			got := store.Helper{Extension: h.Extension, SIPHA1: h.SIPHA1}
			if d := cmp.Diff(got, st.want); d != "" {
				t.Errorf("stored desk phone (-got +want):\n%s", d)
			}
			if len(h.Queues) == 0 {
				t.Errorf("queues: got none, want the default queues")
			}
		})
	}

	code, _, errOut := moroz(t, "", "helper", "set", "gnome", "--extension", "sip:201@127.0.0.1:5070", "--data", data)
	if code != 1 || !strings.Contains(errOut, "another helper") {
		t.Errorf("taken extension: code %d, err %q; want 1 and 'another helper'", code, errOut)
	}
	code, _, errOut = moroz(t, "", "helper", "set", "nobody", "--extension", "203", "--data", data)
	if code != 1 || !strings.Contains(errOut, `no user "nobody"`) {
		t.Errorf("unknown login: code %d, err %q; want 1 and 'no user'", code, errOut)
	}
}
