// Command flowbench measures Moroz's call flow under SIPp load. It starts
// an in-process node (the embedded SQLite store in a temporary folder,
// SIP on loopback), logs one helper in as away so that calls queue, and
// runs SIPp's caller (caller.xml) against it. Every call goes through the
// whole flow: answer, greeting, enqueue (a durable voice item), hold music
// with announcements, the caller's hang-up (Abandon), the missed-call
// record and a callback item of its own.
//
//	go run ./bench/voice/flowbench -rate 500 -calls 10000 -hold 1s
//	go run ./bench/voice/flowbench -rate 200 -calls 2000 -limit 2000 -hold 30s
//
// It prints the call rate, failed calls, the callbacks stored (one per
// call), the RTP send jitter its receiver saw (from RTP timestamps, so
// slots the sender skipped between prompts do not count) and the memory
// per concurrent call in the middle of the run (after a collection, so
// the live heap). Needs sipp (Debian's sip-tester).
package main

import (
	"context"
	_ "embed"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/config"
	"github.com/morozhq/moroz/node"
	"github.com/morozhq/moroz/sip/media"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/work"
)

//go:embed caller.xml
var scenario []byte

// logLevel is the node's log level (-log).
var logLevel slog.Level

// gcPercent is -gogc's default: GOGC from the environment, else what
// cmd/moroz sets (its DefaultGCPercent).
var gcPercent = func() int {
	env := os.Getenv("GOGC")
	if env == "off" {
		return -1
	}
	if n, err := strconv.Atoi(env); err == nil {
		return n
	}
	return 200
}()

func main() {
	rate := flag.Int("rate", 200, "calls per second SIPp offers")
	calls := flag.Int("calls", 2000, "calls in total")
	limit := flag.Int("limit", 3000, "concurrent calls at most")
	hold := flag.Duration("hold", time.Second, "how long each caller stays")
	cpuprof := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	memprof := flag.String("memprofile", "", "write an allocation profile of the run to this file")
	flag.TextVar(&logLevel, "log", slog.LevelError, "the node's log level")
	gogc := flag.Int("gogc", gcPercent, "the garbage collector's target, as GOGC (cmd/moroz sets 200)")
	flag.Parse()
	debug.SetGCPercent(*gogc)
	if err := run(*rate, *calls, *limit, *hold, *cpuprof, *memprof); err != nil {
		fmt.Fprintln(os.Stderr, "flowbench:", err)
		os.Exit(1)
	}
}

func run(rate, calls, limit int, hold time.Duration, cpuprof, memprof string) error {
	dir, err := os.MkdirTemp("", "flowbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := shortGreeting(dir); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	unacked := new(atomic.Int64)
	n, err := startNode(ctx, dir, unacked)
	if err != nil {
		return err
	}
	rx, err := newReceiver()
	if err != nil {
		return err
	}
	defer rx.close()
	stopProf, err := startProfile(cpuprof)
	if err != nil {
		return err
	}

	idle := memory()
	mid := make(chan [2]int, 1)
	go measureAt(ctx, rampAndHold(rate, calls, hold)/2, mid)
	start, cpu0 := time.Now(), cpuNow()
	out, err := sipp(ctx, dir, n.Addr("sip"), rx.addr(), rate, calls, limit, hold)
	elapsed := time.Since(start)
	if err != nil {
		stopProf()
		return fmt.Errorf("sipp: %w\n%s", err, tail(out, 2000))
	}
	// The CPU and the profile run until every callback is stored and
	// every voice item closed (the router's events are stored behind the
	// calls): the store's writer may still be behind when SIPp ends.
	stored, err := countCallbacks(n.Store(), calls)
	if err == nil {
		err = awaitClosed(n.Store(), acd.Voice)
	}
	cpu1 := cpuNow()
	stopProf()
	if err != nil {
		return err
	}
	if err := writeAllocs(memprof); err != nil {
		return err
	}
	drops := socketDrops(n.Addr("sip"))
	cancel() // stops the node and the sampler
	ok, failed, retrans := sippTotals(out)
	report(ok, failed, elapsed, calls, stored, rx.stats(), idle, <-mid, rate, hold)
	fmt.Printf("sip: %d retransmissions by SIPp, %d datagrams dropped by the kernel at Moroz's SIP socket, %d calls never acknowledged\n",
		retrans, drops, unacked.Load())
	reportCPU(cpu0, cpu1, calls)
	return verdict(ok, failed, calls, stored, unacked.Load())
}

// verdict fails a run that does not count: every call successful in
// SIPp's count, none failed, every callback stored, no call left waiting
// for its ACK.
func verdict(ok, failed, calls, stored int, unacked int64) error {
	var why []string
	if ok != calls || failed != 0 {
		why = append(why, fmt.Sprintf("%d of %d calls successful, %d failed", ok, calls, failed))
	}
	if stored != calls {
		why = append(why, fmt.Sprintf("%d of %d callbacks stored", stored, calls))
	}
	if unacked != 0 {
		why = append(why, fmt.Sprintf("%d calls never acknowledged", unacked))
	}
	if len(why) > 0 {
		return fmt.Errorf("THIS RUN DOES NOT COUNT: %s", strings.Join(why, "; "))
	}
	return nil
}

// greetingLength is the greeting shortGreeting writes.
const greetingLength = 200 * time.Millisecond

// shortGreeting replaces the spoken greeting with 200 ms, so that a call
// reaches the queue within the time a bench caller stays.
func shortGreeting(dir string) error {
	p := filepath.Join(dir, "prompts", "ru", "greeting.wav")
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return err
	}
	return media.WriteWAV(p, make([]int16, int(media.SampleRate*greetingLength/time.Second)))
}

