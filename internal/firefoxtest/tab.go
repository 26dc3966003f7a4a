package firefoxtest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Tab is a top-level browsing context in a user context of its own
// (its own cookies and storage, like a private window).
type Tab struct {
	b           *Browser
	ID          string // the browsing context id
	UserContext string
}

// NewTab opens a tab in a new user context, with the browser's viewport
// size.
func (b *Browser) NewTab(ctx context.Context) (*Tab, error) {
	var uc struct {
		UserContext string `json:"userContext"`
	}
	if err := b.Call(ctx, "browser.createUserContext", nil, &uc); err != nil {
		return nil, err
	}
	var bc struct {
		Context string `json:"context"`
	}
	err := b.Call(ctx, "browsingContext.create", map[string]any{"type": "tab", "userContext": uc.UserContext}, &bc)
	if err != nil {
		return nil, err
	}
	p := &Tab{b: b, ID: bc.Context, UserContext: uc.UserContext}
	// Headless Firefox ignores --window-size for new tabs.
	vp := map[string]any{"context": p.ID, "viewport": map[string]int{"width": b.width, "height": b.height}}
	if err := b.Call(ctx, "browsingContext.setViewport", vp, nil); err != nil {
		return nil, err
	}
	return p, nil
}

// Browser is the tab's browser.
func (p *Tab) Browser() *Browser { return p.b }

// Navigate loads url and waits for the page's load event.
func (p *Tab) Navigate(ctx context.Context, url string) error {
	return p.b.Call(ctx, "browsingContext.navigate", map[string]any{"context": p.ID, "url": url, "wait": "complete"}, nil)
}

// Reload reloads the page and waits for its load event.
func (p *Tab) Reload(ctx context.Context) error {
	return p.b.Call(ctx, "browsingContext.reload", map[string]any{"context": p.ID, "wait": "complete"}, nil)
}

// Close closes the tab (its page unloads, its sockets close) and drops
// its user context.
func (p *Tab) Close(ctx context.Context) error {
	if err := p.b.Call(ctx, "browsingContext.close", map[string]any{"context": p.ID}, nil); err != nil {
		return err
	}
	return p.b.Call(ctx, "browser.removeUserContext", map[string]any{"userContext": p.UserContext}, nil)
}

// Screenshot returns a PNG of the whole page.
func (p *Tab) Screenshot(ctx context.Context) ([]byte, error) {
	var r struct {
		Data string `json:"data"`
	}
	if err := p.b.Call(ctx, "browsingContext.captureScreenshot", map[string]any{"context": p.ID, "origin": "document"}, &r); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(r.Data)
}

// evaluateResult is script.EvaluateResult: a success with the value, or
// an exception.
type evaluateResult struct {
	Type             string          `json:"type"` // success or exception
	Result           json.RawMessage `json:"result"`
	ExceptionDetails struct {
		Text       string `json:"text"`
		LineNumber int    `json:"lineNumber"`
	} `json:"exceptionDetails"`
}

// ScriptError is a script that threw, or whose promise was rejected.
type ScriptError struct {
	Text string
	Line int
}

func (e *ScriptError) Error() string {
	return fmt.Sprintf("script threw at line %d: %s", e.Line, e.Text)
}

// Eval evaluates the expression js in the page, awaits it when it is a
// promise, and stores its value in out (as encoding/json would from the
// value's JSON) unless out is nil. A script that throws is a
// *ScriptError.
func (p *Tab) Eval(ctx context.Context, js string, out any) error {
	var r evaluateResult
	err := p.b.Call(ctx, "script.evaluate", map[string]any{"expression": js, "target": map[string]string{"context": p.ID},
		"awaitPromise": true, "resultOwnership": "none"}, &r)
	if err != nil {
		return err
	}
	return r.into(out)
}

// CallFunction calls the JavaScript function fn (its source, such as
// "(sel, text) => ...") with args in the page, awaits its promise and
// stores its value in out unless out is nil. Args are strings, numbers,
// booleans or nil.
func (p *Tab) CallFunction(ctx context.Context, fn string, out any, args ...any) error {
	vals := make([]any, len(args))
	for i, a := range args {
		v, err := localValue(a)
		if err != nil {
			return fmt.Errorf("argument %d: %w", i, err)
		}
		vals[i] = v
	}
	var r evaluateResult
	err := p.b.Call(ctx, "script.callFunction", map[string]any{"functionDeclaration": fn, "arguments": vals,
		"target": map[string]string{"context": p.ID}, "awaitPromise": true, "resultOwnership": "none"}, &r)
	if err != nil {
		return err
	}
	return r.into(out)
}

