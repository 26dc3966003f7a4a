package mail

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
)

// spool keeps raw letters durably under <data>/mail/raw, named by the
// SHA-256 of the bytes the client sent, so a retried delivery lands on the
// same file.
type spool struct {
	root string // <data>/mail
}

// rawLetter is one letter on disk.
type rawLetter struct {
	path string // absolute
	rel  string // relative to the data folder's mail subfolder
	sum  string // hex SHA-256 of the client's bytes
}

func newSpool(dataDir string) (*spool, error) {
	root := filepath.Join(dataDir, "mail")
	for _, d := range []string{root, filepath.Join(root, "raw"), filepath.Join(root, "attachments")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("mail spool: %w", err)
		}
	}
	return &spool{root: root}, nil
}

// save writes a Return-Path header for returnPath (RFC 5321 §4.4) and then
// r to disk, fsyncs the file and its folder, and returns where it is. An
// error from r (such as go-smtp's size limit) is returned as it is.
func (sp *spool) save(r io.Reader, returnPath string) (rawLetter, error) {
	tmp, err := os.CreateTemp(filepath.Join(sp.root, "raw"), "in-*.tmp")
	if err != nil {
		return rawLetter{}, fmt.Errorf("spool letter: %w", err)
	}
	sum, err := writeRaw(tmp, r, returnPath)
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return rawLetter{}, err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return rawLetter{}, fmt.Errorf("spool letter: %w", err)
	}
	return sp.place(tmp.Name(), sum)
}

// writeRaw copies the letter into f and syncs it; the hash covers only
// the client's bytes, not the Return-Path Moroz adds.
func writeRaw(f *os.File, r io.Reader, returnPath string) (string, error) {
	bw := bufio.NewWriterSize(f, 64<<10)
	if _, err := fmt.Fprintf(bw, "Return-Path: <%s>\r\n", returnPath); err != nil {
		return "", fmt.Errorf("spool letter: %w", err)
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(bw, h), r); err != nil {
		return "", err
	}
	if err := bw.Flush(); err != nil {
		return "", fmt.Errorf("spool letter: %w", err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("spool letter: sync: %w", err)
	}
	return hexSum(h), nil
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// place renames the synced temporary file to its final name and syncs the
// folder, so the name survives a crash too.
func (sp *spool) place(tmp, sum string) (rawLetter, error) {
	rel := filepath.Join("raw", sum[:2], sum+".eml")
	dir := filepath.Join(sp.root, "raw", sum[:2])
	if err := ensureDir(dir); err != nil {
		os.Remove(tmp)
		return rawLetter{}, fmt.Errorf("spool letter %s: %w", sum, err)
	}
	final := filepath.Join(sp.root, rel)
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return rawLetter{}, fmt.Errorf("spool letter %s: %w", sum, err)
	}
	if err := syncDir(dir); err != nil {
		return rawLetter{}, fmt.Errorf("spool letter %s: %w", sum, err)
	}
	return rawLetter{path: final, rel: rel, sum: sum}, nil
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
