package mail

import (
	"sync"
	"testing"
)

func TestKeyLock(t *testing.T) {
	var k keyLock
	var wg sync.WaitGroup
	counts := map[string]int{}
	var mu sync.Mutex // guards counts against the race detector across keys
	for i := range 200 {
		key := []string{"a", "b", "c"}[i%3]
		wg.Go(func() {
			unlock := k.lock(key)
			defer unlock()
			mu.Lock()
			counts[key]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if got := counts["a"] + counts["b"] + counts["c"]; got != 200 {
		t.Errorf("locked sections run = %d, want 200", got)
	}
	if n := len(k.locks); n != 0 {
		t.Errorf("keys left after every unlock = %d, want 0", n)
	}
}

func TestKeyLockExcludes(t *testing.T) {
	var k keyLock
	unlock := k.lock("a")
	got := make(chan string, 2)
	var wg sync.WaitGroup
	wg.Go(func() {
		u := k.lock("a")
		got <- "second a"
		u()
	})
	wg.Go(func() {
		u := k.lock("b")
		got <- "b"
		u()
	})
	if first := <-got; first != "b" {
		t.Errorf("first to run = %q, want b while a is held", first)
	}
	unlock()
	if second := <-got; second != "second a" {
		t.Errorf("then = %q, want second a", second)
	}
	wg.Wait()
}