func (r evaluateResult) into(out any) error {
	if r.Type == "exception" {
		return &ScriptError{Text: r.ExceptionDetails.Text, Line: r.ExceptionDetails.LineNumber}
	}
	if out == nil {
		return nil
	}
	v, err := decodeRemote(r.Result)
	if err != nil {
		return err
	}
	buf, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(buf, out)
}

// localValue is a script.LocalValue of a primitive Go value.
func localValue(a any) (map[string]any, error) {
	switch v := a.(type) {
	case nil:
		return map[string]any{"type": "null"}, nil
	case string:
		return map[string]any{"type": "string", "value": v}, nil
	case bool:
		return map[string]any{"type": "boolean", "value": v}, nil
	case int, int64, float64:
		return map[string]any{"type": "number", "value": v}, nil
	}
	return nil, fmt.Errorf("type %T is not a primitive", a)
}

// remoteValue is a script.RemoteValue: a type and, for the types that
// serialize one, a value.
type remoteValue struct {
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

// decodeRemote turns a RemoteValue into what JSON.stringify would give:
// primitives as themselves, NaN and infinities as nil, arrays and sets
// as slices, objects and maps as maps, anything else (a node, a window,
// a function) as a map holding its type.
func decodeRemote(raw json.RawMessage) (any, error) {
	var rv remoteValue
	if err := json.Unmarshal(raw, &rv); err != nil {
		return nil, fmt.Errorf("decode remote value: %w", err)
	}
	switch rv.Type {
	case "undefined", "null":
		return nil, nil
	case "string", "boolean", "bigint", "date":
		var v any
		return v, json.Unmarshal(rv.Value, &v)
	case "number":
		var v any
		if err := json.Unmarshal(rv.Value, &v); err != nil {
			return nil, err
		}
		if s, ok := v.(string); ok { // NaN, -0, Infinity, -Infinity
			if s == "-0" {
				return 0, nil
			}
			return nil, nil
		}
		return v, nil
	case "array", "set", "nodelist", "htmlcollection":
		if rv.Value == nil {
			return nil, nil
		}
		var items []json.RawMessage
		if err := json.Unmarshal(rv.Value, &items); err != nil {
			return nil, err
		}
		out := make([]any, len(items))
		for i, it := range items {
			v, err := decodeRemote(it)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case "object", "map":
		if rv.Value == nil {
			return nil, nil
		}
		return decodeEntries(rv.Value)
	}
	return map[string]any{"type": rv.Type}, nil
}

// decodeEntries decodes an object's [key, value] pairs; a key is a
// string or, in a map, a RemoteValue (kept by its JSON).
func decodeEntries(raw json.RawMessage) (map[string]any, error) {
	var pairs [][2]json.RawMessage
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, err
	}
	out := make(map[string]any, len(pairs))
	for _, kv := range pairs {
		var key string
		if json.Unmarshal(kv[0], &key) != nil {
			k, err := decodeRemote(kv[0])
			if err != nil {
				return nil, err
			}
			key = fmt.Sprint(k)
		}
		v, err := decodeRemote(kv[1])
		if err != nil {
			return nil, err
		}
		out[key] = v
	}
	return out, nil
}

// Until evaluates js every interval until it is true, the script throws,
// or ctx ends; on ctx's end the error says what js last gave.
func (p *Tab) Until(ctx context.Context, js string, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		var ok bool
		err := p.Eval(ctx, "!!("+js+")", &ok)
		var se *ScriptError
		switch {
		case errors.As(err, &se):
			return err
		case ctx.Err() != nil:
			return fmt.Errorf("waiting for %s: %w", js, ctx.Err())
		case err != nil:
			return err
		case ok:
			return nil
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", js, ctx.Err())
		}
	}
}

// Type focuses the element sel (a CSS selector) and types text into it
// as key presses (input.performActions), as a person would.
func (p *Tab) Type(ctx context.Context, sel, text string) error {
	err := p.CallFunction(ctx, `(sel) => { const el = document.querySelector(sel);
		if (!el) throw new Error('no element ' + sel); el.focus(); }`, nil, sel)
	if err != nil {
		return err
	}
	var keys []map[string]string
	for _, r := range text {
		keys = append(keys, map[string]string{"type": "keyDown", "value": string(r)},
			map[string]string{"type": "keyUp", "value": string(r)})
	}
	actions := []map[string]any{{"type": "key", "id": "keyboard", "actions": keys}}
	if err := p.b.Call(ctx, "input.performActions", map[string]any{"context": p.ID, "actions": actions}, nil); err != nil {
		return err
	}
	return p.b.Call(ctx, "input.releaseActions", map[string]any{"context": p.ID}, nil)
}
