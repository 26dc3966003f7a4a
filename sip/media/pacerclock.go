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
	file  *os.File         // the timerfd, nil when falling back to timer
	raw   syscall.RawConn  // file's descriptor, held open while it is armed
	arm   func(fd uintptr) // armFD bound once, so arming allocates nothing
	wait  time.Duration    // for arm: how long until the timer fires
	err   error            // from arm
	buf   [8]byte          // a timerfd read: the count of expirations
	timer *time.Timer
}

func newSlotClock() *slotClock {
	c := &slotClock{}
	c.arm = c.armFD
	if f, err := openTimerFD(); err == nil {
		if raw, err := f.SyscallConn(); err == nil {
			c.file, c.raw = f, raw
			return c
		}
		f.Close()
	}
	c.timer = time.NewTimer(time.Hour)
	c.timer.Stop()
	return c
}

// sleepUntil blocks until t, or returns false at once when done is closed
// or the clock is. Only the shard's goroutine calls it.
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
	if c.file == nil {
		c.timer.Reset(d)
		select {
		case <-c.timer.C:
			return true
		case <-done:
			c.timer.Stop()
			return false
		}
	}
	c.wait = d
	if err := c.raw.Control(c.arm); err != nil || c.err != nil {
		return false
	}
	_, err := c.file.Read(c.buf[:])
	return err == nil
}

func (c *slotClock) armFD(fd uintptr) { c.err = armTimerFD(fd, c.wait) }

// close wakes a sleepUntil in progress, which returns false, as do all
// later ones. It may be called from any goroutine, and more than once.
func (c *slotClock) close() {
	if c.file != nil {
		c.file.Close()
	}
}
