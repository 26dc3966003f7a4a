package softphoneweb

import (
	"encoding/json"
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var catalogues = []string{"ru", "be", "en"}

func catalogue(t *testing.T, lang string) map[string]string {
	t.Helper()
	b, err := fs.ReadFile(FS, "i18n/"+lang+".json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s.json: %v", lang, err)
	}
	return m
}

func TestCataloguesHaveTheSameKeys(t *testing.T) {
	want := slices.Sorted(maps.Keys(catalogue(t, "ru")))
	for _, lang := range catalogues[1:] {
		t.Run(lang, func(t *testing.T) {
			got := slices.Sorted(maps.Keys(catalogue(t, lang)))
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("%s keys against ru (-got +want):\n%s", lang, diff)
			}
			for k, v := range catalogue(t, lang) {
				if strings.TrimSpace(v) == "" {
					t.Errorf("%s: %s is empty", lang, k)
				}
			}
		})
	}
}

// keyUse finds t('key') in the app; a key ending in "." or "_" is a prefix
// the code completes at run time (t('status.' + s)).
var keyUse = regexp.MustCompile(`\bt\('([a-z0-9_.-]+)'`)

func TestTheAppUsesOnlyKnownKeys(t *testing.T) {
	ru := catalogue(t, "ru")
	used := map[string]bool{}
	err := fs.WalkDir(FS, "js", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(FS, path)
		for _, m := range keyUse.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(used) < 50 {
		t.Fatalf("found %d keys in the app; the pattern no longer matches how it calls t", len(used))
	}
	for key := range used {
		if strings.HasSuffix(key, ".") || strings.HasSuffix(key, "_") {
			if !slices.ContainsFunc(slices.Collect(maps.Keys(ru)), func(k string) bool { return strings.HasPrefix(k, key) }) {
				t.Errorf("prefix %q has no keys in the catalogues", key)
			}
			continue
		}
		if _, ok := ru[key]; !ok {
			t.Errorf("the app uses %q, which no catalogue has", key)
		}
	}
}

func TestIndexIsServed(t *testing.T) {
	b, err := fs.ReadFile(FS, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<html lang="ru">`, `src="/js/app.js"`, "<moroz-app>"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("index.html lacks %s", want)
		}
	}
}
