package firefoxtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const page = `<!doctype html><title>t</title><input id=name>
<script>window.greeting = {to: 'Ded', n: 3, list: [1, 'a', null], nan: NaN, set: new Set([2])};
window.addEventListener('load', () => console.log('loaded'));</script>`

// Firefox starts, loads a page and answers each command a test uses.
func TestBrowser(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(page))
	}))
	t.Cleanup(srv.Close)
	b := Start(t, 800, 600, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := b.NewTab(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Navigate(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}

	t.Run("evaluate", func(t *testing.T) {
		var got struct {
			To   string
			N    int
			List []any
			NaN  *float64
			Set  []int
		}
		if err := p.Eval(ctx, `window.greeting`, &got); err != nil {
			t.Fatal(err)
		}
		if got.To != "Ded" || got.N != 3 || !cmp.Equal(got.List, []any{1.0, "a", nil}) || got.NaN != nil ||
			!cmp.Equal(got.Set, []int{2}) {
			t.Errorf("window.greeting: got %+v", got)
		}
		var n int
		if err := p.Eval(ctx, `new Promise((ok) => setTimeout(() => ok(42), 10))`, &n); err != nil || n != 42 {
			t.Errorf("awaited promise: got %d, %v; want 42", n, err)
		}
	})
	t.Run("exception", func(t *testing.T) {
		var se *ScriptError
		if err := p.Eval(ctx, `(() => { throw new Error('boom') })()`, nil); !errors.As(err, &se) || !strings.Contains(se.Text, "boom") {
			t.Errorf("throw: got %v, want a ScriptError with boom", err)
		}
		var e *Error
		if err := b.Call(ctx, "browsingContext.navigate", map[string]any{"context": "nope", "url": srv.URL}, nil); !errors.As(err, &e) || e.Code != "no such frame" {
			t.Errorf("unknown context: got %v, want the error no such frame", err)
		}
	})
	t.Run("call function and type", func(t *testing.T) {
		if err := p.Type(ctx, "#name", "Снегурочка"); err != nil {
			t.Fatal(err)
		}
		var got string
		if err := p.CallFunction(ctx, `(sel, suffix) => document.querySelector(sel).value + suffix`, &got, "#name", "!"); err != nil {
			t.Fatal(err)
		}
		if got != "Снегурочка!" {
			t.Errorf("typed value: got %q, want %q", got, "Снегурочка!")
		}
	})
	t.Run("until", func(t *testing.T) {
		if err := p.Eval(ctx, `setTimeout(() => { window.later = true }, 100), 0`, nil); err != nil {
			t.Fatal(err)
		}
		if err := p.Until(ctx, `window.later`, 20*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		if err := p.Until(short, `window.never`, 20*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("until a false expression: got %v, want %v", err, context.DeadlineExceeded)
		}
	})
	t.Run("screenshot", func(t *testing.T) {
		buf, err := p.Screenshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(buf))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if got := img.Bounds().Size(); got.X != 800 || got.Y < 600 {
			t.Errorf("screenshot size: got %v, want 800 wide and at least 600 high", got)
		}
	})
	t.Run("logs", func(t *testing.T) {
		if err := p.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); ; {
			if logged(b.Logs(), "loaded") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("console.log not seen; logs: %v", b.Logs())
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	if err := p.Close(ctx); err != nil {
		t.Errorf("close the tab: %v", err)
	}
}

func logged(logs []LogEntry, text string) bool {
	for _, e := range logs {
		if e.Text == text {
			return true
		}
	}
	return false
}

func TestDecodeRemote(t *testing.T) {
	tests := []struct {
		name, in string
		want     any
	}{
		{"string", `{"type":"string","value":"ё"}`, "ё"},
		{"infinity", `{"type":"number","value":"Infinity"}`, nil},
		{"negative zero", `{"type":"number","value":"-0"}`, 0},
		{"undefined", `{"type":"undefined"}`, nil},
		{"object", `{"type":"object","value":[["a",{"type":"boolean","value":true}]]}`, map[string]any{"a": true}},
		{"map with a number key", `{"type":"map","value":[[{"type":"number","value":1},{"type":"null"}]]}`, map[string]any{"1": nil}},
		{"array of arrays", `{"type":"array","value":[{"type":"array","value":[{"type":"number","value":2}]}]}`, []any{[]any{2.0}}},
		{"node", `{"type":"node","sharedId":"x"}`, map[string]any{"type": "node"}},
		{"object past the depth", `{"type":"object"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeRemote(json.RawMessage(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !cmp.Equal(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestUserJS(t *testing.T) {
	got, err := userJS(map[string]any{"b.int": 2, "a.str": `say "hi"`, "c.bool": false})
	if err != nil {
		t.Fatal(err)
	}
	want := "user_pref(\"a.str\", \"say \\\"hi\\\"\");\nuser_pref(\"b.int\", 2);\nuser_pref(\"c.bool\", false);\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := userJS(map[string]any{"x": 1.5}); err == nil {
		t.Error("a float pref: got no error")
	}
}
