package store

import (
	"fmt"
	"testing"
)

func TestSQLiteSQL(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"placeholders", "SELECT a FROM t WHERE b = $1 AND c = $12", "SELECT a FROM t WHERE b = ?1 AND c = ?12"},
		{"reused", "SET a = $1, b = COALESCE(b, $1)", "SET a = ?1, b = COALESCE(b, ?1)"},
		{"dollar without digit", "SELECT '$x', $", "SELECT '$x', $"},
		{"none", "SELECT 1", "SELECT 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sqliteSQL(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestStatementCacheFull runs statements past the cache's bound, on the
// read pool and on the writer, where they are prepared for one use.
func TestStatementCacheFull(t *testing.T) {
	ctx := t.Context()
	st, err := Open(ctx, Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer st.Close()
	s := st.(*sqlStore)
	check := func(q querier) error {
		for i := range stmtCacheMax + 3 {
			var got int
			if err := q.queryRow(ctx, fmt.Sprintf("SELECT $1 + %d", i), 1).Scan(&got); err != nil {
				return err
			}
			if got != i+1 {
				return fmt.Errorf("query %d: got %d, want %d", i, got, i+1)
			}
		}
		_, err := q.exec(ctx, "SELECT 1 WHERE $1", true)
		return err
	}
	if err := check(s.read()); err != nil {
		t.Errorf("reader: %v", err)
	}
	if err := s.write(ctx, check); err != nil {
		t.Errorf("writer: %v", err)
	}
}