func startNode(ctx context.Context, dir string, unacked *atomic.Int64) (*node.Node, error) {
	cfg := config.Default()
	cfg.Data, cfg.HTTP.Addr, cfg.SIP.Addr, cfg.SMTP.Addr = dir, "127.0.0.1:0", "127.0.0.1:0", ""
	cfg.SIP.RTPPorts = "20000-60000"
	log := slog.New(&unackedCounter{Handler: slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel}), n: unacked})
	n, err := node.New(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	go n.Run(ctx)
	u, err := n.Store().CreateUser(ctx, store.User{Login: "elf", Name: "Elf", Role: store.RoleHelper})
	if err != nil {
		return nil, err
	}
	if err := n.Work().UpdateHelper(ctx, store.Helper{UserID: u.ID, Queues: []string{work.QueueCalls}}); err != nil {
		return nil, err
	}
	return n, n.Work().SetStatus(ctx, u.ID, acd.StatusAway, "bench")
}

// sippBuffer is SIPp's socket buffer size (-buff_size; the kernel caps
// it at net.core.rmem_max). SIPp's default, 64 KiB, dropped up to 15,000
// responses a run at 2,500 calls/s, which real callers, each with a
// socket of its own, would not: the retransmissions that followed were
// load of the bench's making.
const sippBuffer = 4 << 20

func sipp(ctx context.Context, dir, addr, rtp string, rate, calls, limit int, hold time.Duration) (string, error) {
	scen := filepath.Join(dir, "caller.xml")
	if err := os.WriteFile(scen, scenario, 0o640); err != nil {
		return "", err
	}
	host, port, _ := strings.Cut(rtp, ":")
	stat, errs := filepath.Join(dir, "stat.csv"), filepath.Join(dir, "errors.log")
	cmd := exec.CommandContext(ctx, "sipp", "-sf", scen, "-r", strconv.Itoa(rate), "-m", strconv.Itoa(calls),
		"-l", strconv.Itoa(limit), "-d", strconv.Itoa(int(hold/time.Millisecond)), "-i", "127.0.0.1",
		"-set", "rtp_ip", host, "-set", "rtp_port", port, "-timeout", "600s", "-nostdin",
		"-trace_stat", "-stf", stat, "-fd", "1", "-max_socket", "60000", "-buff_size", strconv.Itoa(sippBuffer),
		"-trace_err", "-error_file", errs, addr)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if b, rerr := os.ReadFile(stat); rerr == nil {
		out = append(out, "\nSTAT\n"...)
		out = append(out, b...)
	}
	if err != nil {
		// Say why SIPp failed calls: its failure counters and the last of
		// its error log (each unexpected message in full).
		err = fmt.Errorf("%w (%s)", err, sippFailures(string(out)))
		if b, rerr := os.ReadFile(errs); rerr == nil {
			fmt.Fprintf(os.Stderr, "SIPp's error log ends:\n%s\n", tail(string(b), 3000))
		}
	}
	return string(out), err
}

// sippFailures lists SIPp's nonzero failure counters from the statistics
// appended to its output.
func sippFailures(out string) string {
	head, last, ok := sippStats(out)
	if !ok {
		return "no statistics"
	}
	var f []string
	for i, h := range head {
		if strings.HasPrefix(h, "Failed") && strings.HasSuffix(h, "(C)") && i < len(last) && last[i] != "0" {
			f = append(f, h+" "+last[i])
		}
	}
	return strings.Join(f, ", ")
}

