package node

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/morozhq/moroz/config"
	"github.com/morozhq/moroz/logging"
	"github.com/morozhq/moroz/store/pgtest"
)

func testConfig(t *testing.T) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Data = t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.SIP.Addr = "127.0.0.1:0"
	cfg.SMTP.Addr = "127.0.0.1:0"
	cfg.Drain = 5 * time.Second
	return cfg
}

func TestRunServesAndDrains(t *testing.T) {
	n, err := New(context.Background(), testConfig(t), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(context.Background()) }()

	res, err := http.Get("http://" + n.Addr("http") + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("/healthz: status %d", res.StatusCode)
	}
	users, err := n.Store().CountUsers(context.Background())
	if err != nil || users != 1 {
		t.Errorf("users after first start: %d, %v; want the one admin", users, err)
	}

	n.Drain()
	n.Drain() // idempotent
	if err := <-done; err != nil {
		t.Errorf("Run after Drain: %v", err)
	}
	if _, err := http.Get("http://" + n.Addr("http") + "/healthz"); err == nil {
		t.Error("still serving after Run returned")
	}
}

func TestStopAtOnce(t *testing.T) {
	n, err := New(context.Background(), testConfig(t), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel: %v", err)
	}
}

func TestNewFailsClearly(t *testing.T) {
	readOnly := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}
	occupied := testConfig(t)
	first, err := New(context.Background(), occupied, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { first.Close() })

	tests := []struct {
		name   string
		change func(*config.Config)
		want   string
	}{
		{"invalid key", func(c *config.Config) { c.Log.Level = "loud" }, "log.level"},
		{"data folder is a file", func(c *config.Config) {
			c.Data = filepath.Join(t.TempDir(), "file")
			os.WriteFile(c.Data, nil, 0o600)
		}, "data folder"},
		{"unreachable db", func(c *config.Config) { c.DB = "postgres://moroz@127.0.0.1:1/moroz?connect_timeout=2" }, "127.0.0.1:1"},
		{"port in use", func(c *config.Config) { c.HTTP.Addr = first.Addr("http") }, "http.addr"},
	}
	if os.Geteuid() != 0 { // root writes anywhere
		tests = append(tests, struct {
			name   string
			change func(*config.Config)
			want   string
		}{"data folder read-only", func(c *config.Config) { c.Data = readOnly }, "cannot be written"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			tt.change(&cfg)
			n, err := New(context.Background(), cfg, logging.Discard())
			if err == nil {
				n.Close()
				t.Fatalf("New succeeded, want an error naming %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %q", err, tt.want)
			}
		})
	}
}

func TestMain(m *testing.M) { pgtest.Main(m) }

// A node on PostgreSQL serves like one on the embedded store, and a second
// node on the same database finds the admin already made.
func TestRunOnPostgres(t *testing.T) {
	cfg := testConfig(t)
	cfg.DB = pgtest.URL(t)
	for i := range 2 {
		n, err := New(context.Background(), cfg, logging.Discard())
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- n.Run(ctx) }()
		res, err := http.Get("http://" + n.Addr("http") + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("node %d /readyz: status %d", i, res.StatusCode)
		}
		if users, err := n.Store().CountUsers(context.Background()); err != nil || users != 1 {
			t.Errorf("node %d: %d users, %v; want the one admin", i, users, err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("node %d Run: %v", i, err)
		}
	}
}
