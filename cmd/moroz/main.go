// Command moroz runs a Moroz contact-centre node and administers its store.
//
//	moroz [serve] [--config FILE] [--data DIR] [--db URL] [--http ADDR] [--sip ADDR] [--smtp ADDR]
//	moroz user add LOGIN --role helper|supervisor|admin [--name NAME]   (password on stdin)
//	moroz token create --role ROLE --name NAME
//	moroz helper set LOGIN [--extension EXT] [--sip-password-stdin | --no-sip-password]
//	moroz telegram set-webhook URL
//	moroz migrate
//	moroz version
//
// Every subcommand but version takes --config, --data and --db. SIGTERM
// drains serve (no new work, live work finishes); SIGINT stops it at once.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
)

// DefaultGCPercent is the garbage collector's target (GOGC) when the
// environment sets none. A call allocates about 100 kB that dies young
// (SIP parsing, store arguments, router events), so collection work
// follows the allocation rate; at 200 instead of Go's 100 a voice call
// costs about 15 % less CPU for a heap up to three times the live one
// instead of two (BENCHMARKS.md, "voice: call flow"). GOGC and
// GOMEMLIMIT in the environment override it.
const DefaultGCPercent = 200

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(DefaultGCPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Environ()))
}

// run executes one command line and returns the exit code: 0 on success, 1
// when the command failed, 2 for a usage error.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env []string) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && args[0] != "-h" && args[0] != "--help" {
		args = append([]string{"serve"}, args...) // plain `moroz` serves, as DESIGN.md promises
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, rest, stderr, env, syscall.SIGTERM)
	case "user":
		err = userCmd(ctx, rest, stdin, stdout, stderr, env)
	case "token":
		err = tokenCmd(ctx, rest, stdout, stderr, env)
	case "helper":
		err = helperCmd(ctx, rest, stdin, stdout, stderr, env)
	case "telegram":
		err = telegramCmd(ctx, rest, stdout, stderr, env)
	case "migrate":
		err = migrate(ctx, rest, stdout, stderr, env)
	case "version":
		fmt.Fprintln(stdout, "moroz", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "moroz: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err == nil {
		return 0
	}
	if ue, ok := err.(usageError); ok {
		fmt.Fprintf(stderr, "moroz %s: %s\n", cmd, ue)
		return 2
	}
	fmt.Fprintf(stderr, "moroz %s: %s\n", cmd, oneLine(err))
	return 1
}

// oneLine folds a multi-line error (joined errors, a driver's list of
// addresses tried) into the one line a failed start prints.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}

const usage = `usage:
  moroz [serve] [--config FILE] [--data DIR] [--db URL] [--http ADDR] [--sip ADDR] [--smtp ADDR]
  moroz user add LOGIN --role helper|supervisor|admin [--name NAME]   (password on standard input)
  moroz token create --role ROLE --name NAME
  moroz helper set LOGIN [--extension EXT] [--sip-password-stdin | --no-sip-password]   (a desk phone)
  moroz telegram set-webhook URL   (the bot's public HTTPS webhook; token and secret from the configuration)
  moroz migrate [--config FILE] [--data DIR] [--db URL]
  moroz version
`

// usageError is a mistake on the command line (exit code 2).
type usageError string

func (e usageError) Error() string { return string(e) }
