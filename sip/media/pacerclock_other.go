//go:build !linux

package media

import (
	"errors"
	"os"
	"time"
)

func openTimerFD() (*os.File, error) { return nil, errors.ErrUnsupported }

func armTimerFD(uintptr, time.Duration) error { return errors.ErrUnsupported }
