package aritest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Spec is Asterisk's published ARI API description (Swagger 1.1): its
// operations and models, read from a folder of the *.json documents.
type Spec struct {
	ops    []operation
	models map[string]model
	parent map[string]string // model → the model it is a subtype of
}

type operation struct {
	method   string
	path     string   // e.g. /channels/{channelId}/answer
	segs     []string // path split at "/"
	nickname string
	params   []param
}

type param struct {
	Name          string `json:"name"`
	ParamType     string `json:"paramType"` // path, query, body
	Required      bool   `json:"required"`
	AllowMultiple bool   `json:"allowMultiple"`
	DataType      string `json:"dataType"`
	Allowable     struct {
		ValueType string   `json:"valueType"`
		Values    []string `json:"values"`
		Min       *float64 `json:"min"`
		Max       *float64 `json:"max"`
	} `json:"allowableValues"`
}

type model struct {
	ID         string              `json:"id"`
	SubTypes   []string            `json:"subTypes"`
	Properties map[string]property `json:"properties"`
}

type property struct {
	Type     string `json:"type"`
	Required bool   `json:"required"`
}

type document struct {
	APIs []struct {
		Path       string `json:"path"`
		Operations []struct {
			HTTPMethod string  `json:"httpMethod"`
			Nickname   string  `json:"nickname"`
			Parameters []param `json:"parameters"`
		} `json:"operations"`
	} `json:"apis"`
	Models map[string]model `json:"models"`
}

// DocsEnv names a folder of the ARI documents that wins over the search.
const DocsEnv = "MOROZ_ARI_DOCS"

// FindDocs looks for the ARI documents: $MOROZ_ARI_DOCS, else
// shared/asterisk-ari in the working directory or any folder above it
// (the tests run in a clone whose parent folder holds shared/).
func FindDocs() (string, error) {
	if d := os.Getenv(DocsEnv); d != "" {
		return d, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		cand := filepath.Join(dir, "shared", "asterisk-ari")
		if _, err := os.Stat(filepath.Join(cand, "channels.json")); err == nil {
			return cand, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("ari documents not found: no shared/asterisk-ari above the working directory")
		}
		dir = up
	}
}

// LoadSpec reads every *.json document in dir.
func LoadSpec(dir string) (*Spec, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("load ari spec %s: no documents", dir)
	}
	s := &Spec{models: map[string]model{}, parent: map[string]string{}}
	for _, f := range files {
		if err := s.load(f); err != nil {
			return nil, err
		}
	}
	for name, m := range s.models {
		for _, sub := range m.SubTypes {
			s.parent[sub] = name
		}
	}
	return s, nil
}

func (s *Spec) load(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("load ari spec: %w", err)
	}
	var doc document
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("load ari spec %s: %w", filepath.Base(file), err)
	}
	for _, api := range doc.APIs {
		for _, o := range api.Operations {
			s.ops = append(s.ops, operation{method: o.HTTPMethod, path: api.Path,
				segs: strings.Split(api.Path, "/"), nickname: o.Nickname, params: o.Parameters})
		}
	}
	for name, m := range doc.Models {
		s.models[name] = m
	}
	return nil
}

// match finds the documented operation of method and path (below /ari)
// and returns its path parameters.
func (s *Spec) match(method, path string) (*operation, map[string]string, error) {
	segs := strings.Split(path, "/")
	var best *operation
	var bestVars map[string]string
	for i := range s.ops {
		op := &s.ops[i]
		vars, ok := op.fit(segs)
		if !ok || op.method != method {
			continue
		}
		// a literal segment beats a parameter (/channels/externalMedia)
		if best == nil || len(vars) < len(bestVars) {
			best, bestVars = op, vars
		}
	}
	if best == nil {
		return nil, nil, fmt.Errorf("%s %s is not a documented ari operation", method, path)
	}
	return best, bestVars, nil
}

func (op *operation) fit(segs []string) (map[string]string, bool) {
	if len(segs) != len(op.segs) {
		return nil, false
	}
	vars := map[string]string{}
	for i, t := range op.segs {
		if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
			if segs[i] == "" {
				return nil, false
			}
			vars[t[1:len(t)-1]] = segs[i]
			continue
		}
		if t != segs[i] {
			return nil, false
		}
	}
	return vars, true
}

// check compares a request's parameters with the operation's: every
// query parameter documented, required ones present, values of the
// documented type and among the allowed values.
func (op *operation) check(query map[string][]string, hasBody bool) []string {
	var bad []string
	known := map[string]bool{}
	for _, p := range op.params {
		known[p.Name] = true
		if p.ParamType == "path" {
			continue
		}
		if p.ParamType == "body" {
			if p.Required && !hasBody {
				bad = append(bad, fmt.Sprintf("body parameter %s is required", p.Name))
			}
			continue
		}
		vals, ok := query[p.Name]
		if !ok {
			if p.Required {
				bad = append(bad, fmt.Sprintf("query parameter %s is required", p.Name))
			}
			continue
		}
		bad = append(bad, p.checkValues(vals)...)
	}
	for k := range query {
		if !known[k] && k != "api_key" {
			bad = append(bad, fmt.Sprintf("query parameter %s is not documented", k))
		}
	}
	return bad
}

func (p param) checkValues(vals []string) []string {
	var bad []string
	if len(vals) > 1 && !p.AllowMultiple {
		bad = append(bad, fmt.Sprintf("parameter %s given %d times", p.Name, len(vals)))
	}
	for _, v := range vals {
		parts := []string{v}
		if p.AllowMultiple {
			parts = strings.Split(v, ",")
		}
		for _, part := range parts {
			if msg := p.checkValue(part); msg != "" {
				bad = append(bad, msg)
			}
		}
	}
	return bad
}

