// Package storetest is the conformance suite every store.Store backend
// passes. It owns no backend: a backend's tests call Run with a function
// that opens a fresh, empty store.
package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/morozhq/moroz/store"
)

// Open opens a store for the test t. Every call with a new t returns an
// empty store; a second call with the same t, after the first store was
// closed, must open the same database again (that is how durability is
// tested). Open registers the store's Close with t.Cleanup.
type Open func(t *testing.T) store.Store

// Run runs the whole suite against the backend open opens, one named
// subtest per area.
func Run(t *testing.T, open Open) {
	suites := []struct {
		name string
		run  func(t *testing.T, open Open)
	}{
		{"Lifecycle", testLifecycle},
		{"Users", testUsers},
		{"Tokens", testTokens},
		{"Sessions", testSessions},
		{"Helpers", testHelpers},
		{"Contacts", testContacts},
		{"Items", testItems},
		{"ItemsIdempotent", testItemsIdempotent},
		{"ItemFilters", testItemFilters},
		{"ItemUpdate", testItemUpdate},
		{"ApplyItemUpdates", testApplyItemUpdates},
		{"Events", testEvents},
		{"Messages", testMessages},
		{"Calls", testCalls},
		{"Voicemails", testVoicemails},
		{"Templates", testTemplates},
		{"Mailings", testMailings},
		{"Times", testTimes},
		{"JSON", testJSON},
		{"Durability", testDurability},
		{"Outbox", testOutbox},
		{"OutboxChannels", testOutboxChannels},
		{"OutboxClaims", testOutboxClaims},
		{"OutboxClaimsInOrder", testOutboxClaimsInOrder},
		{"OutboxClaimsConcurrent", testOutboxClaimsConcurrent},
		{"OutboxPrune", testOutboxPrune},
		{"QueueRecipientsKeepDone", testQueueRecipientsKeepDone},
		{"IMAPMarks", testIMAPMarks},
		{"FileLetter", testFileLetter},
		{"FileItem", testFileItem},
		{"AutoReplies", testAutoReplies},
		{"QueueRecipients", testQueueRecipients},
		{"Audit", testAudit},
	}
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) { s.run(t, open) })
	}
}

// wantErr fails t unless err matches want (nil means no error).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: got error %v, want none", what, err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// must fails t on err and returns v.
func must[T any](t *testing.T, what string) func(v T, err error) T {
	t.Helper()
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

// diff fails t when got and want differ.
func diff(t *testing.T, what string, got, want any) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s: mismatch (-want +got):\n%s", what, d)
	}
}

// at is a fixed instant with nanoseconds and a non-UTC zone, to check
// that the store keeps UTC at microsecond precision.
func at(minutes int) time.Time {
	zone := time.FixedZone("MSK", 3*3600)
	return time.Date(2025, 12, 24, 10, minutes, 7, 123456789, zone)
}

