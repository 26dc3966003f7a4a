package messenger

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxLimited is how many client addresses the limiter remembers before it
// forgets those that are back to a full bucket.
const maxLimited = 10000

// addrLimiter limits requests per client address with one token bucket
// each.
type addrLimiter struct {
	every rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter // by address; guarded by mu
}

func newAddrLimiter(perMinute, burst int) *addrLimiter {
	return &addrLimiter{every: rate.Limit(float64(perMinute) / 60), burst: burst,
		buckets: map[string]*rate.Limiter{}}
}

// allow takes a token for addr at now; when there is none it returns how
// long to wait for one.
func (l *addrLimiter) allow(addr string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[addr]
	if b == nil {
		if len(l.buckets) >= maxLimited {
			l.pruneLocked(now)
		}
		b = rate.NewLimiter(l.every, l.burst)
		l.buckets[addr] = b
	}
	r := b.ReserveN(now, 1)
	if !r.OK() {
		return time.Minute, false
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// pruneLocked forgets addresses whose bucket is full again.
func (l *addrLimiter) pruneLocked(now time.Time) {
	for a, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, a)
		}
	}
}

// clientAddr is the address a request comes from: the peer's IP, or with
// trustProxy the last address of X-Forwarded-For.
func clientAddr(r *http.Request, trustProxy bool) string {
	if trustProxy {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			parts := strings.Split(xff, ",")
			return strings.TrimSpace(parts[len(parts)-1])
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
