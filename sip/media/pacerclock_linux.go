package media

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// openTimerFD returns a non-blocking timerfd on the monotonic clock, which
// os.NewFile puts on the runtime's poller.
func openTimerFD() (*os.File, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "pacer timerfd"), nil
}

// armTimerFD makes fd readable once, after d (more than zero: zero
// would disarm it). Arming anew clears expirations not yet read.
func armTimerFD(fd uintptr, d time.Duration) error {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	return unix.TimerfdSettime(int(fd), 0, &spec, nil)
}
