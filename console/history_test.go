package console

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
)

// historyItem stores a letter that got an auto-reply, went unanswered by
// one helper (RONA), was taken by another and whose reply was given up;
// one event is appended late with an earlier time, as an adapter's direct
// write can land after the router's.
func historyItem(t *testing.T, st store.Store, elf, other store.User) store.Item {
	t.Helper()
	ctx := context.Background()
	t0 := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	it, _, err := st.CreateItem(ctx, store.Item{Channel: acd.Email, ExternalID: "<wish@x>", Queue: "letters",
		State: acd.StateActive, HelperID: elf.ID, CreatedAt: t0},
		store.Event{Type: "received", At: at(0), Data: json.RawMessage(`{"from":"masha@x","auto_reply":"<ar@x>"}`)})
	if err != nil {
		t.Fatal(err)
	}
	events := []store.Event{
		{Type: "enqueued", At: at(1), Data: json.RawMessage(`{"queue":"letters","seq":1}`)},
		{Type: "offered", At: at(2), HelperID: other.ID, Data: json.RawMessage(`{"queue":"letters","seq":2}`)},
		{Type: "timed_out", At: at(32), HelperID: other.ID, Data: json.RawMessage(`{"queue":"letters","seq":3}`)},
		{Type: "offered", At: at(33), HelperID: elf.ID, Data: json.RawMessage(`{"queue":"letters","seq":4}`)},
		{Type: "send_failed", At: at(60), Data: json.RawMessage(`{"channel":"telegram","outbox_id":5,
			"attempts":1,"error":"Forbidden: bot was blocked by the user"}`)},
		{Type: "accepted", At: at(40), HelperID: elf.ID,
			Data: json.RawMessage(`{"queue":"letters","duration":39,"seq":5}`)},
		{Type: "callback_unanswered", At: at(70), Data: json.RawMessage(`{"helper_id":` + itoa64(elf.ID) +
			`,"attempt":1,"cause":"busy","retry_at":"2026-12-04T09:06:10Z"}`)},
		{Type: "odd", At: at(80), Data: json.RawMessage(`{"queue":5}`)}, // a payload of another shape
	}
	for _, e := range events {
		e.ItemID = it.ID
		if _, err := st.AppendEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	return it
}

func TestItemHistory(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	elf, err := AddUser(ctx, f.store, "elf", "Эльф", store.RoleHelper, "password-elf")
	if err != nil {
		t.Fatal(err)
	}
	other := f.user("other", store.RoleHelper)
	f.user("ded", store.RoleSupervisor)
	it := historyItem(t, f.store, elf, other)
	path := "/api/v1/items/" + itoa64(it.ID) + "/history"

	type entry struct {
		Type, Helper, Queue, Cause, Error string
		Seconds                           float64
		Attempt, Attempts                 int
		RetryAt                           *time.Time `json:"retry_at"`
	}
	res := f.do(f.browser("elf"), "GET", path, "", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("the holder's GET %s: status %d", path, res.StatusCode)
	}
	got := decode[struct {
		ItemID  int64   `json:"item_id"`
		History []entry `json:"history"`
	}](t, res)
	retry := time.Date(2026, 12, 4, 9, 6, 10, 0, time.UTC)
	want := []entry{
		{Type: "received"},
		{Type: "auto_reply"},
		{Type: "enqueued", Queue: "letters"},
		{Type: "offered", Helper: "other", Queue: "letters"},
		{Type: "timed_out", Helper: "other", Queue: "letters"},
		{Type: "offered", Helper: "Эльф", Queue: "letters"},
		{Type: "accepted", Helper: "Эльф", Queue: "letters", Seconds: 39},
		{Type: "send_failed", Error: "Forbidden: bot was blocked by the user", Attempts: 1},
		{Type: "callback_unanswered", Helper: "Эльф", Cause: "busy", Attempt: 1, RetryAt: &retry},
		{Type: "odd"},
	}
	if got.ItemID != it.ID {
		t.Errorf("item_id %d, want %d", got.ItemID, it.ID)
	}
	if diff := cmp.Diff(got.History, want); diff != "" {
		t.Errorf("history (-got +want):\n%s", diff)
	}

	item := decode[itemJSON](t, f.do(f.browser("elf"), "GET", "/api/v1/items/"+itoa64(it.ID), "", nil))
	if item.SendFailed != 1 {
		t.Errorf("GET /items/%d: send_failed %d, want 1", it.ID, item.SendFailed)
	}

	refusals := []struct {
		name   string
		client *http.Client
		path   string
		want   int
	}{
		{"another helper", f.browser("other"), path, http.StatusNotFound},
		{"no login", http.DefaultClient, path, http.StatusUnauthorized},
		{"the supervisor", f.browser("ded"), path, http.StatusOK},
		{"no such item", f.browser("ded"), "/api/v1/items/999/history", http.StatusNotFound},
		{"not an id", f.browser("ded"), "/api/v1/items/x/history", http.StatusBadRequest},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			if res := f.do(tt.client, "GET", tt.path, "", nil); res.StatusCode != tt.want {
				t.Errorf("GET %s: status %d, want %d", tt.path, res.StatusCode, tt.want)
			}
		})
	}
}

