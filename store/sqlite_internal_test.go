package store

import "testing"

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
