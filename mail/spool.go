package mail

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// spoolMemMax is the largest letter the spool holds in memory to append it
// to a segment; larger ones get a file of their own.
const spoolMemMax = 1 << 20

// spool keeps raw letters durably under <data>/mail/raw: letters up to
// spoolMemMax in append-only segments shared by all connections (one
// fsync serves many letters), larger ones in files of their own named by
// their SHA-256.
type spool struct {
	root   string    // <data>/mail
	bufs   sync.Pool // *bytes.Buffer for reading letters
	segMax int64     // segment size that begins a new one, segmentMax

	mu  sync.Mutex
	seg *segment // guarded by mu: the segment taking letters; nil until the first
}

// RawRef says where a raw letter is kept, relative to the data folder's
// mail subfolder: a whole file, or Length bytes at Offset of a segment.
type RawRef struct {
	File   string `json:"file"`
	Offset int64  `json:"offset,omitempty"`
	Length int64  `json:"length"`
}

// rawLetter is one letter written to the spool, readable at once and
// durable after commit.
type rawLetter struct {
	sum string // hex SHA-256 of the client's bytes
	ref RawRef
	src io.ReaderAt
	seg *segment // the segment holding it, or nil
	tmp *os.File // its own file until commit, or nil
}

func newSpool(dataDir string) (*spool, error) {
	root := filepath.Join(dataDir, "mail")
	for _, d := range []string{root, filepath.Join(root, "raw"), filepath.Join(root, "attachments")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("mail spool: %w", err)
		}
	}
	sp := &spool{root: root, segMax: segmentMax}
	sp.bufs.New = func() any { return new(bytes.Buffer) }
	return sp, nil
}

// write stores a Return-Path header for returnPath (RFC 5321 §4.4) and
// then the letter from r. An error from r (such as go-smtp's size limit)
// is returned as it is.
func (sp *spool) write(r io.Reader, returnPath string) (rawLetter, error) {
	buf := sp.bufs.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 2*spoolMemMax {
			buf.Reset()
			sp.bufs.Put(buf)
		}
	}()
	buf.Reset()
	fmt.Fprintf(buf, "Return-Path: <%s>\r\n", returnPath)
	head := buf.Len()
	// Read straight into buf: io.Copy through a MultiWriter would take a
	// 32 KiB buffer of its own for every letter.
	n, err := buf.ReadFrom(io.LimitReader(r, spoolMemMax+1))
	if err != nil {
		return rawLetter{}, err
	}
	h := sha256.New()
	h.Write(buf.Bytes()[head:])
	if n <= spoolMemMax {
		return sp.appendLetter(hexSum(h), buf.Bytes())
	}
	return sp.writeFile(buf.Bytes(), h, r)
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// appendLetter puts a letter held in memory into the current segment.
func (sp *spool) appendLetter(sum string, letter []byte) (rawLetter, error) {
	seg, err := sp.segment()
	if err != nil {
		return rawLetter{}, err
	}
	off, err := seg.append(sum, letter)
	if err != nil {
		return rawLetter{}, err
	}
	ref := RawRef{File: seg.rel, Offset: off, Length: int64(len(letter))}
	return rawLetter{sum: sum, ref: ref, src: io.NewSectionReader(seg.f, off, ref.Length), seg: seg}, nil
}

// segment returns the segment taking letters, beginning a new one when it
// is full.
func (sp *spool) segment() (*segment, error) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.seg != nil && !sp.seg.full(sp.segMax) {
		return sp.seg, nil
	}
	seg, err := openSegment(sp.root)
	if err != nil {
		return nil, fmt.Errorf("spool letter: %w", err)
	}
	if sp.seg != nil {
		sp.seg.retire()
	}
	sp.seg = seg
	return seg, nil
}

// writeFile streams a large letter into a file of its own: the head
// already read, then the rest of r.
func (sp *spool) writeFile(head []byte, h hash.Hash, r io.Reader) (rawLetter, error) {
	tmp, err := os.CreateTemp(filepath.Join(sp.root, "raw"), "in-*.tmp")
	if err != nil {
		return rawLetter{}, fmt.Errorf("spool letter: %w", err)
	}
	fail := func(err error) (rawLetter, error) {
		tmp.Close()
		os.Remove(tmp.Name())
		return rawLetter{}, err
	}
	if _, err := tmp.Write(head); err != nil {
		return fail(fmt.Errorf("spool letter: %w", err))
	}
	n, err := io.Copy(io.MultiWriter(tmp, h), r)
	if err != nil {
		return fail(err)
	}
	sum := hexSum(h)
	size := int64(len(head)) + n
	ref := RawRef{File: filepath.Join("raw", sum[:2], sum+".eml"), Length: size}
	return rawLetter{sum: sum, ref: ref, src: io.NewSectionReader(tmp, 0, size), tmp: tmp}, nil
}

// reader reads the letter from its start.
func (raw rawLetter) reader() io.ReadSeeker {
	return io.NewSectionReader(raw.src, 0, raw.ref.Length)
}

// commit makes the letter durable and releases it.
func (sp *spool) commit(raw rawLetter) error {
	if raw.seg != nil {
		defer raw.seg.release()
		return raw.seg.syncTo(raw.ref.Offset + raw.ref.Length)
	}
	return sp.commitFile(raw)
}

// commitFile fsyncs a letter's own file, renames it to its final name and
// fsyncs the folder, so the letter and its name survive a crash.
func (sp *spool) commitFile(raw rawLetter) error {
	tmp := raw.tmp.Name()
	err := raw.tmp.Sync()
	if cerr := raw.tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("spool letter %s: sync: %w", raw.sum, err)
	}
	dir := filepath.Join(sp.root, filepath.Dir(raw.ref.File))
	if err := ensureDir(dir); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("spool letter %s: %w", raw.sum, err)
	}
	if err := os.Rename(tmp, filepath.Join(sp.root, raw.ref.File)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("spool letter %s: %w", raw.sum, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("spool letter %s: %w", raw.sum, err)
	}
	return nil
}

// discard gives up a letter that will not be committed. A letter in a
// segment stays in the file, unreferenced.
func (sp *spool) discard(raw rawLetter) {
	if raw.seg != nil {
		raw.seg.release()
		return
	}
	raw.tmp.Close()
	os.Remove(raw.tmp.Name())
}

// close retires the current segment; letters still being stored keep it
// open until they are released.
func (sp *spool) close() {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.seg != nil {
		sp.seg.retire()
		sp.seg = nil
	}
}

// attachDir is where the attachments of a letter go.
func (sp *spool) attachDir(sum string) string {
	return filepath.Join(sp.root, "attachments", sum)
}

// ensureDir creates dir when missing and syncs its parent so the new
// folder survives a crash.
func ensureDir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !os.IsExist(err) {
		return err
	}
	return syncDir(filepath.Dir(dir))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