func (p param) checkValue(v string) string {
	switch p.DataType {
	case "int", "long":
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n != float64(int64(n)) {
			return fmt.Sprintf("parameter %s=%q is not an integer", p.Name, v)
		}
		if a := p.Allowable; (a.Min != nil && n < *a.Min) || (a.Max != nil && n > *a.Max) {
			return fmt.Sprintf("parameter %s=%q is out of its range", p.Name, v)
		}
	case "boolean":
		if v != "true" && v != "false" {
			return fmt.Sprintf("parameter %s=%q is not a boolean", p.Name, v)
		}
	}
	if vs := p.Allowable.Values; len(vs) > 0 && !slices.Contains(vs, v) {
		return fmt.Sprintf("parameter %s=%q is not one of %v", p.Name, v, vs)
	}
	return ""
}

// EventTypes lists every event type the documents define.
func (s *Spec) EventTypes() []string {
	var out []string
	for name := range s.models {
		if s.isEvent(name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func (s *Spec) isEvent(name string) bool {
	for p := s.parent[name]; p != ""; p = s.parent[p] {
		if p == "Event" {
			return true
		}
	}
	return false
}

// chain is a model and the models it extends, its own first.
func (s *Spec) chain(name string) []model {
	var out []model
	for n := name; n != ""; n = s.parent[n] {
		if m, ok := s.models[n]; ok {
			out = append(out, m)
		}
	}
	return out
}

// BuildEvent makes an event of type typ from its model: fields' values
// win, every other required property gets a filler of its type. It
// fails when the result does not satisfy the model.
func (s *Spec) BuildEvent(typ, app string, fields map[string]any) (map[string]any, error) {
	if !s.isEvent(typ) {
		return nil, fmt.Errorf("build event: %s is not an event of the documents", typ)
	}
	ev := s.fill(typ, 0)
	for k, v := range fields {
		ev[k] = v
	}
	ev["type"], ev["application"] = typ, app
	if err := s.Validate(typ, ev); err != nil {
		return nil, err
	}
	return ev, nil
}

// fill returns an object with every required property of the model.
func (s *Spec) fill(name string, depth int) map[string]any {
	obj := map[string]any{}
	for _, m := range s.chain(name) {
		for k, p := range m.Properties {
			if p.Required {
				obj[k] = s.filler(p.Type, depth)
			}
		}
	}
	return obj
}

func (s *Spec) filler(typ string, depth int) any {
	switch {
	case typ == "string":
		return ""
	case typ == "int" || typ == "long" || typ == "double":
		return 0
	case typ == "boolean":
		return false
	case typ == "Date":
		return time.Now().UTC().Format("2006-01-02T15:04:05.000-0700")
	case typ == "object":
		return map[string]any{}
	case strings.HasPrefix(typ, "List["):
		return []any{}
	}
	if _, ok := s.models[typ]; ok && depth < 4 {
		return s.fill(typ, depth+1)
	}
	return map[string]any{}
}

// Validate checks a JSON object against model name: required properties
// present (through the models it extends) and of their type, nested
// models checked in turn.
func (s *Spec) Validate(name string, obj map[string]any) error {
	ms := s.chain(name)
	if len(ms) == 0 {
		return fmt.Errorf("validate: model %s is not in the documents", name)
	}
	for _, m := range ms {
		for k, p := range m.Properties {
			v, ok := obj[k]
			if !ok || v == nil {
				if p.Required {
					return fmt.Errorf("%s: required property %s missing", name, k)
				}
				continue
			}
			if err := s.validateValue(p.Type, v); err != nil {
				return fmt.Errorf("%s.%s: %w", name, k, err)
			}
		}
	}
	return nil
}

func (s *Spec) validateValue(typ string, v any) error {
	switch {
	case typ == "string" || typ == "Date":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%v is not a string", v)
		}
	case typ == "int" || typ == "long" || typ == "double":
		switch v.(type) {
		case int, int64, float64, json.Number:
		default:
			return fmt.Errorf("%v is not a number", v)
		}
	case typ == "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%v is not a boolean", v)
		}
	case strings.HasPrefix(typ, "List["):
		return s.validateList(typ[5:len(typ)-1], v)
	default:
		if _, ok := s.models[typ]; !ok {
			return nil // object, or a type the documents leave open
		}
		obj, ok := asObject(v)
		if !ok {
			return fmt.Errorf("%v is not a %s object", v, typ)
		}
		return s.Validate(typ, obj)
	}
	return nil
}

func (s *Spec) validateList(elem string, v any) error {
	items, ok := asList(v)
	if !ok {
		return fmt.Errorf("%v is not a list", v)
	}
	for _, it := range items {
		if err := s.validateValue(elem, it); err != nil {
			return err
		}
	}
	return nil
}

// asObject turns v into a generic JSON object, going through JSON when
// it is a Go struct.
func asObject(v any) (map[string]any, bool) {
	if m, ok := v.(map[string]any); ok {
		return m, true
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, false
	}
	var m map[string]any
	return m, json.Unmarshal(data, &m) == nil && m != nil
}

func asList(v any) ([]any, bool) {
	if l, ok := v.([]any); ok {
		return l, true
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, false
	}
	var l []any
	return l, json.Unmarshal(data, &l) == nil
}
