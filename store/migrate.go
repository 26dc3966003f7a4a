package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrations holds one goose migration set per dialect; both sets have the
// same versions.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// schemaVersion is the newest migration version this binary carries.
var schemaVersion = sync.OnceValue(func() int64 {
	var newest int64
	entries, _ := fs.ReadDir(migrations, "migrations/sqlite")
	for _, e := range entries {
		n, _, _ := strings.Cut(e.Name(), "_")
		if v, err := strconv.ParseInt(n, 10, 64); err == nil && v > newest {
			newest = v
		}
	}
	return newest
})

// migrate applies every pending migration of dialect to db.
func migrate(ctx context.Context, db *sql.DB, dialect goose.Dialect, log *slog.Logger) error {
	dir := "migrations/sqlite"
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if dialect == goose.DialectPostgres {
		dir = "migrations/postgres"
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	sub, err := fs.Sub(migrations, dir)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	p, err := goose.NewProvider(dialect, db, sub, opts...)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range results {
		log.Info("store migrated", "version", r.Source.Version, "took", r.Duration)
	}
	return nil
}
