package storetest

import (
	"errors"
	"testing"

	"github.com/morozhq/moroz/store"
)

func testAudit(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	first := must[store.AuditEntry](t, "append first")(s.AppendAudit(ctx, store.AuditEntry{At: at(1), Login: "ded",
		Action: "force_status", Detail: "elf: away"}))
	second := must[store.AuditEntry](t, "append second")(s.AppendAudit(ctx, store.AuditEntry{Login: "ded",
		Action: "recall", Detail: "item 7"}))
	if first.ID == 0 || second.ID <= first.ID || !first.At.Equal(stored(at(1))) || second.At.IsZero() {
		t.Errorf("appended: %+v, %+v", first, second)
	}
	if _, err := s.AppendAudit(ctx, store.AuditEntry{Action: "recall"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("append without login: %v, want ErrInvalid", err)
	}
	got := must[[]store.AuditEntry](t, "list")(s.ListAudit(ctx, 0))
	diff(t, "newest first", got, []store.AuditEntry{second, first})
	got = must[[]store.AuditEntry](t, "list one")(s.ListAudit(ctx, 1))
	diff(t, "limit", got, []store.AuditEntry{second})
}
