// Package sysstat is what the benchmark programs under bench/ read of
// their process and machine (Linux only): CPU time, memory, how long the
// process waited for a CPU, the machine's UDP drops and load, and the
// kernel's receive timestamps of datagrams.
package sysstat

import (
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// CPUNanos is the CPU time, user and system, the process has used.
func CPUNanos() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// Memory is the heap in use after a collection, the resident set and
// the goroutine count.
func Memory() (heap, rss uint64, goroutines int) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse, ResidentBytes(), runtime.NumGoroutine()
}

// Growth is b minus a, which may be negative.
func Growth(b, a uint64) float64 { return float64(int64(b) - int64(a)) }

// ResidentBytes is the process's resident set (/proc/self/statm), 0 when
// it cannot be read.
func ResidentBytes() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

// RunQueueWait is how long the process's threads have waited, runnable,
// for a CPU (the second field of each /proc/self/task/*/schedstat): the
// time the scheduler kept them off the cores of a busy machine.
func RunQueueWait() int64 {
	paths, _ := filepath.Glob("/proc/self/task/*/schedstat")
	var sum int64
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) >= 2 {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			sum += n
		}
	}
	return sum
}

// SetNice sets the nice value of every thread of the process. Linux keeps
// a nice value per thread, and threads started later inherit it from the
// thread that starts them, so a Go program calls this early, before the
// work it means to slow down or speed up. Raising priority (a negative
// value) needs CAP_SYS_NICE or a fitting RLIMIT_NICE.
func SetNice(nice int) error {
	paths, err := filepath.Glob("/proc/self/task/*")
	if err != nil {
		return err
	}
	for _, p := range paths {
		tid, err := strconv.Atoi(filepath.Base(p))
		if err != nil {
			continue
		}
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, nice); err != nil {
			return err
		}
	}
	return nil
}

// UDPDrops is the machine's count of datagrams dropped for a full socket
// receive buffer (RcvbufErrors in /proc/net/snmp), whoever's socket it was.
func UDPDrops() int64 {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, name := range names {
			if name == "RcvbufErrors" && i < len(f) {
				n, _ := strconv.ParseInt(f[i], 10, 64)
				return n
			}
		}
	}
	return 0
}

// LoadAverage is the machine's 1, 5 and 15 minute load averages, "?" when
// they cannot be read.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// EnableTimestamps asks the kernel to stamp each datagram conn receives
// with its receive time (SO_TIMESTAMPNS), so a receiver's own scheduling
// delay does not count in what it measures. Read the stamp with
// KernelTime from the control data of ReadMsgUDP.
func EnableTimestamps(conn *net.UDPConn) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// OOBSize is enough control data for a receive timestamp.
const OOBSize = 128

// KernelTime returns the receive timestamp, in Unix nanoseconds, in a
// datagram's control data. It allocates nothing (syscall's
// ParseSocketControlMessage allocates a slice per call), so a receiver of
// 100,000 packets a second does not make garbage of its own.
func KernelTime(oob []byte) (int64, bool) {
	for len(oob) >= syscall.SizeofCmsghdr {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		n := int(h.Len)
		if n < syscall.SizeofCmsghdr || n > len(oob) {
			return 0, false
		}
		data := oob[syscall.CmsgLen(0):n]
		if h.Level == syscall.SOL_SOCKET && h.Type == syscall.SCM_TIMESTAMPNS && len(data) >= 16 {
			sec := int64(binary.NativeEndian.Uint64(data))
			nsec := int64(binary.NativeEndian.Uint64(data[8:]))
			return sec*1e9 + nsec, true
		}
		oob = oob[min(len(oob), syscall.CmsgSpace(n-syscall.CmsgLen(0))):]
	}
	return 0, false
}
