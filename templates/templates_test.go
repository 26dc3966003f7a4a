package templates

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/morozhq/moroz/store"
)

func TestRender(t *testing.T) {
	d := Data{
		Contact: store.Contact{Name: "Маша", Fields: map[string]string{"city": "Минск"}},
		Item:    store.Item{Subject: "Письмо", Data: []byte(`{"fields":{"wish":"санки","age":7},"form":"letter"}`)},
		Helper:  "Снегурочка",
	}
	tests := []struct {
		name, src, want string
	}{
		{"plain", "Здравствуй!", "Здравствуй!"},
		{"contact", "Дорогая {{name}} из {{ city }}", "Дорогая Маша из Минск"},
		{"item fields", "{{wish}}, {{age}} лет, {{item.form}}", "санки, 7 лет, letter"},
		{"helper and subject", "{{helper}}: Re {{subject}}", "Снегурочка: Re Письмо"},
		{"fallback used", "{{item.missing|друг}}", "друг"},
		{"fallback unused", "{{name|друг}}", "Маша"},
		{"literal braces", "a {{{{}} b", "a {{ b"},
		{"empty value", "[{{item.none}}]", "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp, err := Parse(tt.src)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.src, err)
			}
			if got := tp.Render(d); got != tt.want {
				t.Errorf("Render(%q) = %q, want %q", tt.src, got, tt.want)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	tests := []struct {
		name, src, wantIn string
	}{
		{"unknown", "Hi {{nmae}}", `unknown variable "nmae"`},
		{"unclosed", "Hi {{name", "{{ without }}"},
		{"empty", "Hi {{ }}", "empty variable"},
		{"nested", "{{na{{me}}", "inside a variable"},
		{"bad item key", "{{item.a b}}", "item keys"},
		{"bare item", "{{item.}}", "unknown variable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.src)
			if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("Parse(%q) = %v, want an ErrSyntax saying %q", tt.src, err, tt.wantIn)
			}
		})
	}
	if err := Check("ok {{name}}", "{{bad}}"); err == nil || !strings.HasPrefix(err.Error(), "body:") {
		t.Errorf("Check = %v, want an error in the body", err)
	}
}

func TestPick(t *testing.T) {
	ts := []store.Template{
		{ID: 1, Name: "greet", Lang: "ru"},
		{ID: 2, Name: "greet", Lang: "en"},
		{ID: 3, Name: "greet", Lang: "en", Queue: "vip"},
		{ID: 4, Name: "other", Lang: "be"},
	}
	tests := []struct {
		name, tmpl, lang, queue string
		want                    int64
		wantOK                  bool
	}{
		{"exact language", "greet", "en", "letters", 2, true},
		{"queue specific", "greet", "en", "vip", 3, true},
		{"fallback to ru", "greet", "be", "letters", 1, true},
		{"only one language", "other", "ru", "", 4, true},
		{"no such name", "nope", "ru", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Pick(ts, tt.tmpl, tt.lang, tt.queue)
			if diff := cmp.Diff(struct {
				ID int64
				OK bool
			}{got.ID, ok}, struct {
				ID int64
				OK bool
			}{tt.want, tt.wantOK}); diff != "" {
				t.Errorf("Pick(%s, %s, %s) (-got +want):\n%s", tt.tmpl, tt.lang, tt.queue, diff)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"{{name}}", "{{", "}}{{", "{{{{}}", "{{item.x|y}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		tp, err := Parse(src)
		if err == nil {
			_ = tp.Render(Data{})
		}
	})
}
