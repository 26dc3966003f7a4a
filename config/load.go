package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// EnvPrefix starts every environment variable Moroz reads.
const EnvPrefix = "MOROZ_"

// Load builds the configuration: defaults, then the YAML file at path (when
// path is not empty), then the MOROZ_* variables in env (os.Environ form).
// Unknown keys in the file and malformed values anywhere fail with an error
// naming the key. Load does not validate; call Validate after applying
// flags.
func Load(path string, env []string) (Config, error) {
	c := Default()
	if path != "" {
		if err := loadFile(&c, path); err != nil {
			return Config{}, err
		}
	}
	if err := applyEnv(&c, env); err != nil {
		return Config{}, err
	}
	return c, nil
}

func loadFile(c *Config, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil // an empty file changes nothing
	}
	if err := decodeNode(doc.Content[0], reflect.ValueOf(c).Elem(), ""); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// decodeNode decodes a YAML mapping into the struct v key by key, so that
// an unknown key or a malformed value is reported with its path and line.
func decodeNode(n *yaml.Node, v reflect.Value, prefix string) error {
	if n.Kind != yaml.MappingNode {
		return &KeyError{Key: strings.TrimSuffix(prefix, "."), Reason: fmt.Sprintf("line %d: want a mapping", n.Line)}
	}
	byName := map[string]reflect.Value{}
	t := v.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		byName[name] = v.Field(i)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := prefix + k.Value
		fv, ok := byName[k.Value]
		if !ok {
			return &KeyError{Key: key, Reason: fmt.Sprintf("line %d: unknown key", k.Line)}
		}
		if err := decodeValue(val, fv, key); err != nil {
			return err
		}
	}
	return nil
}

// decodeValue decodes one value, recursing into structs, pointers to
// structs and lists of structs so that their keys are checked too.
func decodeValue(val *yaml.Node, fv reflect.Value, key string) error {
	switch {
	case fv.Kind() == reflect.Struct:
		return decodeNode(val, fv, key+".")
	case fv.Kind() == reflect.Pointer && fv.Type().Elem().Kind() == reflect.Struct:
		if val.Tag == "!!null" {
			fv.SetZero()
			return nil
		}
		fv.Set(reflect.New(fv.Type().Elem()))
		return decodeNode(val, fv.Elem(), key+".")
	case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Struct:
		if val.Kind != yaml.SequenceNode {
			return &KeyError{Key: key, Reason: fmt.Sprintf("line %d: want a list", val.Line)}
		}
		list := reflect.MakeSlice(fv.Type(), len(val.Content), len(val.Content))
		for i, el := range val.Content {
			if err := decodeNode(el, list.Index(i), fmt.Sprintf("%s[%d].", key, i)); err != nil {
				return err
			}
		}
		fv.Set(list)
		return nil
	}
	if err := val.Decode(fv.Addr().Interface()); err != nil {
		return &KeyError{Key: key, Reason: fmt.Sprintf("line %d: %q is not a valid %s", val.Line, val.Value, kindName(fv.Type()))}
	}
	return nil
}

func kindName(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return "duration such as 30s or 5m"
	case t.Kind() == reflect.Slice:
		return "list"
	case t.Kind() == reflect.Bool:
		return "true or false"
	}
	return t.Kind().String()
}

// UnknownEnv lists the MOROZ_* variables in env that name no key, so that a
// misspelt variable is reported rather than silently ignored. Variables of
// the test suites (MOROZ_TEST_*, MOROZ_REQUIRE_*) are not keys and are not
// listed.
func UnknownEnv(env []string) []string {
	known := map[string]bool{}
	for _, f := range fields(reflect.ValueOf(&Config{}).Elem(), "") {
		known[f.env] = true
	}
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix) || known[name] ||
			strings.HasPrefix(name, EnvPrefix+"TEST_") || strings.HasPrefix(name, EnvPrefix+"REQUIRE_") {
			continue
		}
		out = append(out, name)
	}
	return out
}

func applyEnv(c *Config, env []string) error {
	vars := map[string]string{}
	for _, kv := range env {
		if name, value, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(name, EnvPrefix) {
			vars[name] = value
		}
	}
	for _, f := range fields(reflect.ValueOf(c).Elem(), "") {
		s, ok := vars[f.env]
		if !ok {
			continue
		}
		if err := setValue(f.value, s); err != nil {
			return &KeyError{Key: f.key, Reason: fmt.Sprintf("%s=%q: %v", f.env, s, err)}
		}
	}
	return nil
}

type field struct {
	key   string // yaml path, such as "mail.domains"
	env   string // MOROZ_MAIL_DOMAINS
	value reflect.Value
}

// fields lists the leaves of the configuration struct v, by yaml path.
func fields(v reflect.Value, prefix string) []field {
	var out []field
	t := v.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		key := prefix + name
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct && fv.Type() != reflect.TypeFor[time.Time]() {
			out = append(out, fields(fv, key+".")...)
			continue
		}
		env := EnvPrefix + strings.ToUpper(strings.NewReplacer(".", "_").Replace(key))
		out = append(out, field{key: key, env: env, value: fv})
	}
	return out
}

func setValue(v reflect.Value, s string) error {
	if v.Type() == reflect.TypeFor[time.Duration]() {
		d, err := time.ParseDuration(s)
		if err != nil {
			return errors.New("not a duration such as 30s or 5m")
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return errors.New("not true or false")
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return errors.New("not a whole number")
		}
		v.SetInt(n)
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("lists of %s cannot be set from the environment", v.Type().Elem())
		}
		var items []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				items = append(items, p)
			}
		}
		v.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("%s cannot be set from the environment", v.Type())
	}
	return nil
}
