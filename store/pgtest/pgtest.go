// Package pgtest gives tests a throwaway PostgreSQL database: a fresh,
// empty database per test on one cluster shared by the test binary.
//
// The cluster is the one env MOROZ_TEST_DB names (a server URL on which the
// tests may create databases) or, without it, one pgtest starts itself in a
// temporary folder with initdb and pg_ctl from Debian's postgresql package,
// listening on a free loopback port. As root it runs them as the postgres
// user (initdb refuses root). Where neither is possible tests are skipped,
// unless env MOROZ_REQUIRE_PG=1 (CI) turns the skip into a failure.
//
// A package using URL must stop the cluster when its test binary ends:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Environment variables pgtest reads.
const (
	// EnvURL names a PostgreSQL server URL to use instead of starting one.
	EnvURL = "MOROZ_TEST_DB"
	// EnvRequire set to 1 makes a missing PostgreSQL fail the test.
	EnvRequire = "MOROZ_REQUIRE_PG"
)

// cluster is the test binary's one PostgreSQL server, started on first use.
// It is package state because it must outlive every test and be shared by
// them; Main stops it.
var cluster struct {
	once  sync.Once
	mu    sync.Mutex
	admin string   // URL of the maintenance database; guarded by mu
	own   *Cluster // the cluster pgtest started; nil for MOROZ_TEST_DB; guarded by mu
	err   error    // why there is no cluster; guarded by mu
}

// Main runs the tests of m, stops the cluster if pgtest started one, and
// exits with the tests' status. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop stops the cluster pgtest started, if any. Main calls it; it is safe
// to call more than once.
func Stop() {
	cluster.mu.Lock()
	defer cluster.mu.Unlock()
	if cluster.own != nil {
		cluster.own.remove()
		cluster.own = nil
		cluster.err = errors.New("cluster stopped")
	}
}

// URL returns the URL of a new, empty database for t, dropped when t ends.
// It skips t when no PostgreSQL is available (fails it under
// MOROZ_REQUIRE_PG=1).
func URL(t testing.TB) string {
	t.Helper()
	return newDatabase(t, adminURL(t))
}

