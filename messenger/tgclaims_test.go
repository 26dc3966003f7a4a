package messenger

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/time/rate"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/logging"
	"github.com/morozhq/moroz/messenger/botapi"
	"github.com/morozhq/moroz/messenger/telegramtest"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/store/pgtest"
)

// nodeSender runs the Telegram sender of one node on st, talking to the
// fake Bot API at api, until the test ends.
func nodeSender(t *testing.T, st store.Store, api string) *telegram {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	m := &Messenger{log: logging.Discard(), cfg: Config{}.WithDefaults(), ctx: ctx, cancel: cancel, now: time.Now, st: st}
	tg := &telegram{m: m, shards: newShards(), marks: st,
		claims:  newClaims(st, OutboxOptions{Lease: 3 * time.Second, Poll: 20 * time.Millisecond}),
		api:     botapi.New(api, botToken, http.DefaultClient),
		overall: rate.NewLimiter(30, 30), perChat: map[int64]*rate.Limiter{}}
	m.goOwned(tg.runOutbox)
	t.Cleanup(func() { cancel(); m.wg.Wait() })
	return tg
}

func openPG(t *testing.T, url string) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{DB: url})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// queueReplies stores n replies to each chat, the chats interleaved, and
// returns what each chat must get, in order.
func queueReplies(t *testing.T, st store.Store, chats []int64, n int, key string) map[int64][]string {
	t.Helper()
	want := map[int64][]string{}
	var rows []store.OutLetter
	for k := range n {
		for _, c := range chats {
			text := fmt.Sprintf("%s reply %d to %d", key, k, c)
			r, err := outRows(0, c, fmt.Sprintf("%s:%d:%d", key, c, k), []string{text})
			if err != nil {
				t.Fatal(err)
			}
			rows = append(rows, r...)
			want[c] = append(want[c], text)
		}
	}
	if _, err := st.FileLetter(context.Background(), nil, rows); err != nil {
		t.Fatal(err)
	}
	return want
}

// byChat is what fake sent, per chat in order.
func byChat(fake *telegramtest.Server) map[int64][]string {
	got := map[int64][]string{}
	for _, s := range fake.Sent() {
		got[s.ChatID] = append(got[s.ChatID], s.Text)
	}
	return got
}

func waitNoneTelegramPending(t *testing.T, st store.Store) {
	t.Helper()
	for deadline := time.Now().Add(waitLimit); ; time.Sleep(10 * time.Millisecond) {
		ls, err := st.PendingOut(context.Background(), acd.Telegram, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(ls) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d telegram replies still pending", len(ls))
		}
	}
}

// TestTelegramSendersOfTwoNodesKeepEachChatsOrder runs the Telegram
// senders of two nodes on one PostgreSQL database: replies queued before
// they start and while they run, some refused at first, each reach the
// fake Bot API once, and each chat's in the order queued.
func TestTelegramSendersOfTwoNodesKeepEachChatsOrder(t *testing.T) {
	url := pgtest.URL(t)
	stA, stB := openPG(t, url), openPG(t, url)
	fake := telegramtest.New(botToken)
	fake.Refuse(4, http.StatusBadGateway)
	api := httptest.NewServer(fake)
	t.Cleanup(api.Close)
	chats := []int64{1, 2, 3, 4, 5, 6}
	want := queueReplies(t, stA, chats, 2, "before")

	a, _ := nodeSender(t, stA, api.URL), nodeSender(t, stB, api.URL)
	more := queueReplies(t, stA, chats, 1, "during")
	a.queue(nil) // as FileLetter's caller does: wakes a's claim loop
	for c, texts := range more {
		want[c] = append(want[c], texts...)
	}
	waitSent(t, fake, 3*len(chats))
	waitNoneTelegramPending(t, stA)
	if d := cmp.Diff(byChat(fake), want); d != "" {
		t.Errorf("sent per chat (-got +want), each once in order:\n%s", d)
	}
}

// TestTelegramChatsOfDeadNodeAreTakenOver leaves the oldest replies of two
// chats claimed by a node that is gone (its lease never renewed, as a
// killed node leaves it): a live node sends nothing of those chats while
// the lease holds, then every reply once, each chat in order.
func TestTelegramChatsOfDeadNodeAreTakenOver(t *testing.T) {
	url := pgtest.URL(t)
	st := openPG(t, url)
	fake := telegramtest.New(botToken)
	api := httptest.NewServer(fake)
	t.Cleanup(api.Close)
	want := queueReplies(t, st, []int64{5, 6}, 2, "held")
	held, err := openPG(t, url).ClaimOut(context.Background(), store.OutClaim{Channel: acd.Telegram,
		Claimant: "dead-node", Lease: 3 * time.Second, InOrder: true})
	if err != nil || len(held) != 2 {
		t.Fatalf("the dead node's claim: got %d rows (error %v), want the heads of both chats", len(held), err)
	}

	nodeSender(t, st, api.URL)
	time.Sleep(300 * time.Millisecond) // fifteen polls of the live node, all within the dead node's lease
	if sent := fake.Sent(); len(sent) != 0 {
		t.Fatalf("sent while the dead node's lease held: %+v, want nothing", sent)
	}
	waitSent(t, fake, 4)
	waitNoneTelegramPending(t, st)
	if d := cmp.Diff(byChat(fake), want); d != "" {
		t.Errorf("sent per chat after the lease ran out (-got +want):\n%s", d)
	}
}
