package logging

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	l := NewLimiter(time.Second)
	t0 := time.Unix(1000, 0)
	steps := []struct {
		key            string
		at             time.Duration
		wantOK         bool
		wantSuppressed int
	}{
		{"a", 0, true, 0},
		{"a", 100 * time.Millisecond, false, 0},
		{"b", 200 * time.Millisecond, true, 0},
		{"a", 500 * time.Millisecond, false, 0},
		{"a", 1100 * time.Millisecond, true, 2},
		{"a", 1200 * time.Millisecond, false, 0},
	}
	for i, s := range steps {
		ok, n := l.Allow(s.key, t0.Add(s.at))
		if ok != s.wantOK || n != s.wantSuppressed {
			t.Errorf("step %d (%s at %v): got %v, %d; want %v, %d", i, s.key, s.at, ok, n, s.wantOK, s.wantSuppressed)
		}
	}
}

func TestNewJSON(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, "warn", "auto").Info("hidden")
	New(&buf, "warn", "auto").Warn("shown", KeyPeer, "127.0.0.1:5060")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("auto format on a buffer is not one JSON line: %v: %q", err, buf.String())
	}
	if rec["msg"] != "shown" || rec[KeyPeer] != "127.0.0.1:5060" {
		t.Errorf("got %v", rec)
	}
}