// newDatabase creates a database on the server of admin, dropped when t
// ends, and returns its URL.
func newDatabase(t testing.TB, admin string) string {
	t.Helper()
	name := "moroz_test_" + randomHex(6)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := adminExec(ctx, admin, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := adminExec(ctx, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return withDatabase(admin, name)
}

// adminURL starts the cluster once and returns its maintenance URL.
func adminURL(t testing.TB) string {
	t.Helper()
	cluster.once.Do(func() {
		cluster.mu.Lock()
		defer cluster.mu.Unlock()
		if u := os.Getenv(EnvURL); u != "" {
			cluster.admin = u
			return
		}
		cluster.own, cluster.err = newCluster()
		if cluster.err == nil {
			cluster.admin = cluster.own.admin
		}
	})
	cluster.mu.Lock()
	admin, err := cluster.admin, cluster.err
	cluster.mu.Unlock()
	switch {
	case err == nil:
		return admin
	case errors.Is(err, errNoBinaries) && os.Getenv(EnvRequire) != "1":
		t.Skipf("pgtest: %v; install Debian's postgresql package or set %s to a server URL", err, EnvURL)
	}
	t.Fatalf("pgtest: %v", err)
	return ""
}

func adminExec(ctx context.Context, admin, sql string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// withDatabase returns admin with its database replaced by name.
func withDatabase(admin, name string) string {
	u, err := url.Parse(admin)
	if err != nil {
		return admin
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// binDir finds the newest PostgreSQL under /usr/lib/postgresql, or the
// folder of initdb on PATH.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errNoBinaries
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// Cluster is a PostgreSQL server pgtest made in a temporary folder.
type Cluster struct {
	bin, data, dir string
	run            func(name string, args ...string) error
	admin          string // URL of the maintenance database
}

// NewCluster starts a private cluster for t, removed when t ends, for tests
// that stop and start the server. Most tests want the shared one: URL.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	c, err := newCluster()
	if err != nil {
		if errors.Is(err, errNoBinaries) && os.Getenv(EnvRequire) != "1" {
			t.Skipf("pgtest: %v; install Debian's postgresql package", err)
		}
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(c.remove)
	return c
}

// URL returns the URL of a new, empty database on c for t.
func (c *Cluster) URL(t testing.TB) string {
	t.Helper()
	return newDatabase(t, c.admin)
}

// Stop stops c at once, as a crash would (pg_ctl stop -m immediate).
func (c *Cluster) Stop(t testing.TB) {
	t.Helper()
	if err := c.stop(); err != nil {
		t.Fatalf("pgtest: stop: %v", err)
	}
}

// Start starts c again after Stop and waits until it accepts connections.
func (c *Cluster) Start(t testing.TB) {
	t.Helper()
	if err := c.start(); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

var errNoBinaries = errors.New("no PostgreSQL binaries (initdb, pg_ctl) found")

// newCluster makes a cluster in a new temporary folder and starts it.
func newCluster() (*Cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	sweep(bin)
	dir, err := os.MkdirTemp("", tempPrefix)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c := &Cluster{bin: bin, dir: dir, data: filepath.Join(dir, "data")}
	if err := c.init(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return c, nil
}

// init runs initdb on a free port and starts the server.
func (c *Cluster) init() error {
	run, err := runAs(c.dir)
	if err != nil {
		return err
	}
	c.run = run
	port, err := freePort()
	if err != nil {
		return err
	}
	err = c.run(filepath.Join(c.bin, "initdb"), "-D", c.data, "-U", "postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-instructions")
	if err != nil {
		return fmt.Errorf("initdb: %w", err)
	}
	conf := fmt.Sprintf("listen_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\n"+
		"max_connections = 200\nshared_buffers = 64MB\n", port, c.dir)
	if err := appendFile(filepath.Join(c.data, "postgresql.conf"), conf); err != nil {
		return err
	}
	c.admin = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	return c.start()
}

func (c *Cluster) start() error {
	logFile := filepath.Join(c.dir, "server.log")
	err := c.run(filepath.Join(c.bin, "pg_ctl"), "start", "-D", c.data, "-w", "-t", "60", "-l", logFile)
	if err != nil {
		log, _ := os.ReadFile(logFile)
		return fmt.Errorf("pg_ctl start: %w\n%s", err, log)
	}
	return nil
}

func (c *Cluster) stop() error {
	return c.run(filepath.Join(c.bin, "pg_ctl"), "stop", "-D", c.data, "-m", "immediate", "-w")
}

// The temporary folders of clusters, and the file in each naming the
// process that owns it.
const (
	tempPrefix = "moroz-pgtest-"
	ownerFile  = "owner.pid"
)

// sweep stops and removes the clusters of test binaries that died without
// stopping theirs (killed, or timed out), so that they do not pile up.
func sweep(bin string) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), tempPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue // being made right now, or not ours
		}
		pid, err := strconv.Atoi(string(b))
		if err != nil || pid == os.Getpid() || alive(pid) {
			continue
		}
		run, err := runAs(dir)
		if err != nil {
			continue
		}
		c := &Cluster{bin: bin, dir: dir, data: filepath.Join(dir, "data"), run: run}
		c.remove()
	}
}

// alive reports whether process pid exists.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// remove stops c if it runs and deletes its folder.
func (c *Cluster) remove() {
	c.stop()
	os.RemoveAll(c.dir)
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(text)
	return errors.Join(err, f.Close())
}

// runAs returns a runner of PostgreSQL commands: as the postgres user
// through runuser when this process is root, directly otherwise. dir is
// handed to that user.
func runAs(dir string) (func(name string, args ...string) error, error) {
	run := func(name string, args ...string) error {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		return nil
	}
	if os.Geteuid() != 0 {
		return run, nil
	}
	pg, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(pg.Uid)
	gid, _ := strconv.Atoi(pg.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	return func(name string, args ...string) error {
		return run("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
