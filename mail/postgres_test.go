package mail

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/morozhq/moroz/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestIntakePostgres runs the intake's main paths on the PostgreSQL
// store: a letter with its auto-reply, the same letter again, a reply
// threading, and the auto-reply window.
func TestIntakePostgres(t *testing.T) {
	r := newRigDB(t, nil, nil, pgtest.URL(t))
	r.mustSend("masha@example.ru", "plain-utf8.eml")
	r.mustSend("masha@example.ru", "plain-utf8.eml")
	r.mustSend("masha@example.ru", "reply.eml")
	r.mustSend("masha@example.ru", "second-letter.eml")

	its := r.items()
	if len(its) != 2 {
		t.Fatalf("items = %d, want 2 (the letter with its reply, and the second letter)", len(its))
	}
	if diff := cmp.Diff([]string{"in", "out", "in"}, directions(r.messages(its[0].ID))); diff != "" {
		t.Errorf("first thread (-want +got):\n%s", diff)
	}
	if got := r.out.Pending(); got != 1 {
		t.Errorf("auto-replies queued = %d, want 1 in the window", got)
	}
}
