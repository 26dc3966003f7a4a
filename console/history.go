package console

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/console/hub"
	"github.com/morozhq/moroz/store"
)

// An item's history as the console shows it: GET /api/v1/items/{id}/history
// lists its stored events in time order with the fields a person reads
// (who, which queue, why, what came of it), and a "history" message tells
// the consoles that see an item when its history gains an event outside
// the router (protocol.md, "Item history").

// eventSendFailed is the event noted on an item when one of its replies
// is given up: by package messenger (messenger.EventSendFailed), or by the
// node for a letter its mail outbox gave up; the console does not import
// the channels.
const eventSendFailed = "send_failed"

// entryAutoReply is the history entry of an auto-reply sent with the
// letter that opened the item: the mail intake records it in the
// received event's data, not as an event of its own.
const entryAutoReply = "auto_reply"

// msgHistory tells a client that an item it sees gained a history event
// outside the router; the client reads the item again.
const msgHistory = "history"

// historyMsg is the data of a history message.
type historyMsg struct {
	ItemID int64  `json:"item_id"`
	Type   string `json:"type"` // the event's type, e.g. send_failed
}

// historyEntry is one line of an item's history. Fields that do not apply
// to its type are left out.
type historyEntry struct {
	ID        int64       `json:"id"` // the stored event's; an auto_reply entry has its received event's
	At        time.Time   `json:"at"`
	Type      string      `json:"type"` // a router event, received, send_failed, auto_reply... (protocol.md)
	HelperID  int64       `json:"helper_id,omitempty"`
	Helper    string      `json:"helper,omitempty"` // the helper's name, or login when they have none
	Queue     string      `json:"queue,omitempty"`
	FromQueue string      `json:"from_queue,omitempty"`
	Reason    string      `json:"reason,omitempty"`
	Outcome   acd.Outcome `json:"outcome,omitempty"`
	Note      string      `json:"note,omitempty"`
	Seconds   float64     `json:"seconds,omitempty"` // the wait (accepted), handle time (completed), hold (unheld)
	Attempt   int         `json:"attempt,omitempty"` // callback_unanswered: which attempt
	Attempts  int         `json:"attempts,omitempty"`
	Cause     string      `json:"cause,omitempty"` // callback_unanswered: busy, declined, no-answer or failed
	RetryAt   *time.Time  `json:"retry_at,omitempty"`
	Error     string      `json:"error,omitempty"` // send_failed: why the reply was given up
	Number    string      `json:"number,omitempty"`
}

// eventFields are the fields of the events' stored data that the history
// shows; the writers are work (router events), voice, mail and messenger.
type eventFields struct {
	Queue     string      `json:"queue"`
	FromQueue string      `json:"from_queue"`
	Reason    string      `json:"reason"`
	Outcome   acd.Outcome `json:"outcome"`
	Note      string      `json:"note"`
	Duration  float64     `json:"duration"`
	Hold      float64     `json:"hold"`
	HelperID  int64       `json:"helper_id"`
	Attempt   int         `json:"attempt"`
	Attempts  int         `json:"attempts"`
	Cause     string      `json:"cause"`
	RetryAt   *time.Time  `json:"retry_at"`
	Error     string      `json:"error"`
	Number    string      `json:"number"`
	AutoReply string      `json:"auto_reply"` // received: the auto-reply's Message-ID
}

// itemHistory serves GET /api/v1/items/{id}/history to whoever may see
// the item (maySee): {"item_id", "history": [entry]}, oldest first.
func (s *Server) itemHistory(w http.ResponseWriter, r *http.Request, p Principal) {
	it, ok := s.visibleItem(w, r, p)
	if !ok {
		return
	}
	id := it.ID
	events, err := s.opt.Store.Events(r.Context(), id)
	if err != nil {
		s.storeError(w, "read events", err)
		return
	}
	entries := historyOf(events)
	s.nameHelpers(r.Context(), entries)
	writeJSON(w, http.StatusOK, map[string]any{"item_id": id, "history": entries})
}

