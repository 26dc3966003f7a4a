package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/morozhq/moroz/config"
	"github.com/morozhq/moroz/logging"
)

// storeFlags are the flags every store-touching command shares.
type storeFlags struct {
	config, data, db string
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "YAML configuration `file`")
	fs.StringVar(&f.data, "data", "", "data `folder` (default "+config.DefaultData+")")
	fs.StringVar(&f.db, "db", "", "PostgreSQL `URL` (postgres://...); empty: the embedded store")
}

// load builds the configuration: file, then environment, then the flags
// that were set.
func (f *storeFlags) load(fs *flag.FlagSet, env []string, extra func(*config.Config)) (config.Config, error) {
	c, err := config.Load(f.config, env)
	if err != nil {
		return config.Config{}, err
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if set["data"] {
		c.Data = f.data
	}
	if set["db"] {
		c.DB = f.db
	}
	if extra != nil {
		extra(&c)
	}
	if err := c.Validate(); err != nil {
		return config.Config{}, err
	}
	return c, nil
}

// newFlagSet returns a flag set that reports errors as usage errors.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses args, allowing positional arguments before the flags.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError(err.Error())
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func newLogger(c config.Config, w io.Writer) *slog.Logger {
	return logging.New(w, c.Log.Level, c.Log.Format)
}

func warnUnknownEnv(log *slog.Logger, env []string) {
	if unknown := config.UnknownEnv(env); len(unknown) > 0 {
		log.Warn("environment variables that name no configuration key are ignored",
			"vars", strings.Join(unknown, ","))
	}
}

func readPassword(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	p := strings.TrimRight(string(b), "\r\n")
	if p == "" {
		return "", usageError("no password on standard input (echo -n SECRET | moroz user add ...)")
	}
	return p, nil
}
