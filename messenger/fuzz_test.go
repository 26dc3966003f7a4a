package messenger

import (
	"bytes"
	"strconv"
	"testing"
	"unicode/utf8"
)

// FuzzFormBody feeds arbitrary bodies to the JSON and form-encoded readers
// and the letter form's checks: nothing panics, and whatever passes the
// checks keeps the form's rules.
func FuzzFormBody(f *testing.F) {
	for _, seed := range []string{
		`{"name":"Оля","age":7,"city":"Гомель","wish":"санки","email":"olya@example.org"}`,
		`{"name":null,"wish":"x","age":"1e3"}`,
		`name=%D0%9E&wish=x&age=07`,
		`{"a":[1,{"b":2}]}`, `[]`, `"x"`, `name=a&name=b`, "\xff\xfe",
	} {
		f.Add(seed)
	}
	form := Config{}.WithDefaults().Forms[0]
	f.Fuzz(func(t *testing.T, body string) {
		for _, read := range []func() (map[string]string, error){
			func() (map[string]string, error) { return readJSONForm(bytes.NewReader([]byte(body))) },
			func() (map[string]string, error) { return readURLForm(bytes.NewReader([]byte(body))) },
		} {
			values, err := read()
			if err != nil {
				continue
			}
			clean, bad := form.check(values)
			if len(bad) > 0 {
				continue
			}
			checkClean(t, form, clean)
		}
	})
}

func checkClean(t *testing.T, form Form, clean map[string]string) {
	t.Helper()
	for _, fl := range form.Fields {
		v, ok := clean[fl.Name]
		if !ok {
			if fl.Required {
				t.Fatalf("required %s missing from %v", fl.Name, clean)
			}
			continue
		}
		if !utf8.ValidString(v) || utf8.RuneCountInString(v) > fl.MaxLength {
			t.Fatalf("%s = %q breaks its length or encoding", fl.Name, v)
		}
		if fl.Kind == KindInt {
			n, err := strconv.Atoi(v)
			if err != nil || n < fl.Min || n > fl.Max {
				t.Fatalf("%s = %q is not an int in [%d, %d]", fl.Name, v, fl.Min, fl.Max)
			}
		}
	}
}
