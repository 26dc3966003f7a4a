// Command answerer runs Moroz's SIP edge with a flow that answers every
// call at once and waits for the caller to hang up: the minimal flow for
// measuring the edge's call rate (bench/sip/callrate.sh drives it with
// SIPp). It prints the UDP address it listens on, then serves until
// SIGINT or SIGTERM; on exit it prints the edge's counters.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/morozhq/moroz/sip"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "UDP and TCP listen address")
	rtpMin := flag.Int("rtp-min", 20000, "lowest RTP port")
	rtpMax := flag.Int("rtp-max", 60000, "highest RTP port")
	debug := flag.Bool("debug", false, "log every call at debug level")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}

	level := slog.LevelWarn
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	srv, err := sip.New(sip.Config{UDPAddr: *addr, TCPAddr: *addr, MediaIP: "127.0.0.1",
		RTPPortMin: *rtpMin, RTPPortMax: *rtpMax, Logger: log}, answer)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := srv.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Println(srv.UDPAddr())
	<-ctx.Done()
	// Every call should have ended with SIPp's run: one still up never
	// got its ACK or its BYE.
	fmt.Fprintf(os.Stderr, "calls still up when stopped: %d\n", srv.ActiveCalls())
	srv.Close()
	fmt.Fprintf(os.Stderr, "%+v\n", srv.Stats())
}

// answer is the flow: answer, then hold the call until the caller leaves.
func answer(ctx context.Context, c *sip.Call) {
	if err := c.Answer(); err != nil {
		return
	}
	<-c.Done()
}
