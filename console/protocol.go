package console

import (
	"encoding/json"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/stats"
)

// ProtocolVersion is the websocket protocol's version, the "v" of every
// message. protocol.md describes the messages.
const ProtocolVersion = 1

// The message types the server sends.
const (
	msgSnapshot = "snapshot" // on connect: the whole state the client may see
	msgEvent    = "event"    // one router event the client may see
	msgQueue    = "queue"    // counts of one of the client's queues
	msgBoard    = "board"    // supervisors: helpers, queues, live statistics
	msgResult   = "result"   // the answer to one client request
	msgRevoked  = "revoked"  // the account's rights changed; reconnect
)

// envelope is every server message.
type envelope struct {
	V    int    `json:"v"`
	Type string `json:"type"`
	// result
	ID    int64  `json:"id,omitempty"`
	OK    *bool  `json:"ok,omitempty"`
	Error string `json:"error,omitempty"`
	Data  any    `json:"data,omitempty"`
	// event, queue, board, snapshot
	Event    *eventMsg    `json:"event,omitempty"`
	Queue    *queueMsg    `json:"queue,omitempty"`
	Snapshot *snapshotMsg `json:"snapshot,omitempty"`
	Board    *boardMsg    `json:"board,omitempty"`
}

func encode(e envelope) []byte {
	e.V = ProtocolVersion
	b, err := json.Marshal(e)
	if err != nil {
		panic("console: encode " + e.Type + ": " + err.Error()) // only our own types are encoded
	}
	return b
}

// eventMsg is an acd.Event as the console sends it.
type eventMsg struct {
	Seq      uint64      `json:"seq"`
	Type     string      `json:"type"`
	At       time.Time   `json:"at"`
	ItemID   int64       `json:"item_id,omitempty"`
	HelperID int64       `json:"helper_id,omitempty"`
	Queue    string      `json:"queue,omitempty"`
	Channel  acd.Channel `json:"channel,omitempty"`
	State    acd.State   `json:"state,omitempty"`
	Created  *time.Time  `json:"created,omitempty"`
	Deadline *time.Time  `json:"deadline,omitempty"`
	Reason   string      `json:"reason,omitempty"`
	Outcome  acd.Outcome `json:"outcome,omitempty"`
}

func toEventMsg(e acd.Event) *eventMsg {
	return &eventMsg{Seq: e.Seq, Type: string(e.Type), At: e.At.UTC(), ItemID: e.ItemID, HelperID: e.HelperID,
		Queue: e.Queue, Channel: e.Channel, State: e.State, Created: timeOrNil(e.Created),
		Deadline: timeOrNil(e.Deadline), Reason: e.Reason, Outcome: e.Outcome}
}

// queueMsg is one queue's present counts.
type queueMsg struct {
	Name     string     `json:"name"`
	Open     bool       `json:"open"`
	Waiting  int        `json:"waiting"`
	Oldest   *time.Time `json:"oldest"`
	LoggedIn int        `json:"logged_in"`
	Free     int        `json:"free"`
	// ServiceLevel is the share of today's answers in time (20 s for
	// calls, 1 h for the rest), on the wallboard only; null before the
	// first answer. It counts what this console saw since it started.
	ServiceLevel *float64 `json:"service_level,omitempty"`
}

func toQueueMsg(q acd.QueueInfo) queueMsg {
	return queueMsg{Name: q.Name, Open: q.Open, Waiting: q.Waiting, Oldest: timeOrNil(q.Oldest),
		LoggedIn: q.LoggedIn, Free: q.Free}
}

// statusMsg is a helper's presence and load.
type statusMsg struct {
	HelperID int64      `json:"helper_id"`
	Login    string     `json:"login,omitempty"`
	Name     string     `json:"name,omitempty"`
	Status   acd.Status `json:"status"`
	Reason   string     `json:"reason,omitempty"`
	Busy     bool       `json:"busy"`
	WrapUp   bool       `json:"wrapup"`
	Offer    int64      `json:"offer,omitempty"`
	Active   []int64    `json:"active"`
	Since    *time.Time `json:"since"` // when the status was last set, if this node saw it
	Answered int        `json:"answered"`
	Missed   int        `json:"missed"`
}

// offerMsg is a pending offer with its item.
type offerMsg struct {
	Item     itemJSON   `json:"item"`
	Deadline *time.Time `json:"deadline"`
}

// meMsg is who the client is.
type meMsg struct {
	UserID int64  `json:"user_id"`
	Login  string `json:"login"`
	Name   string `json:"name"`
	Role   string `json:"role"`
	Lang   string `json:"lang"`
}

// snapshotMsg is everything the client may see, sent on connect.
type snapshotMsg struct {
	Me     meMsg      `json:"me"`
	Status *statusMsg `json:"status"`
	Offer  *offerMsg  `json:"offer"`
	Items  []itemJSON `json:"items"`
	Queues []queueMsg `json:"queues"`
	Board  *boardMsg  `json:"board,omitempty"` // supervisors only
}

// boardMsg is the supervisors' wallboard.
type boardMsg struct {
	Helpers []statusMsg `json:"helpers"`
	Queues  []queueMsg  `json:"queues"`
	Live    stats.Live  `json:"live"`
}

// request is every client message. Fields that do not apply are left out.
type request struct {
	V          int         `json:"v"`
	Type       string      `json:"type"`
	ID         int64       `json:"id"` // echoed in the result
	ItemID     int64       `json:"item_id"`
	HelperID   int64       `json:"helper_id"`
	Status     acd.Status  `json:"status"`
	Reason     string      `json:"reason"`
	Outcome    acd.Outcome `json:"outcome"`
	Note       string      `json:"note"`
	Subject    string      `json:"subject"`
	Text       string      `json:"text"`
	TemplateID int64       `json:"template_id"`
	Queue      string      `json:"queue"`
	// Softphone is the body of a softphone request (softphone.go).
	Softphone json.RawMessage `json:"softphone,omitempty"`
	// Monitor is the body of a supervisor's monitor request (softphone.go).
	Monitor json.RawMessage `json:"monitor,omitempty"`
}
