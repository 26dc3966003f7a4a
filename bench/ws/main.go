// Command ws measures websocket fan-out: it runs 1,000 websocket clients
// against Moroz's hub (package console/hub, driven in-process with no
// store) and against a bare gorilla/websocket broadcast hub, one after the
// other in the same run, publishing 1,000 events a second to every client,
// and reports for each the p99 delivery latency, the clients dropped and
// the CPU the server process used. The hub moroz-desk is Moroz's hub with
// the console's real audiences: each event goes to one helper and the
// supervisors (one client in a hundred), not to everyone.
//
// Each hub runs in a child process (this program started again with
// -serve), so that its CPU time is its own: the clients run in the parent.
//
//	go run ./bench/ws -clients 1000 -rate 1000 -duration 20s
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

func main() {
	serve := flag.String("serve", "", "internal: run a hub (moroz or bare) in this process")
	clients := flag.Int("clients", 1000, "websocket clients")
	rate := flag.Int("rate", 1000, "events published per second")
	duration := flag.Duration("duration", 20*time.Second, "how long to publish")
	gather := flag.Duration("gather", 0, "Moroz hub: how long a writer gathers messages (0 = the hub's default)")
	hubs := flag.String("hubs", "bare,moroz", "which hubs to measure, in order")
	profile := flag.String("cpuprofile", "", "write each hub's CPU profile to this path with the hub's name appended")
	flag.Parse()

	if *serve != "" {
		if err := runServer(*serve, *rate, *duration, *gather, *profile); err != nil {
			log.Fatalf("serve %s: %v", *serve, err)
		}
		return
	}
	fmt.Printf("%d clients, %d events/s for %s\n\n", *clients, *rate, *duration)
	fmt.Printf("| hub | p50 | p99 | max | events | deliveries/s | dropped clients | server CPU | server cores | CPU per 1,000 deliveries | client cores |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, kind := range strings.Split(*hubs, ",") {
		r, err := measure(kind, *clients, *rate, *duration, *gather, *profile)
		if err != nil {
			log.Fatalf("%s: %v", kind, err)
		}
		perK := "—"
		if r.events > 0 {
			perK = ms(r.cpu * 1000 / time.Duration(r.events))
		}
		fmt.Printf("| %s | %s | %s | %s | %d | %.0f | %d | %.1f s | %.2f | %s | %.2f |\n", kind, ms(r.p50), ms(r.p99),
			ms(r.max), r.published, float64(r.events)/duration.Seconds(), r.dropped, r.cpu.Seconds(),
			r.cpu.Seconds()/duration.Seconds(), perK, r.clientCPU.Seconds()/duration.Seconds())
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// result is one hub's figures.
type result struct {
	p50, p99, max time.Duration
	events        int64 // events received by all clients
	published     int   // events the server published
	dropped       int
	cpu           time.Duration
	clientCPU     time.Duration // the clients' (this process's) CPU
}

// selfCPU returns this process's CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure starts the hub kind in a child process, connects the clients,
// lets it publish, and collects the figures.
func measure(kind string, clients, rate int, duration, gather time.Duration, profile string) (result, error) {
	cmd := exec.Command(os.Args[0], "-serve", kind, "-rate", fmt.Sprint(rate), "-duration", duration.String(),
		"-gather", gather.String(), "-cpuprofile", profile)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return result{}, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return result{}, err
	}
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	lines := bufio.NewScanner(out)
	if !lines.Scan() {
		return result{}, fmt.Errorf("child printed no address")
	}
	addr := strings.TrimPrefix(lines.Text(), "listening ")
	before := selfCPU()
	fleet, err := dialAll(addr, clients)
	if err != nil {
		cmd.Process.Kill()
		return result{}, err
	}
	fmt.Fprintln(in, "go")
	var published int
	if lines.Scan() { // the child has published everything
		fmt.Sscanf(lines.Text(), "published %d", &published)
	}
	fleet.wait()
	if err := cmd.Wait(); err != nil {
		return result{}, fmt.Errorf("child: %w", err)
	}
	r := fleet.result()
	r.published = published
	r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	r.clientCPU = selfCPU() - before
	return r, nil
}
