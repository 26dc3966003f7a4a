package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// moroz runs one command line in-process and returns its exit code and
// output.
func moroz(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errOut, nil)
	return code, out.String(), errOut.String()
}

func TestUserAndToken(t *testing.T) {
	data := t.TempDir()
	code, out, errOut := moroz(t, "long-password\n", "user", "add", "elf", "--role", "helper", "--name", "Эльф", "--data", data)
	if code != 0 || !strings.Contains(out, "user elf (helper) added") {
		t.Fatalf("user add: code %d, out %q, err %q", code, out, errOut)
	}
	code, _, errOut = moroz(t, "long-password\n", "user", "add", "elf", "--role", "helper", "--data", data)
	if code != 1 || !strings.Contains(errOut, "taken") {
		t.Errorf("user add twice: code %d, err %q; want 1 and 'taken'", code, errOut)
	}
	code, out, errOut = moroz(t, "", "token", "create", "--role", "supervisor", "--name", "wallboard", "--data", data)
	if code != 0 || !strings.HasPrefix(out, "mz_") {
		t.Fatalf("token create: code %d, out %q, err %q", code, out, errOut)
	}
}

func TestUsageAndFailures(t *testing.T) {
	data := t.TempDir()
	badConfig := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(badConfig, []byte("http:\n  adress: 1\n"), 0o600)
	tests := []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"flags alone mean serve", "", []string{"--config", badConfig, "--data", data}, 1, "http.adress"},
		{"unknown command", "", []string{"fly"}, 2, "unknown command"},
		{"bad role", "pw-long-enough", []string{"user", "add", "x", "--role", "god", "--data", data}, 2, "--role"},
		{"no password", "", []string{"user", "add", "x", "--role", "helper", "--data", data}, 2, "password"},
		{"short password", "short", []string{"user", "add", "x", "--role", "helper", "--data", data}, 1, "8 characters"},
		{"token without name", "", []string{"token", "create", "--role", "admin", "--data", data}, 2, "--name"},
		{"unknown config key", "", []string{"serve", "--config", badConfig, "--data", data}, 1, "http.adress"},
		{"missing config file", "", []string{"migrate", "--config", filepath.Join(data, "none.yaml")}, 1, "none.yaml"},
		{"unreachable db", "", []string{"migrate", "--db", "postgres://moroz@127.0.0.1:1/moroz?connect_timeout=2"}, 1, "127.0.0.1:1"},
		{"wrong db scheme", "", []string{"migrate", "--db", "mysql://x"}, 1, "db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := moroz(t, tt.stdin, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Errorf("code %d, stderr %q; want %d and %q", code, errOut, tt.code, tt.want)
			}
			if code == 1 && strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Errorf("stderr is not one line: %q", errOut)
			}
		})
	}
}

func TestMigrateAndVersion(t *testing.T) {
	data := t.TempDir()
	if code, out, errOut := moroz(t, "", "migrate", "--data", data); code != 0 || !strings.Contains(out, "up to date") {
		t.Errorf("migrate: code %d, out %q, err %q", code, out, errOut)
	}
	if code, out, _ := moroz(t, "", "version"); code != 0 || !strings.HasPrefix(out, "moroz ") {
		t.Errorf("version: code %d, out %q", code, out)
	}
}
