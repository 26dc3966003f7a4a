package mail

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse feeds Parse arbitrary bytes, seeded with the letter corpus in
// testdata/letters and testdata/fuzz/FuzzParse. Parse must never fail on
// input alone, never panic, and keep its promises about the Letter.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "letters", "*.eml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(nested(12))
	f.Add(many(150))
	p := NewParser(ParseOptions{MaxParts: 20, MaxDepth: 4, MaxTextBytes: 4096, MaxAttachmentBytes: 1024})
	f.Fuzz(func(t *testing.T, raw []byte) {
		dir := t.TempDir()
		l, err := p.Parse(bytes.NewReader(raw), dir)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		checkLetter(t, l, dir)
	})
}

func checkLetter(t *testing.T, l *Letter, dir string) {
	t.Helper()
	strs := []string{l.From.Name, l.From.Addr, l.Subject, l.MessageID, l.Text, l.HTML,
		l.AutoSubmitted, l.Precedence, l.ListID, l.ReturnPath}
	for _, a := range l.To {
		strs = append(strs, a.Name, a.Addr)
	}
	strs = append(strs, l.References...)
	for _, s := range strs {
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			t.Errorf("field %q: not valid UTF-8 or holds NUL", s)
		}
	}
	if len(l.Text) > 4096 {
		t.Errorf("len(Text) = %d, beyond the 4096 cap", len(l.Text))
	}
	for _, a := range l.Attachments {
		if a.Size > 1024 || strings.ContainsAny(a.Path, `/\`) || strings.HasPrefix(a.Name, ".") {
			t.Errorf("attachment %+v breaks the cap or the name rules", a)
		}
		if _, err := os.Stat(filepath.Join(dir, a.Path)); err != nil {
			t.Errorf("attachment %s: %v", a.Path, err)
		}
	}
}
