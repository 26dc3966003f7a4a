package main

import (
	"context"
	"flag"
	"io"
	"os"
	"os/signal"

	"github.com/morozhq/moroz/config"
	"github.com/morozhq/moroz/node"
)

// serve runs a node until ctx ends (SIGINT: stop at once) or drainSig
// arrives (drain, then stop).
func serve(ctx context.Context, args []string, stderr io.Writer, env []string, drainSig os.Signal) error {
	fs := newFlagSet("serve", stderr)
	var sf storeFlags
	sf.register(fs)
	httpAddr := fs.String("http", "", "console and API `address` (default "+config.DefaultHTTPAddr+")")
	sipAddr := fs.String("sip", "", "SIP `address`, UDP and TCP (default "+config.DefaultSIPAddr+")")
	smtpAddr := fs.String("smtp", "", "SMTP intake `address` (default "+config.DefaultSMTPAddr+")")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("unexpected argument " + pos[0])
	}
	cfg, err := sf.load(fs, env, func(c *config.Config) {
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "http":
				c.HTTP.Addr = *httpAddr
			case "sip":
				c.SIP.Addr = *sipAddr
			case "smtp":
				c.SMTP.Addr = *smtpAddr
			}
		})
	})
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	warnUnknownEnv(log, env)

	n, err := node.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, drainSig)
	defer signal.Stop(sigs)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // ends with runCtx, which Run's return cancels
		select {
		case <-sigs:
			n.Drain()
		case <-runCtx.Done():
		}
	}()
	err = n.Run(runCtx)
	log.Info("stopped")
	return err
}