// stored is t as a store returns it.
func stored(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func testLifecycle(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	wantErr(t, "ping", s.Ping(ctx), nil)
	wantErr(t, "ready", store.Ready(ctx, s), nil)
	wantErr(t, "close", s.Close(), nil)
	wantErr(t, "second close", s.Close(), nil)
	if err := s.Ping(ctx); err == nil {
		t.Error("ping after close: got no error")
	}
	_, err := s.CreateUser(ctx, store.User{Login: "late", Role: store.RoleHelper})
	if err == nil {
		t.Error("write after close: got no error")
	}
}

func newUser(t *testing.T, s store.Store, login string) store.User {
	t.Helper()
	return must[store.User](t, "create user "+login)(s.CreateUser(t.Context(),
		store.User{Login: login, Name: "Name " + login, Role: store.RoleHelper, Lang: "ru"}))
}

func testUsers(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	u := must[store.User](t, "create")(s.CreateUser(ctx, store.User{
		Login: "snegurochka", Name: "Снегурочка", Role: store.RoleAdmin,
		PasswordHash: "$argon2id$v=19$x", Lang: "ru", CreatedAt: at(1),
	}))
	if u.ID == 0 {
		t.Fatal("create: got ID 0")
	}
	diff(t, "created at", u.CreatedAt, stored(at(1)))
	diff(t, "by id", must[store.User](t, "user")(s.User(ctx, u.ID)), u)
	diff(t, "by login", must[store.User](t, "by login")(s.UserByLogin(ctx, "snegurochka")), u)

	_, err := s.CreateUser(ctx, store.User{Login: "snegurochka", Role: store.RoleHelper})
	wantErr(t, "taken login", err, store.ErrConflict)
	_, err = s.CreateUser(ctx, store.User{Login: "bad", Role: "king"})
	wantErr(t, "bad role", err, store.ErrInvalid)
	_, err = s.User(ctx, u.ID+100)
	wantErr(t, "unknown id", err, store.ErrNotFound)
	_, err = s.UserByLogin(ctx, "nobody")
	wantErr(t, "unknown login", err, store.ErrNotFound)

	other := newUser(t, s, "elf")
	if other.CreatedAt.IsZero() {
		t.Error("create without CreatedAt: got zero CreatedAt")
	}
	u.Name, u.Disabled, u.Role = "Snow Maiden", true, store.RoleSupervisor
	wantErr(t, "update", s.UpdateUser(ctx, u), nil)
	diff(t, "updated", must[store.User](t, "user")(s.User(ctx, u.ID)), u)
	other.Login = "snegurochka"
	wantErr(t, "update to taken login", s.UpdateUser(ctx, other), store.ErrConflict)
	wantErr(t, "update unknown", s.UpdateUser(ctx, store.User{ID: 999, Login: "x", Role: store.RoleHelper}), store.ErrNotFound)

	other.Login = "elf"
	diff(t, "list", must[[]store.User](t, "list")(s.ListUsers(ctx)), []store.User{u, other})
	diff(t, "count", must[int](t, "count")(s.CountUsers(ctx)), 2)
}

func testTokens(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	tok := must[store.Token](t, "create")(s.CreateToken(ctx, store.Token{
		Name: "ci", Role: store.RoleAdmin, Hash: []byte{1, 2, 3, 0, 255},
	}))
	if tok.ID == 0 || tok.CreatedAt.IsZero() {
		t.Fatalf("create: got ID %d, CreatedAt %v; want both set", tok.ID, tok.CreatedAt)
	}
	diff(t, "by hash", must[store.Token](t, "by hash")(s.TokenByHash(ctx, []byte{1, 2, 3, 0, 255})), tok)
	_, err := s.CreateToken(ctx, store.Token{Name: "ci", Role: store.RoleHelper, Hash: []byte{9}})
	wantErr(t, "taken name", err, store.ErrConflict)
	_, err = s.TokenByHash(ctx, []byte{1, 2, 3})
	wantErr(t, "unknown hash", err, store.ErrNotFound)

	second := must[store.Token](t, "create second")(s.CreateToken(ctx, store.Token{
		Name: "report", Role: store.RoleSupervisor, Hash: []byte{7},
	}))
	diff(t, "list", must[[]store.Token](t, "list")(s.ListTokens(ctx)), []store.Token{tok, second})
	wantErr(t, "delete", s.DeleteToken(ctx, tok.ID), nil)
	wantErr(t, "delete again", s.DeleteToken(ctx, tok.ID), store.ErrNotFound)
	diff(t, "list after delete", must[[]store.Token](t, "list")(s.ListTokens(ctx)), []store.Token{second})
}

func testSessions(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	u := newUser(t, s, "ded")
	other := newUser(t, s, "elf")
	sess := store.Session{Hash: []byte("cookie-1"), UserID: u.ID, CreatedAt: at(0), ExpiresAt: at(30)}
	wantErr(t, "create", s.CreateSession(ctx, sess), nil)
	wantErr(t, "create same hash", s.CreateSession(ctx, sess), store.ErrConflict)
	wantErr(t, "create for unknown user",
		s.CreateSession(ctx, store.Session{Hash: []byte("x"), UserID: 999, ExpiresAt: at(30)}), store.ErrNotFound)
	want := store.Session{Hash: sess.Hash, UserID: u.ID, CreatedAt: stored(at(0)), ExpiresAt: stored(at(30))}
	diff(t, "before expiry", must[store.Session](t, "by hash")(s.SessionByHash(ctx, sess.Hash, at(29))), want)
	_, err := s.SessionByHash(ctx, sess.Hash, at(30))
	wantErr(t, "at expiry", err, store.ErrNotFound)

	wantErr(t, "delete", s.DeleteSession(ctx, sess.Hash), nil)
	_, err = s.SessionByHash(ctx, sess.Hash, at(1))
	wantErr(t, "after delete", err, store.ErrNotFound)
	wantErr(t, "delete unknown", s.DeleteSession(ctx, []byte("nope")), nil)

	for i, h := range []string{"a", "b"} {
		wantErr(t, "create "+h, s.CreateSession(ctx, store.Session{Hash: []byte(h), UserID: u.ID, ExpiresAt: at(40 + i)}), nil)
	}
	wantErr(t, "create other", s.CreateSession(ctx, store.Session{Hash: []byte("c"), UserID: other.ID, ExpiresAt: at(40)}), nil)
	wantErr(t, "delete user sessions", s.DeleteUserSessions(ctx, u.ID), nil)
	for _, h := range []string{"a", "b"} {
		_, err := s.SessionByHash(ctx, []byte(h), at(1))
		wantErr(t, "session "+h+" of deleted user", err, store.ErrNotFound)
	}
	must[store.Session](t, "other user's session")(s.SessionByHash(ctx, []byte("c"), at(1)))
}