// historyOf turns stored events into history entries in time order; events
// of the same time keep the order they were stored in.
func historyOf(events []store.Event) []historyEntry {
	out := make([]historyEntry, 0, len(events))
	for _, e := range events {
		var f eventFields
		if len(e.Data) > 0 && json.Unmarshal(e.Data, &f) != nil {
			f = eventFields{} // a malformed payload still shows its event
		}
		en := historyEntry{ID: e.ID, At: e.At.UTC(), Type: e.Type, HelperID: e.HelperID, Queue: f.Queue,
			FromQueue: f.FromQueue, Reason: f.Reason, Outcome: f.Outcome, Note: f.Note, Attempt: f.Attempt,
			Attempts: f.Attempts, Cause: f.Cause, RetryAt: timePtrUTC(f.RetryAt), Error: f.Error, Number: f.Number,
			Seconds: f.Duration}
		if en.HelperID == 0 {
			en.HelperID = f.HelperID
		}
		if e.Type == string(acd.EventUnheld) {
			en.Seconds = f.Hold
		}
		out = append(out, en)
		if e.Type == "received" && f.AutoReply != "" {
			out = append(out, historyEntry{ID: e.ID, At: e.At.UTC(), Type: entryAutoReply})
		}
	}
	slices.SortStableFunc(out, func(a, b historyEntry) int { return a.At.Compare(b.At) })
	return out
}

// nameHelpers fills in the names of the helpers the entries name. A user
// who cannot be read keeps their id only.
func (s *Server) nameHelpers(ctx context.Context, entries []historyEntry) {
	names := map[int64]string{}
	for i, en := range entries {
		if en.HelperID == 0 {
			continue
		}
		name, ok := names[en.HelperID]
		if !ok {
			if u, err := s.opt.Store.User(ctx, en.HelperID); err == nil {
				name = u.Name
				if name == "" {
					name = u.Login
				}
			}
			names[en.HelperID] = name
		}
		entries[i].Helper = name
	}
}

// countFailedSends counts the replies of an item given up, from its
// history.
func countFailedSends(events []store.Event) int {
	n := 0
	for _, e := range events {
		if e.Type == eventSendFailed {
			n++
		}
	}
	return n
}

// withFailedSends reads the history of each item and marks the items with
// replies given up (itemJSON.SendFailed).
func (s *Server) withFailedSends(ctx context.Context, items []itemJSON) error {
	for i := range items {
		events, err := s.opt.Store.Events(ctx, items[i].ID)
		if err != nil {
			return err
		}
		items[i].SendFailed = countFailedSends(events)
	}
	return nil
}

// NoteItemEvent tells the consoles that see an item (the helper it is
// offered to or held by, and the supervisors) that its history gained an
// event of type typ outside the router, such as a reply given up; they
// read the item again. It does not block and is safe for concurrent use
// (package messenger's OnSendFailed calls it).
func (s *Server) NoteItemEvent(itemID int64, typ string) {
	a := hub.Audience{Supervisors: true}
	if h := s.holder(itemID); h != 0 {
		a.Users = []int64{h}
	}
	s.hub.Publish(a, encode(envelope{Type: msgHistory, Data: historyMsg{ItemID: itemID, Type: typ}}))
}

// holder returns the helper an item is offered to or held by, 0 when none:
// from the events this console saw, else from the router's helpers.
func (s *Server) holder(itemID int64) int64 {
	if h := s.track.ownerOf(itemID); h != 0 {
		return h
	}
	if s.opt.Desk == nil {
		return 0
	}
	for _, h := range s.opt.Desk.Helpers() {
		if h.Offer == itemID || slices.Contains(h.Active, itemID) {
			return h.ID
		}
	}
	return 0
}

func timePtrUTC(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	return timeOrNil(*t)
}
