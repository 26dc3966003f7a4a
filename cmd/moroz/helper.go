package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/morozhq/moroz/config"
	"github.com/morozhq/moroz/sip"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/work"
)

const helperUsage = "want: moroz helper set LOGIN [--extension EXT] [--sip-password-stdin | --no-sip-password]"

// helperCmd: moroz helper set LOGIN [--extension EXT]
// [--sip-password-stdin | --no-sip-password] sets a helper's desk phone:
// its extension (a number the phone registers with, or a sip: URI of a
// phone that does not register) and the password it registers with,
// stored as its digest secret in sip.realm.
func helperCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env []string) error {
	if len(args) == 0 || args[0] != "set" {
		return usageError(helperUsage)
	}
	fs := newFlagSet("helper set", stderr)
	var sf storeFlags
	sf.register(fs)
	ext := fs.String("extension", "", "the desk phone's `extension` (or a sip: URI); empty keeps the stored one")
	fromStdin := fs.Bool("sip-password-stdin", false, "read the desk phone's SIP password from standard input")
	noPassword := fs.Bool("no-sip-password", false, "remove the SIP password: the extension can no longer register")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("want exactly one LOGIN; " + helperUsage)
	}
	if *fromStdin && *noPassword {
		return usageError("--sip-password-stdin and --no-sip-password exclude each other")
	}
	if err := checkExtension(*ext); err != nil {
		return err
	}
	var password string
	if *fromStdin {
		if password, err = readPassword(stdin); err != nil {
			return err
		}
	}
	cfg, err := sf.load(fs, env, nil)
	if err != nil {
		return err
	}
	ch := deskChange{ext: *ext, password: password, clear: *noPassword, realm: cfg.SIP.Realm}
	return withStore(ctx, fs, &sf, env, stderr, func(st store.Store) error {
		h, err := setDesk(ctx, st, cfg, pos[0], ch)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "helper %s: extension %q, sip password %s\n", pos[0], h.Extension, passwordState(h))
		return nil
	})
}

// checkExtension refuses an extension a phone could not register with:
// it becomes the digest user name and the AOR's user part.
func checkExtension(ext string) error {
	if ext == "" || strings.HasPrefix(ext, "sip:") {
		return nil
	}
	for _, r := range ext {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || strings.ContainsRune("-_.+*#", r)) {
			return usageError(fmt.Sprintf("--extension %q: want digits, letters and -_.+*# only, or a sip: URI", ext))
		}
	}
	return nil
}

// deskChange is what helper set changes.
type deskChange struct {
	ext, password, realm string
	clear                bool
}

// setDesk applies ch to the profile of the helper with login, creating a
// profile (every configured queue) when they have none.
func setDesk(ctx context.Context, st store.Store, cfg config.Config, login string, ch deskChange) (store.Helper, error) {
	u, err := st.UserByLogin(ctx, login)
	if errors.Is(err, store.ErrNotFound) {
		return store.Helper{}, fmt.Errorf("no user %q (moroz user add %s ...)", login, login)
	}
	if err != nil {
		return store.Helper{}, err
	}
	h, err := st.Helper(ctx, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		h, err = store.Helper{UserID: u.ID, Queues: queueNames(cfg)}, nil
	}
	if err != nil {
		return store.Helper{}, err
	}
	if ch.ext != "" && ch.ext != h.Extension {
		h.Extension, h.SIPHA1 = ch.ext, "" // the secret is bound to the old extension
	}
	switch {
	case ch.clear:
		h.SIPHA1 = ""
	case ch.password != "":
		if h.Extension == "" || strings.HasPrefix(h.Extension, "sip:") {
			return store.Helper{}, usageError("a SIP password needs an --extension the phone registers with")
		}
		h.SIPHA1 = sip.HA1(h.Extension, ch.realm, ch.password)
	}
	if err := st.PutHelper(ctx, h); errors.Is(err, store.ErrConflict) {
		return store.Helper{}, fmt.Errorf("extension %q belongs to another helper", h.Extension)
	} else if err != nil {
		return store.Helper{}, err
	}
	return h, nil
}

// queueNames are the configured queues' names, or the default queues'.
func queueNames(cfg config.Config) []string {
	var out []string
	for _, q := range cfg.Queues {
		out = append(out, q.Name)
	}
	if len(out) > 0 {
		return out
	}
	for _, q := range work.DefaultQueues() {
		out = append(out, q.Name)
	}
	return out
}

func passwordState(h store.Helper) string {
	if h.SIPHA1 == "" {
		return "not set"
	}
	return "set"
}
