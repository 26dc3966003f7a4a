package store_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/store/pgtest"
	"github.com/morozhq/moroz/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// reopener opens one database per test, the same one again when a test
// opens twice (storetest's durability check).
type reopener struct {
	mu  sync.Mutex
	cfg map[*testing.T]store.Config // guarded by mu
	new func(t *testing.T) store.Config
}

func (r *reopener) open(t *testing.T) store.Store {
	t.Helper()
	r.mu.Lock()
	if r.cfg == nil {
		r.cfg = make(map[*testing.T]store.Config)
	}
	cfg, ok := r.cfg[t]
	if !ok {
		cfg = r.new(t)
		r.cfg[t] = cfg
	}
	r.mu.Unlock()
	s, err := store.Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func sqliteConfig(t *testing.T) store.Config {
	return store.Config{DataDir: t.TempDir()}
}

func postgresConfig(t *testing.T) store.Config {
	return store.Config{DB: pgtest.URL(t)}
}

func TestSQLite(t *testing.T) {
	r := &reopener{new: sqliteConfig}
	storetest.Run(t, r.open)
}

func TestPostgres(t *testing.T) {
	pgtest.URL(t) // skips the whole backend early when there is no PostgreSQL
	r := &reopener{new: postgresConfig}
	storetest.Run(t, r.open)
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	corrupt := filepath.Join(dir, "corrupt")
	if err := os.MkdirAll(corrupt, 0o700); err != nil {
		t.Fatal(err)
	}
	junk := strings.Repeat("this is not an SQLite database\n", 200)
	if err := os.WriteFile(filepath.Join(corrupt, store.DBFile), []byte(junk), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		cfg   store.Config
		want  []string // substrings of the error
		isErr error
	}{
		{"data folder is a file", store.Config{DataDir: file}, []string{"data folder", file}, nil},
		{"data folder under a file", store.Config{DataDir: filepath.Join(file, "sub")}, []string{"data folder", "a-file"}, nil},
		{"corrupt database", store.Config{DataDir: corrupt}, []string{corrupt, "not a database"}, nil},
		{"unknown scheme", store.Config{DB: "mysql://localhost/moroz"}, []string{"--db", "mysql://localhost/moroz"}, store.ErrInvalid},
		{"unparsable URL", store.Config{DB: "postgres://[::1"}, []string{"--db"}, store.ErrInvalid},
		{"nobody listening", store.Config{DB: "postgres://moroz:secret@127.0.0.1:1/moroz", OpenTimeout: 5 * time.Second},
			[]string{"127.0.0.1:1", "connect"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := store.Open(t.Context(), tt.cfg)
			if err == nil {
				s.Close()
				t.Fatal("open: got no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q: want it to mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows the password", err)
			}
			if tt.isErr != nil && !errors.Is(err, tt.isErr) {
				t.Errorf("error %q: want errors.Is %v", err, tt.isErr)
			}
		})
	}
}

func TestReadyWithoutMigrations(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(t *testing.T) store.Config
	}{
		{"sqlite", sqliteConfig},
		{"postgres", postgresConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg(t)
			cfg.SkipMigrations = true
			s, err := store.Open(t.Context(), cfg)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer s.Close()
			if err := store.Ready(t.Context(), s); !errors.Is(err, store.ErrNotMigrated) {
				t.Fatalf("ready before migrating: got %v, want ErrNotMigrated", err)
			}
			if err := store.Migrate(t.Context(), cfg); err != nil {
				t.Fatalf("migrate: %v", err)
			}
			if err := store.Ready(t.Context(), s); err != nil {
				t.Fatalf("ready after migrating: %v", err)
			}
		})
	}
}

// TestPostgresOutage stops the server under an open store: Ping and writes
// fail while it is down, and the store recovers by itself once it is back.
func TestPostgresOutage(t *testing.T) {
	c := pgtest.NewCluster(t)
	ctx := t.Context()
	s, err := store.Open(ctx, store.Config{DB: c.URL(t), OpenTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer s.Close()
	if _, err := s.CreateUser(ctx, store.User{Login: "before", Role: store.RoleHelper}); err != nil {
		t.Fatalf("create before the outage: %v", err)
	}

	c.Stop(t)
	if err := s.Ping(ctx); err == nil {
		t.Fatal("ping with the server down: got no error")
	}
	if _, err := s.CreateUser(ctx, store.User{Login: "during", Role: store.RoleHelper}); err == nil {
		t.Fatal("create with the server down: got no error")
	}

	c.Start(t)
	if err := store.Ready(ctx, s); err != nil {
		t.Fatalf("ready after the restart: %v", err)
	}
	if _, err := s.CreateUser(ctx, store.User{Login: "after", Role: store.RoleHelper}); err != nil {
		t.Fatalf("create after the restart: %v", err)
	}
	if n, err := s.CountUsers(ctx); err != nil || n != 2 {
		t.Fatalf("count: got %d, %v; want the 2 users written while the server was up", n, err)
	}
}
