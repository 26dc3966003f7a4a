package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
)

func testHelpers(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	a, b := newUser(t, s, "a"), newUser(t, s, "b")
	ha := store.Helper{
		UserID:    a.ID,
		Queues:    []string{"letters", "calls"},
		Skills:    map[string]int{"ru": 10, "be": 3},
		Capacity:  map[acd.Channel]int{acd.Email: 3, acd.Voice: 1},
		Extension: "101",
		SIPHA1:    "0b8ab4b6fa5e3a7be7e4a6b5bb9d9a1c",
	}
	hb := store.Helper{UserID: b.ID}
	wantErr(t, "put a", s.PutHelper(ctx, ha), nil)
	wantErr(t, "put b", s.PutHelper(ctx, hb), nil)
	diff(t, "get a", must[store.Helper](t, "get a")(s.Helper(ctx, a.ID)), ha)
	diff(t, "get b", must[store.Helper](t, "get b")(s.Helper(ctx, b.ID)), hb)

	byExt := must[store.Helper](t, "by extension")(s.HelperByExtension(ctx, "101"))
	diff(t, "by extension", byExt, ha)
	_, err := s.HelperByExtension(ctx, "102")
	wantErr(t, "unknown extension", err, store.ErrNotFound)
	_, err = s.HelperByExtension(ctx, "")
	wantErr(t, "empty extension", err, store.ErrInvalid)
	taken := hb
	taken.Extension = "101"
	wantErr(t, "extension taken", s.PutHelper(ctx, taken), store.ErrConflict)

	ha.Queues, ha.Skills, ha.Extension, ha.SIPHA1 = []string{"calls"}, nil, "", ""
	wantErr(t, "replace a", s.PutHelper(ctx, ha), nil)
	diff(t, "list", must[[]store.Helper](t, "list")(s.ListHelpers(ctx)), []store.Helper{ha, hb})

	wantErr(t, "put for unknown user", s.PutHelper(ctx, store.Helper{UserID: 999}), store.ErrNotFound)
	_, err = s.Helper(ctx, 999)
	wantErr(t, "get unknown", err, store.ErrNotFound)
	wantErr(t, "extension free again", s.PutHelper(ctx, taken), nil)
}

func testContacts(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	phone := store.Identity{Kind: "phone", Value: "375291234567"}
	c := must[store.Contact](t, "resolve new")(s.ResolveContact(ctx, phone, "Алеся"))
	if c.ID == 0 || c.Name != "Алеся" || c.CreatedAt.IsZero() {
		t.Fatalf("resolve new: got %+v, want an ID, the name and CreatedAt", c)
	}
	diff(t, "identities", c.Identities, []store.Identity{phone})
	again := must[store.Contact](t, "resolve again")(s.ResolveContact(ctx, phone, "other name"))
	diff(t, "resolve again", again, c)

	mail := store.Identity{Kind: "email", Value: "alesya@example.by"}
	wantErr(t, "add identity", s.AddIdentity(ctx, c.ID, mail), nil)
	wantErr(t, "add it again", s.AddIdentity(ctx, c.ID, mail), nil)
	byMail := must[store.Contact](t, "resolve by mail")(s.ResolveContact(ctx, mail, ""))
	diff(t, "resolve by mail", byMail.Identities, []store.Identity{phone, mail})

	other := must[store.Contact](t, "resolve other")(s.ResolveContact(ctx, store.Identity{Kind: "telegram", Value: "42"}, "Янка"))
	wantErr(t, "identity of another contact", s.AddIdentity(ctx, other.ID, mail), store.ErrConflict)
	wantErr(t, "identity for unknown contact", s.AddIdentity(ctx, 999, store.Identity{Kind: "chat", Value: "z"}), store.ErrNotFound)
	_, err := s.ResolveContact(ctx, store.Identity{Kind: "phone"}, "")
	wantErr(t, "empty identity", err, store.ErrInvalid)

	c.Name, c.Lang, c.Fields = "Алеся К.", "be", map[string]string{"city": "Мінск", "age": "7"}
	wantErr(t, "update", s.UpdateContact(ctx, c), nil)
	c.Identities = []store.Identity{phone, mail}
	diff(t, "after update", must[store.Contact](t, "get")(s.Contact(ctx, c.ID)), c)
	wantErr(t, "update unknown", s.UpdateContact(ctx, store.Contact{ID: 999}), store.ErrNotFound)
	_, err = s.Contact(ctx, 999)
	wantErr(t, "get unknown", err, store.ErrNotFound)

	t.Run("concurrent", func(t *testing.T) { resolveConcurrently(t, s) })
}

// resolveConcurrently resolves one new identity from many goroutines and
// wants one contact.
func resolveConcurrently(t *testing.T, s store.Store) {
	const n = 16
	id := store.Identity{Kind: "email", Value: "same@example.org"}
	ids := make([]int64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c, err := s.ResolveContact(t.Context(), id, fmt.Sprint("writer ", i))
			ids[i], errs[i] = c.ID, err
		})
	}
	wg.Wait()
	for i := range n {
		wantErr(t, fmt.Sprint("writer ", i), errs[i], nil)
		if ids[i] != ids[0] {
			t.Errorf("writer %d: got contact %d, want %d like writer 0", i, ids[i], ids[0])
		}
	}
}