// countCallbacks waits (up to a minute) until every call's callback item
// is stored and returns how many are. Each poll reads only the items
// stored since the last one, so that the count costs the node little.
func countCallbacks(st store.Store, want int) (int, error) {
	deadline := time.Now().Add(time.Minute)
	var c itemCounter
	for {
		n, err := c.count(st, acd.Callback)
		if err != nil || n >= want || time.Now().After(deadline) {
			return n, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// awaitClosed waits (up to a minute) until no item of ch is open in the
// store. Each poll starts at the first item the last one found open.
func awaitClosed(st store.Store, ch acd.Channel) error {
	var after int64
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		open, err := st.ListItems(context.Background(), store.ItemFilter{Channel: ch, Open: true, AfterID: after, Limit: 1})
		if err != nil || len(open) == 0 {
			return err
		}
		after = open[0].ID - 1
		if time.Now().After(deadline) {
			return fmt.Errorf("%s items still open a minute after the calls ended", ch)
		}
	}
}

// itemCounter counts the items of a channel, reading each item once.
type itemCounter struct {
	total int
	after int64
}

func (c *itemCounter) count(st store.Store, ch acd.Channel) (int, error) {
	for {
		items, err := st.ListItems(context.Background(), store.ItemFilter{Channel: ch, AfterID: c.after, Limit: 1000})
		if err != nil {
			return c.total, err
		}
		c.total += len(items)
		if len(items) > 0 {
			c.after = items[len(items)-1].ID
		}
		if len(items) < 1000 {
			return c.total, nil
		}
	}
}

// rampAndHold is how long SIPp takes to place every call plus one call's
// length: the middle of it is the plateau, when most calls are up.
func rampAndHold(rate, calls int, hold time.Duration) time.Duration {
	return time.Duration(float64(calls)/float64(rate)*float64(time.Second)) + hold
}

// measureAt sends memory() taken after d, or zeros when ctx ends first.
func measureAt(ctx context.Context, d time.Duration, out chan<- [2]int) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		out <- [2]int{}
	case <-t.C:
		out <- memory()
	}
}

// memory is the RSS and the live Go heap after a collection, in kB.
func memory() [2]int {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return [2]int{rssKB(), int(m.HeapAlloc / 1024)}
}

// rssKB is the process's resident set size in kB (Linux).
func rssKB() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

func report(ok, failed int, elapsed time.Duration, calls, stored int, j jitterStats, idle, mid [2]int, rate int, hold time.Duration) {
	concurrent := min(float64(rate)*hold.Seconds(), float64(calls))
	fmt.Printf("offered %d calls/s, %d calls of %v: %d successful, %d failed in %.1f s = %.0f calls/s\n",
		rate, calls, hold, ok, failed, elapsed.Seconds(), float64(ok)/elapsed.Seconds())
	// SIPp places calls at rate whatever Moroz does (-limit is not
	// reached), so calls over the run's time is capped by the run's shape:
	// the offering plus one call's length. What Moroz adds beyond that is
	// how far it fell behind.
	offering := time.Duration(float64(calls) / float64(rate) * float64(time.Second))
	shape := offering + hold + greetingLength
	fmt.Printf("pace: %.1f s of offering + %.1f s a call = %.1f s at best (%.0f calls/s at most); behind by %.1f s\n",
		offering.Seconds(), (hold + greetingLength).Seconds(), shape.Seconds(), float64(calls)/shape.Seconds(),
		(elapsed - shape).Seconds())
	fmt.Printf("callbacks stored: %d of %d calls\n", stored, calls)
	fmt.Printf("rtp: %d packets in %d streams; send jitter p50 %v p99 %v max %v\n",
		j.packets, j.streams, j.p50, j.p99, j.max)
	fmt.Printf("memory at ~%.0f concurrent calls: rss %d -> %d MB (%.0f kB a call), live Go heap %d -> %d MB (%.0f kB a call)\n",
		concurrent, idle[0]/1024, mid[0]/1024, float64(mid[0]-idle[0])/concurrent,
		idle[1]/1024, mid[1]/1024, float64(mid[1]-idle[1])/concurrent)
}

// reportCPU prints the CPU the run took: this process's (the node and
// the RTP receiver), SIPp's, and the load average before and after.
func reportCPU(before, after cpuTimes, calls int) {
	self, sipp := after.self-before.self, after.children-before.children
	perCall := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(calls) }
	fmt.Printf("cpu: flowbench %.2f s (%.0f µs a call), sipp %.2f s (%.0f µs a call); load average %s -> %s\n",
		self.Seconds(), perCall(self), sipp.Seconds(), perCall(sipp), before.load, after.load)
}

// sippTotals reads the cumulative counters from the statistics appended
// to SIPp's output.
func sippTotals(out string) (ok, failed, retrans int) {
	head, last, found := sippStats(out)
	if !found {
		return 0, 0, 0
	}
	col := func(name string) int {
		for i, h := range head {
			if h == name && i < len(last) {
				n, _ := strconv.Atoi(last[i])
				return n
			}
		}
		return 0
	}
	return col("SuccessfulCall(C)"), col("FailedCall(C)"), col("Retransmissions(C)")
}

// sippStats returns the header and the last row of SIPp's statistics
// appended to its output.
func sippStats(out string) (head, last []string, ok bool) {
	_, stat, found := strings.Cut(out, "\nSTAT\n")
	rows := strings.Split(strings.TrimSpace(stat), "\n")
	if !found || len(rows) < 2 {
		return nil, nil, false
	}
	return strings.Split(rows[0], ";"), strings.Split(rows[len(rows)-1], ";"), true
}

func tail(s string, n int) string { return s[max(0, len(s)-n):] }
