package mail

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// segmentMax is the size at which a segment is closed to new letters and
// a new one begun.
const segmentMax = 256 << 20

// scratchMax is the largest frame buffer a segment keeps for the next
// letter.
const scratchMax = 64 << 10

// segment is an append-only file of raw letters. Each letter is framed by
// a line "MOROZ-LETTER <sha256> <length>" so the file can be read without
// the store; the store keeps each letter's offset and length.
//
// Durability is by group commit: a writer appends, then calls syncTo with
// the end of its letter; one fsync covers every letter appended before it
// began, so concurrent writers share fsyncs instead of queueing for one
// each.
type segment struct {
	f   *os.File
	rel string // name relative to the mail folder

	mu      sync.Mutex
	scratch []byte // guarded by mu: the framed letter being written
	size    int64  // guarded by mu: bytes appended
	refs    int    // guarded by mu: letters appended and not yet released
	retired bool   // guarded by mu: no more appends; close at refs 0
	broken  error  // guarded by mu: a failed write; the segment takes no more

	syncMu sync.Mutex // held for one fsync at a time
	synced int64      // guarded by syncMu: bytes known durable
}

// openSegment creates a new segment in dir (the mail folder's raw folder)
// and makes its name durable.
func openSegment(root string) (*segment, error) {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:]) + ".letters"
	rel := filepath.Join("raw", name)
	f, err := os.OpenFile(filepath.Join(root, rel), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open segment: %w", err)
	}
	if err := syncDir(filepath.Join(root, "raw")); err != nil {
		f.Close()
		return nil, fmt.Errorf("open segment %s: %w", rel, err)
	}
	return &segment{f: f, rel: rel}, nil
}

// append writes the framed letter and returns the offset of the letter
// itself. It takes a reference that release gives back.
func (s *segment) append(sum string, letter []byte) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken != nil {
		return 0, s.broken
	}
	s.scratch = fmt.Appendf(s.scratch[:0], "MOROZ-LETTER %s %d\r\n", sum, len(letter))
	frame := len(s.scratch)
	s.scratch = append(s.scratch, letter...)
	start := s.size
	if _, err := s.f.WriteAt(s.scratch, start); err != nil {
		s.broken = fmt.Errorf("segment %s: write: %w", s.rel, err)
		return 0, s.broken
	}
	s.size += int64(len(s.scratch))
	if cap(s.scratch) > scratchMax {
		s.scratch = nil // a large letter's buffer is not kept
	}
	s.refs++
	return start + int64(frame), nil
}

// full reports whether the segment should take no more letters: it broke
// or holds max bytes.
func (s *segment) full(max int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.broken != nil || s.size >= max
}

// syncTo returns once the first end bytes are durable.
func (s *segment) syncTo(end int64) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if s.synced >= end {
		return nil // a sync that began after our append covered us
	}
	s.mu.Lock()
	target := s.size
	s.mu.Unlock()
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("segment %s: sync: %w", s.rel, err)
	}
	s.synced = target
	return nil
}

// release gives back a reference; a retired segment is closed with its
// last one.
func (s *segment) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refs--
	s.closeIfDoneLocked()
}

// retire stops appends; the file closes when its last letter is released.
func (s *segment) retire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retired = true
	s.closeIfDoneLocked()
}

func (s *segment) closeIfDoneLocked() {
	if s.retired && s.refs == 0 && s.f != nil {
		s.f.Close()
		s.f = nil
	}
}
