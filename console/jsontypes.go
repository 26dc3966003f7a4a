package console

import (
	"encoding/json"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
)

// The API's JSON shapes. Field names are snake_case and stable; times are
// RFC 3339 in UTC, and a time that has not happened is null.

type itemJSON struct {
	ID         int64           `json:"id"`
	Channel    acd.Channel     `json:"channel"`
	ExternalID string          `json:"external_id,omitempty"`
	Queue      string          `json:"queue"`
	State      acd.State       `json:"state"`
	Priority   int             `json:"priority"`
	Skills     []string        `json:"skills"`
	Subject    string          `json:"subject"`
	ContactID  int64           `json:"contact_id,omitempty"`
	HelperID   int64           `json:"helper_id,omitempty"`
	Outcome    acd.Outcome     `json:"outcome,omitempty"`
	ParentID   int64           `json:"parent_id,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	SLADue     *time.Time      `json:"sla_due"`
	UpdatedAt  time.Time       `json:"updated_at"`
	ClosedAt   *time.Time      `json:"closed_at"`
	// SendFailed is how many of its replies were given up (history.go);
	// GET /items/{id} and the websocket snapshot fill it in, lists do not.
	SendFailed int `json:"send_failed,omitempty"`
}

func toItemJSON(it store.Item) itemJSON {
	return itemJSON{
		ID: it.ID, Channel: it.Channel, ExternalID: it.ExternalID, Queue: it.Queue, State: it.State,
		Priority: it.Priority, Skills: nonNil(it.Skills), Subject: it.Subject, ContactID: it.ContactID,
		HelperID: it.HelperID, Outcome: it.Outcome, ParentID: it.ParentID, Data: rawOrNil(it.Data),
		CreatedAt: it.CreatedAt.UTC(), SLADue: timeOrNil(it.SLADue), UpdatedAt: it.UpdatedAt.UTC(),
		ClosedAt: timeOrNil(it.ClosedAt),
	}
}

type eventJSON struct {
	ID       int64           `json:"id"`
	At       time.Time       `json:"at"`
	Type     string          `json:"type"`
	HelperID int64           `json:"helper_id,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
}

func toEventJSON(e store.Event) eventJSON {
	return eventJSON{ID: e.ID, At: e.At.UTC(), Type: e.Type, HelperID: e.HelperID, Data: rawOrNil(e.Data)}
}

type messageJSON struct {
	ID         int64     `json:"id"`
	Direction  string    `json:"direction"`
	ExternalID string    `json:"external_id,omitempty"`
	From       string    `json:"from"`
	To         string    `json:"to"`
	Subject    string    `json:"subject,omitempty"`
	Text       string    `json:"text"`
	HTML       string    `json:"html,omitempty"` // sanitised at intake
	HelperID   int64     `json:"helper_id,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

func toMessageJSON(m store.Message) messageJSON {
	return messageJSON{ID: m.ID, Direction: m.Direction, ExternalID: m.ExternalID, From: m.From, To: m.To,
		Subject: m.Subject, Text: m.Text, HTML: m.HTML, HelperID: m.HelperID, CreatedAt: m.CreatedAt.UTC()}
}

type callJSON struct {
	ID          int64       `json:"id"`
	CallID      string      `json:"call_id"`
	ItemID      int64       `json:"item_id,omitempty"`
	Direction   string      `json:"direction"`
	From        string      `json:"from"`
	To          string      `json:"to"`
	Queue       string      `json:"queue,omitempty"`
	HelperID    int64       `json:"helper_id,omitempty"`
	Outcome     acd.Outcome `json:"outcome,omitempty"`
	Reason      string      `json:"reason,omitempty"`
	ArrivedAt   time.Time   `json:"arrived_at"`
	AnsweredAt  *time.Time  `json:"answered_at"`
	EnqueuedAt  *time.Time  `json:"enqueued_at"`
	ConnectedAt *time.Time  `json:"connected_at"`
	EndedAt     *time.Time  `json:"ended_at"`
	WaitSeconds float64     `json:"wait_seconds"`
	TalkSeconds float64     `json:"talk_seconds"`
}

func toCallJSON(c store.Call) callJSON {
	out := callJSON{ID: c.ID, CallID: c.CallID, ItemID: c.ItemID, Direction: c.Direction, From: c.From, To: c.To,
		Queue: c.Queue, HelperID: c.HelperID, Outcome: c.Outcome, Reason: c.Reason, ArrivedAt: c.ArrivedAt.UTC(),
		AnsweredAt: timeOrNil(c.AnsweredAt), EnqueuedAt: timeOrNil(c.EnqueuedAt),
		ConnectedAt: timeOrNil(c.ConnectedAt), EndedAt: timeOrNil(c.EndedAt)}
	if !c.EnqueuedAt.IsZero() {
		end := c.ConnectedAt
		if end.IsZero() {
			end = c.EndedAt
		}
		if !end.IsZero() {
			out.WaitSeconds = end.Sub(c.EnqueuedAt).Seconds()
		}
	}
	if !c.ConnectedAt.IsZero() && !c.EndedAt.IsZero() {
		out.TalkSeconds = c.EndedAt.Sub(c.ConnectedAt).Seconds()
	}
	return out
}

type helperJSON struct {
	UserID    int64               `json:"user_id"`
	Login     string              `json:"login"`
	Name      string              `json:"name"`
	Queues    []string            `json:"queues"`
	Skills    map[string]int      `json:"skills,omitempty"`
	Capacity  map[acd.Channel]int `json:"capacity,omitempty"`
	Extension string              `json:"extension,omitempty"`
}

type userOut struct {
	ID        int64      `json:"id"`
	Login     string     `json:"login"`
	Name      string     `json:"name"`
	Role      store.Role `json:"role"`
	Lang      string     `json:"lang"`
	Disabled  bool       `json:"disabled"`
	CreatedAt time.Time  `json:"created_at"`
}

func userJSON(u store.User) userOut {
	return userOut{ID: u.ID, Login: u.Login, Name: u.Name, Role: u.Role, Lang: u.Lang, Disabled: u.Disabled,
		CreatedAt: u.CreatedAt.UTC()}
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
