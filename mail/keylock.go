package mail

import "sync"

// keyLock is a mutex per key, for serialising work on one sender while
// letters from different senders go on side by side. Keys nobody holds
// take no memory.
type keyLock struct {
	mu    sync.Mutex
	locks map[string]*heldKey // guarded by mu
}

type heldKey struct {
	mu   sync.Mutex
	refs int // guarded by keyLock.mu: holders and waiters
}

// lock blocks until key is free and returns the function that frees it.
func (k *keyLock) lock(key string) func() {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = make(map[string]*heldKey)
	}
	h := k.locks[key]
	if h == nil {
		h = &heldKey{}
		k.locks[key] = h
	}
	h.refs++
	k.mu.Unlock()

	h.mu.Lock()
	return func() {
		h.mu.Unlock()
		k.mu.Lock()
		defer k.mu.Unlock()
		if h.refs--; h.refs == 0 {
			delete(k.locks, key)
		}
	}
}
