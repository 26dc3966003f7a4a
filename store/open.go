package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Defaults for Config.
const (
	// DefaultDataDir is where the SQLite file lives when Config.DataDir is
	// empty.
	DefaultDataDir = "data"
	// DefaultOpenTimeout bounds Open and Migrate when Config.OpenTimeout is
	// zero.
	DefaultOpenTimeout = 10 * time.Second
	// DBFile is the name of the SQLite database inside the data folder.
	DBFile = "moroz.db"
)

// Config says which database to open and how.
type Config struct {
	// DB is the PostgreSQL URL (postgres:// or postgresql://; flag --db,
	// env MOROZ_DB). Empty means the embedded SQLite store in DataDir.
	// pgxpool parameters such as pool_max_conns may be given in the URL.
	DB string
	// DataDir is the data folder holding the SQLite file DBFile (flag
	// --data, env MOROZ_DATA). Default DefaultDataDir. Created when missing.
	DataDir string
	// OpenTimeout bounds connecting, checking and migrating at Open.
	// Default DefaultOpenTimeout.
	OpenTimeout time.Duration
	// SkipMigrations makes Open leave the schema as it is; Ready then
	// reports ErrNotMigrated until someone runs Migrate. For deployments
	// that migrate in a separate step.
	SkipMigrations bool
	// Logger receives the store's few log lines (opened, migrated, a failed
	// group commit). Default: discard.
	Logger *slog.Logger
	// Now is the clock for CreatedAt and UpdatedAt stamps. Default
	// time.Now.
	Now func() time.Time
}

// Postgres reports whether c names a PostgreSQL server rather than the
// embedded SQLite store.
func (c Config) Postgres() bool {
	return strings.HasPrefix(c.DB, "postgres://") || strings.HasPrefix(c.DB, "postgresql://")
}

// Where names the database for messages, without any password: the
// PostgreSQL URL or the SQLite file.
func (c Config) Where() string {
	if c.DB == "" {
		return c.withDefaults().sqlitePath()
	}
	u, err := url.Parse(c.DB)
	if err != nil {
		return "the --db URL (unparsable)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

func (c Config) withDefaults() Config {
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.OpenTimeout <= 0 {
		c.OpenTimeout = DefaultOpenTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	if c.DB != "" && !c.Postgres() {
		return fmt.Errorf("--db %q: %w: want a postgres:// or postgresql:// URL, or none for the embedded store", c.Where(), ErrInvalid)
	}
	return nil
}

// Open connects to the database cfg names, migrates it (unless
// cfg.SkipMigrations) and returns the Store. It fails within
// cfg.OpenTimeout with an error naming the database when the server cannot
// be reached, the URL is wrong, or the data folder cannot be written. The
// caller must Close the store.
func Open(ctx context.Context, cfg Config) (Store, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.OpenTimeout)
	defer cancel()

	var (
		s   *sqlStore
		err error
	)
	if cfg.Postgres() {
		s, err = openPostgres(ctx, cfg)
	} else {
		s, err = openSQLite(ctx, cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", cfg.Where(), timeoutHint(err, cfg))
	}
	cfg.Logger.Info("store opened", "db", cfg.Where())
	return s, nil
}

// Migrate brings the schema of the database cfg names up to date and
// returns. Open does the same unless cfg.SkipMigrations; Migrate is for a
// separate `moroz migrate` step. It is safe to run from several nodes at
// once on PostgreSQL (an advisory lock serialises them).
func Migrate(ctx context.Context, cfg Config) error {
	cfg.SkipMigrations = false
	s, err := Open(ctx, cfg)
	if err != nil {
		return err
	}
	return s.Close()
}

// Ready reports whether s answers and its schema is fully migrated, for
// /readyz. A schema behind this binary is ErrNotMigrated. A Store not made by
// Open is only pinged.
func Ready(ctx context.Context, s Store) error {
	if r, ok := s.(interface{ ready(context.Context) error }); ok {
		return r.ready(ctx)
	}
	return s.Ping(ctx)
}

// timeoutHint turns a bare deadline error into one that says which bound
// was hit.
func timeoutHint(err error, cfg Config) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %v: %w", cfg.OpenTimeout, err)
	}
	return err
}
