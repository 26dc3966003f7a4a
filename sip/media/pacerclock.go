package media

import (
	"os"
	"syscall"
	"time"
)

// slotClock puts a pacer shard to sleep until its next slot.
//
// Go's timers wake an idle process through epoll_wait, whose timeout is
// in whole milliseconds (runtime/netpoll_epoll.go), so a time.Timer fires
// up to a millisecond late even on an idle machine: at 1 ms slots that is
// a slot's worth of jitter on every packet. On Linux the clock is a
// timerfd instead, read through the runtime's poller: the kernel's
// high-resolution timer makes the descriptor readable on time and the
// poller wakes at once, without holding an OS thread or a P while it
// waits. Where there is no timerfd (another OS, or a sandbox that refuses
// it) the clock falls back to a time.Timer.
type slotClock struct {
	file   *os.File         // the timerfd, nil when there is none; set once
	raw    syscall.RawConn  // file's descriptor, held open while it is armed
	arm    func(fd uintptr) // armFD bound once, so arming allocates nothing
	wait   time.Duration    // for arm: how long until the timer fires
	err    error            // from arm
	buf    [8]byte          // a timerfd read: the count of expirations
	broken bool             // the timerfd failed: use timer from then on
	timer  *time.Timer      // made when first needed
}

func newSlotClock() *slotClock {
	c := &slotClock{}
	c.arm = c.armFD
	f, err := openTimerFD()
	if err != nil {
		return c
	}
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return c
	}
	c.file, c.raw = f, raw
	return c
}

// sleepUntil blocks until t, or returns false at once when done is closed
// (the clock is closed after done). A timerfd that fails while done is
// open is given up for a time.Timer: a shard must not stop pacing for it.
// Only the shard's goroutine calls sleepUntil.
func (c *slotClock) sleepUntil(t time.Time, done <-chan struct{}) bool {
	d := time.Until(t)
	if d <= 0 {
		select {
		case <-done:
			return false
		default:
			return true
		}
	}
	if c.file != nil && !c.broken {
		c.wait = d
		if err := c.raw.Control(c.arm); err == nil && c.err == nil {
			if _, err := c.file.Read(c.buf[:]); err == nil {
				return true
			}
		}
		select {
		case <-done:
			return false
		default:
			c.broken = true
			return c.sleepUntil(t, done)
		}
	}
	if c.timer == nil {
		c.timer = time.NewTimer(d)
	} else {
		c.timer.Reset(d)
	}
	select {
	case <-c.timer.C:
		return true
	case <-done:
		c.timer.Stop()
		return false
	}
}

func (c *slotClock) armFD(fd uintptr) { c.err = armTimerFD(fd, c.wait) }

// close wakes a sleepUntil in progress on the timerfd. Close done first:
// sleepUntil then returns false. It may be called from any goroutine, and
// more than once.
func (c *slotClock) close() {
	if c.file != nil {
		c.file.Close()
	}
}
