package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/morozhq/moroz/console"
	"github.com/morozhq/moroz/node"
	"github.com/morozhq/moroz/store"
)

// userCmd: moroz user add LOGIN --role ROLE [--name NAME], password on stdin.
func userCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env []string) error {
	if len(args) == 0 || args[0] != "add" {
		return usageError("want: moroz user add LOGIN --role helper|supervisor|admin [--name NAME]")
	}
	fs := newFlagSet("user add", stderr)
	var sf storeFlags
	sf.register(fs)
	role := fs.String("role", "", "helper, supervisor or admin")
	name := fs.String("name", "", "the user's full `name` (default: the login)")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("want exactly one LOGIN")
	}
	if !store.Role(*role).Valid() {
		return usageError(fmt.Sprintf("--role %q: want helper, supervisor or admin", *role))
	}
	password, err := readPassword(stdin)
	if err != nil {
		return err
	}
	return withStore(ctx, fs, &sf, env, stderr, func(st store.Store) error {
		u, err := console.AddUser(ctx, st, pos[0], *name, store.Role(*role), password)
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("login %q is taken", pos[0])
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user %s (%s) added with id %d\n", u.Login, u.Role, u.ID)
		return nil
	})
}

// tokenCmd: moroz token create --role ROLE --name NAME.
func tokenCmd(ctx context.Context, args []string, stdout, stderr io.Writer, env []string) error {
	if len(args) == 0 || args[0] != "create" {
		return usageError("want: moroz token create --role ROLE --name NAME")
	}
	fs := newFlagSet("token create", stderr)
	var sf storeFlags
	sf.register(fs)
	role := fs.String("role", "", "helper, supervisor or admin")
	name := fs.String("name", "", "a `name` saying what the token is for")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("unexpected argument " + pos[0])
	}
	if !store.Role(*role).Valid() {
		return usageError(fmt.Sprintf("--role %q: want helper, supervisor or admin", *role))
	}
	if *name == "" {
		return usageError("--name is required")
	}
	return withStore(ctx, fs, &sf, env, stderr, func(st store.Store) error {
		secret, err := console.CreateToken(ctx, st, store.Role(*role), *name)
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("a token named %q exists", *name)
		}
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, secret)
		return nil
	})
}

// migrate: moroz migrate brings the schema up to date.
func migrate(ctx context.Context, args []string, stdout, stderr io.Writer, env []string) error {
	fs := newFlagSet("migrate", stderr)
	var sf storeFlags
	sf.register(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := sf.load(fs, env, nil)
	if err != nil {
		return err
	}
	sc := store.Config{DB: cfg.DB, DataDir: cfg.Data}
	if err := store.Migrate(ctx, sc); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "schema of %s is up to date\n", sc.Where())
	return nil
}

// withStore loads the configuration, opens (and migrates) the store, runs
// f and closes the store.
func withStore(ctx context.Context, fs *flag.FlagSet, sf *storeFlags, env []string, stderr io.Writer, f func(store.Store) error) error {
	cfg, err := sf.load(fs, env, nil)
	if err != nil {
		return err
	}
	if cfg.Log.Level == "info" {
		cfg.Log.Level = "warn" // a one-shot command reports its result, not the store's progress
	}
	st, err := node.OpenStore(ctx, cfg, newLogger(cfg, stderr))
	if err != nil {
		return err
	}
	defer st.Close()
	return f(st)
}
