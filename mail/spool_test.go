package mail

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func spoolLetter(t *testing.T, sp *spool, body string) rawLetter {
	t.Helper()
	raw, err := sp.write(strings.NewReader(body), "kid@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if err := sp.commit(raw); err != nil {
		t.Fatal(err)
	}
	return raw
}

// readRef reads a committed letter back by its RawRef alone, as a later
// reader with only the store would.
func readRef(t *testing.T, sp *spool, ref RawRef) string {
	t.Helper()
	f, err := os.Open(filepath.Join(sp.root, ref.File))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.NewSectionReader(f, ref.Offset, ref.Length))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSpoolSegments(t *testing.T) {
	sp, err := newSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sp.segMax = 200
	var refs []RawRef
	for i := range 6 {
		refs = append(refs, spoolLetter(t, sp, strings.Repeat(string(rune('a'+i)), 60)).ref)
	}
	sp.close()
	files := map[string]bool{}
	for i, ref := range refs {
		files[ref.File] = true
		want := "Return-Path: <kid@example.org>\r\n" + strings.Repeat(string(rune('a'+i)), 60)
		if got := readRef(t, sp, ref); got != want {
			t.Errorf("letter %d read back = %q, want %q", i, got, want)
		}
	}
	if len(files) < 2 {
		t.Errorf("segments used = %d, want a new one once 200 bytes are full", len(files))
	}
}

func TestSpoolLargeLetterGetsItsOwnFile(t *testing.T) {
	sp, err := newSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", spoolMemMax+10)
	raw := spoolLetter(t, sp, big)
	if !strings.HasSuffix(raw.ref.File, raw.sum+".eml") || raw.ref.Offset != 0 {
		t.Fatalf("ref = %+v, want a file of its own named by its hash", raw.ref)
	}
	if got := readRef(t, sp, raw.ref); !strings.HasSuffix(got, big) {
		t.Errorf("large letter read back: %d bytes, want the letter", len(got))
	}
	leftovers, err := filepath.Glob(filepath.Join(sp.root, "raw", "*.tmp"))
	if err != nil || len(leftovers) != 0 {
		t.Errorf("temporary files left: %v, %v", leftovers, err)
	}
}

func TestSpoolSizeLimitPassesThrough(t *testing.T) {
	sp, err := newSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	boom := io.MultiReader(strings.NewReader("From: a@b\r\n"), errReader{io.ErrUnexpectedEOF})
	if _, err := sp.write(boom, "a@b"); err != io.ErrUnexpectedEOF {
		t.Errorf("write = %v, want the reader's own error", err)
	}
	big := io.MultiReader(bytes.NewReader(make([]byte, spoolMemMax+5)), errReader{io.ErrClosedPipe})
	if _, err := sp.write(big, "a@b"); err != io.ErrClosedPipe {
		t.Errorf("write of a large letter = %v, want the reader's own error", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
