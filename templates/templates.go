package templates

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/morozhq/moroz/store"
)

// DefaultLang is the language a template falls back to.
const DefaultLang = "ru"

// Vars are the variables a template may use besides item.KEY.
var Vars = []string{"name", "city", "wish", "age", "helper", "subject"}

// ErrSyntax is wrapped by every error Parse and Check return.
var ErrSyntax = errors.New("template syntax")

// Template is a parsed template text. It is immutable and safe for
// concurrent use.
type Template struct {
	parts []part
}

// part is literal text (name empty) or a variable with its fallback.
type part struct {
	text     string
	name     string
	fallback string
}

// Parse parses src. An error wraps ErrSyntax and says what is wrong and
// where (the byte offset).
func Parse(src string) (*Template, error) {
	var t Template
	for rest, off := src, 0; rest != ""; {
		i := strings.Index(rest, "{{")
		if i < 0 {
			t.parts = append(t.parts, part{text: rest})
			break
		}
		if strings.HasPrefix(rest[i:], "{{{{}}") {
			t.parts = append(t.parts, part{text: rest[:i] + "{{"})
			rest, off = rest[i+6:], off+i+6
			continue
		}
		t.parts = append(t.parts, part{text: rest[:i]})
		p, n, err := parseVar(rest[i+2:], off+i)
		if err != nil {
			return nil, err
		}
		t.parts = append(t.parts, p)
		rest, off = rest[i+2+n:], off+i+2+n
	}
	return &t, nil
}

// parseVar reads a variable after its "{{" at offset at and returns it and
// how many bytes it took, the closing braces included.
func parseVar(s string, at int) (part, int, error) {
	end := strings.Index(s, "}}")
	if end < 0 {
		return part{}, 0, fmt.Errorf("%w: at %d: {{ without }}", ErrSyntax, at)
	}
	inner := s[:end]
	if strings.Contains(inner, "{{") {
		return part{}, 0, fmt.Errorf("%w: at %d: {{ inside a variable", ErrSyntax, at)
	}
	name, fallback, _ := strings.Cut(inner, "|")
	name = strings.TrimSpace(name)
	if err := checkName(name); err != nil {
		return part{}, 0, fmt.Errorf("%w: at %d: %w", ErrSyntax, at, err)
	}
	return part{name: name, fallback: strings.TrimSpace(fallback)}, end + 2, nil
}

func checkName(name string) error {
	if name == "" {
		return errors.New("empty variable")
	}
	if key, ok := strings.CutPrefix(name, "item."); ok {
		for _, r := range key {
			if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				return fmt.Errorf("variable %q: item keys are letters, digits, - and _", name)
			}
		}
		if key != "" {
			return nil
		}
	}
	for _, v := range Vars {
		if v == name {
			return nil
		}
	}
	return fmt.Errorf("unknown variable %q (known: %s, item.KEY)", name, strings.Join(Vars, ", "))
}

// Check parses a template's subject and body and returns the first error,
// naming which of them it is in.
func Check(subject, body string) error {
	if _, err := Parse(subject); err != nil {
		return fmt.Errorf("subject: %w", err)
	}
	if _, err := Parse(body); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	return nil
}

// Data is what a template is filled from. Every field may be zero.
type Data struct {
	Contact store.Contact
	Item    store.Item
	Helper  string // the answering helper's display name
}

// Render fills t from d. A variable with no value becomes its fallback,
// or nothing.
func (t *Template) Render(d Data) string {
	var item map[string]any
	var b strings.Builder
	for _, p := range t.parts {
		if p.name == "" {
			b.WriteString(p.text)
			continue
		}
		if item == nil && strings.HasPrefix(p.name, "item.") {
			item = itemFields(d.Item.Data)
		}
		v := d.value(p.name, item)
		if v == "" {
			v = p.fallback
		}
		b.WriteString(v)
	}
	return b.String()
}

func (d Data) value(name string, item map[string]any) string {
	switch name {
	case "name":
		return strings.TrimSpace(d.Contact.Name)
	case "helper":
		return d.Helper
	case "subject":
		return d.Item.Subject
	case "city", "wish", "age":
		if v := d.Contact.Fields[name]; v != "" {
			return v
		}
		return scalar(itemFields(d.Item.Data)[name])
	}
	return scalar(item[strings.TrimPrefix(name, "item.")])
}

// itemFields reads an item's data object, and the fields object inside
// it that forms keep, into one map.
func itemFields(raw json.RawMessage) map[string]any {
	m := map[string]any{}
	if len(raw) == 0 {
		return m
	}
	_ = json.Unmarshal(raw, &m) // data that is no object fills nothing
	if f, ok := m["fields"].(map[string]any); ok {
		for k, v := range f {
			if _, taken := m[k]; !taken {
				m[k] = v
			}
		}
	}
	return m
}

// scalar formats a JSON string or number; anything else is empty.
func scalar(v any) string {
	switch v := v.(type) {
	case string:
		if !utf8.ValidString(v) {
			return ""
		}
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

// Pick returns the template named name in lang, else in DefaultLang, else
// the first of that name, from ts. Queue-specific templates are preferred
// to shared ones (Queue empty) when queue matches. ok is false when no
// template has the name.
func Pick(ts []store.Template, name, lang, queue string) (store.Template, bool) {
	best, score := store.Template{}, -1
	for _, t := range ts {
		if t.Name != name || (t.Queue != "" && t.Queue != queue) {
			continue
		}
		s := 0
		switch t.Lang {
		case lang:
			s = 4
		case DefaultLang, "":
			s = 2
		}
		if t.Queue != "" {
			s++
		}
		if s > score {
			best, score = t, s
		}
	}
	return best, score >= 0
}

// Message is a template filled for one recipient.
type Message struct {
	Subject string
	Body    string
}

// Fill parses and renders a stored template for d.
func Fill(t store.Template, d Data) (Message, error) {
	subj, err := Parse(t.Subject)
	if err != nil {
		return Message{}, fmt.Errorf("template %d subject: %w", t.ID, err)
	}
	body, err := Parse(t.Body)
	if err != nil {
		return Message{}, fmt.Errorf("template %d body: %w", t.ID, err)
	}
	return Message{Subject: subj.Render(d), Body: body.Render(d)}, nil
}
