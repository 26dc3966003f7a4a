package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
)

// TestGroupCommit holds the writer inside one write while 31 more arrive,
// then wants them all in one further commit, with the one that fails
// rolled back alone.
func TestGroupCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		st, err := Open(ctx, Config{DataDir: t.TempDir()})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer st.Close()
		s := st.(*sqlStore)
		w := s.b.(*sqliteBackend).w
		if _, err := s.CreateUser(ctx, User{Login: "taken", Role: RoleHelper}); err != nil {
			t.Fatalf("create: %v", err)
		}
		before := w.commits.Load()

		release := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			s.write(ctx, func(q querier) error { <-release; return nil })
		})
		synctest.Wait() // the writer is inside the first write

		const n = 31
		errs := make([]error, n)
		for i := range n {
			login := fmt.Sprint("user", i)
			if i == 7 {
				login = "taken"
			}
			wg.Go(func() {
				_, errs[i] = s.CreateUser(ctx, User{Login: login, Role: RoleHelper})
			})
		}
		synctest.Wait() // all 31 wait for the writer
		close(release)
		wg.Wait()

		if got := w.commits.Load() - before; got != 2 {
			t.Errorf("commits: got %d, want 2 (the held write, then the 31 together)", got)
		}
		for i, err := range errs {
			if want := i == 7; errors.Is(err, ErrConflict) != want || (!want && err != nil) {
				t.Errorf("writer %d: got error %v, want conflict %v", i, err, want)
			}
		}
		if got, err := s.CountUsers(ctx); err != nil || got != n {
			t.Errorf("users: got %d, %v; want %d", got, err, n)
		}
	})
}

// TestWriteAfterClose wants ErrClosed, not a hang.
func TestWriteAfterClose(t *testing.T) {
	s, err := Open(t.Context(), Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	s.Close()
	_, err = s.CreateUser(t.Context(), User{Login: "late", Role: RoleHelper})
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("create after close: got %v, want ErrClosed", err)
	}
}

// TestSQLitePragmas checks the settings durability rests on, on the writer
// and on a reader.
func TestSQLitePragmas(t *testing.T) {
	st, err := Open(t.Context(), Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer st.Close()
	s := st.(*sqlStore)
	pragmas := []struct {
		name string
		want string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
		{"busy_timeout", "10000"},
	}
	read := func(q querier, name string) (v string, err error) {
		err = q.queryRow(t.Context(), "PRAGMA "+name).Scan(&v)
		return v, err
	}
	for _, p := range pragmas {
		t.Run(p.name, func(t *testing.T) {
			var got string
			err := s.write(t.Context(), func(q querier) (err error) {
				got, err = read(q, p.name)
				return err
			})
			if err != nil || got != p.want {
				t.Errorf("writer: got %q, %v; want %q", got, err, p.want)
			}
			if got, err := read(s.read(), p.name); err != nil || got != p.want {
				t.Errorf("reader: got %q, %v; want %q", got, err, p.want)
			}
		})
	}
	if got, err := read(s.read(), "query_only"); err != nil || got != "1" {
		t.Errorf("reader query_only: got %q, %v; want 1", got, err)
	}
}

// TestWriterSurvives checks that a panicking write and a write that breaks
// the shared transaction fail alone, and the writer goes on.
func TestWriterSurvives(t *testing.T) {
	st, err := Open(t.Context(), Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer st.Close()
	s := st.(*sqlStore)
	tests := []struct {
		name string
		fn   func(q querier) error
	}{
		{"panic", func(q querier) error { panic("bad write") }},
		{"broken transaction", func(q querier) error {
			_, err := q.exec(t.Context(), "COMMIT") // ends the batch's transaction under the writer
			return err
		}},
		{"failing statement", func(q querier) error {
			_, err := q.exec(t.Context(), "INSERT INTO no_such_table VALUES (1)")
			return err
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.write(t.Context(), tt.fn); err == nil {
				t.Fatal("write: got no error")
			}
			if _, err := s.CreateUser(t.Context(), User{Login: fmt.Sprint("after", i), Role: RoleHelper}); err != nil {
				t.Fatalf("next write: %v", err)
			}
		})
	}
}

func TestRoleAtLeast(t *testing.T) {
	tests := []struct {
		r, min Role
		want   bool
	}{
		{RoleAdmin, RoleHelper, true},
		{RoleAdmin, RoleAdmin, true},
		{RoleSupervisor, RoleAdmin, false},
		{RoleHelper, RoleSupervisor, false},
		{RoleHelper, RoleHelper, true},
		{"king", RoleHelper, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.r)+">="+string(tt.min), func(t *testing.T) {
			if got := tt.r.AtLeast(tt.min); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