// TestFailedSendReachesTheHolder checks the live side: the snapshot marks
// the helper's item with a failed send, and NoteItemEvent reaches the
// helper holding the item and the supervisors, not other helpers.
func TestFailedSendReachesTheHolder(t *testing.T) {
	f := newDeskFixture(t)
	a := f.user("a", store.RoleHelper)
	b := f.user("b", store.RoleHelper)
	f.user("boss", store.RoleSupervisor)
	it := historyItem(t, f.store, a, b)

	ca, cb, cs := f.ws("a", nil), f.ws("b", nil), f.ws("boss", nil)
	snap := ca.readType(msgSnapshot)["snapshot"].(map[string]any)
	items := snap["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["send_failed"] != float64(1) {
		t.Errorf("snapshot items %v, want the item with send_failed 1", items)
	}
	cb.readType(msgSnapshot)
	cs.readType(msgSnapshot)

	f.desk(t).emit(acd.Event{Seq: 1, Type: acd.EventAccepted, ItemID: it.ID, HelperID: a.ID, Queue: "letters"})
	f.console.NoteItemEvent(it.ID, eventSendFailed)
	for name, c := range map[string]*wsClient{"holder": ca, "supervisor": cs} {
		m := c.readType(msgHistory)
		if diff := cmp.Diff(m["data"], map[string]any{"item_id": float64(it.ID), "type": "send_failed"}); diff != "" {
			t.Errorf("%s's history message (-got +want):\n%s", name, diff)
		}
	}
	if res := cb.request(map[string]any{"type": "end_wrapup"}); res["ok"] != true {
		t.Errorf("end_wrapup: %v", res)
	}
	for _, m := range cb.buf {
		if m["type"] == msgHistory {
			t.Errorf("helper b got %v", m)
		}
	}
}

// TestHolderFromTheRouter: a console that did not see the offer (it
// started later) finds the holder among the router's helpers.
func TestHolderFromTheRouter(t *testing.T) {
	f := newDeskFixture(t)
	a := f.user("a", store.RoleHelper)
	d := f.desk(t)
	d.mu.Lock()
	d.helpers[a.ID] = acd.HelperInfo{ID: a.ID, Status: acd.StatusAvailable, Active: []int64{41, 42}}
	d.mu.Unlock()
	if got := f.console.holder(42); got != a.ID {
		t.Errorf("holder of 42: %d, want %d", got, a.ID)
	}
	if got := f.console.holder(43); got != 0 {
		t.Errorf("holder of 43: %d, want none", got)
	}
}
