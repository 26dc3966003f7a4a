package node

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/morozhq/moroz/logging"
	"github.com/morozhq/moroz/store"
)

// TestPruneSent marks letters sent two days ago, yesterday's cut, and now
// on a SQLite store, and checks that pruning takes the old sent ones in
// batches and keeps the recent, the failed and the pending.
func TestPruneSent(t *testing.T) {
	ctx := context.Background()
	var clock atomic.Int64
	now := time.Now()
	clock.Store(now.Add(-48 * time.Hour).UnixMicro())
	st, err := store.Open(ctx, store.Config{DataDir: t.TempDir(),
		Now: func() time.Time { return time.UnixMicro(clock.Load()) }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out []store.OutLetter
	for i := range 8 {
		out = append(out, store.OutLetter{MessageID: fmt.Sprintf("l%d@moroz.test", i), To: []string{"kid@x"},
			Raw: []byte("L\r\n")})
	}
	filed, err := st.FileLetter(ctx, nil, out)
	if err != nil {
		t.Fatal(err)
	}
	mark := func(l store.OutLetter, state string) {
		t.Helper()
		l.State, l.Attempts = state, 1
		if err := st.MarkOut(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range filed.Out[:5] {
		mark(l, store.OutSent) // two days ago
	}
	mark(filed.Out[5], store.OutFailed)
	clock.Store(now.UnixMicro())
	mark(filed.Out[6], store.OutSent) // just now; filed.Out[7] stays pending

	if n := pruneSent(ctx, st, now.Add(-24*time.Hour), 2, logging.Discard()); n != 5 {
		t.Errorf("pruned: got %d rows, want the 5 sent two days ago", n)
	}
	for i, l := range filed.Out {
		_, err := st.OutLetter(ctx, l.ID)
		if gone := err != nil; gone != (i < 5) {
			t.Errorf("letter %d after pruning: got error %v, want it gone only if sent two days ago", i, err)
		}
	}
	if n := pruneSent(ctx, st, now.Add(-24*time.Hour), 2, logging.Discard()); n != 0 {
		t.Errorf("pruned again: got %d rows, want none", n)
	}
}
