package store

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/morozhq/moroz/acd"
)

// Sentinel errors callers branch on. Backends wrap them with the operation
// and subject; test with errors.Is.
var (
	// ErrNotFound means no row matched.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a unique key (login, token name, identity) is taken.
	ErrConflict = errors.New("already exists")
	// ErrClosed means the store was closed.
	ErrClosed = errors.New("store closed")
	// ErrInvalid means the input cannot be stored as it is (an unknown
	// channel or state, malformed JSON, a missing required field).
	ErrInvalid = errors.New("invalid input")
	// ErrNotMigrated means the database schema is older than this binary:
	// run the migrations (moroz migrate, or Open without SkipMigrations).
	ErrNotMigrated = errors.New("schema not migrated")
)

// Role is what a user may do. Roles are ordered: an admin may do all a
// supervisor may, a supervisor all a helper may.
type Role string

// The roles.
const (
	RoleHelper     Role = "helper"
	RoleSupervisor Role = "supervisor"
	RoleAdmin      Role = "admin"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	return r == RoleHelper || r == RoleSupervisor || r == RoleAdmin
}

// AtLeast reports whether r grants everything min grants.
func (r Role) AtLeast(min Role) bool { return r.rank() >= min.rank() }

func (r Role) rank() int {
	switch r {
	case RoleHelper:
		return 1
	case RoleSupervisor:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// User is a person who logs in to the console. Every user can also work as a
// helper; Helper holds their routing profile.
type User struct {
	ID           int64
	Login        string
	Name         string
	Role         Role
	PasswordHash string // argon2id or bcrypt, in its encoded form
	Lang         string // console language: "ru" (default), "be", "en"
	Disabled     bool
	CreatedAt    time.Time
}

// Token is an API token for scripts. Only the SHA-256 of the secret is kept.
type Token struct {
	ID        int64
	Name      string
	Role      Role
	Hash      []byte // SHA-256 of the secret
	CreatedAt time.Time
}

// Session is a console login. Only the SHA-256 of the cookie value is kept.
type Session struct {
	Hash      []byte
	UserID    int64
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Helper is a user's routing profile: what they can take and how much at
// once, and their desk phone. PutHelper replaces every field, SIPHA1
// included, so a caller changing one field reads the profile first.
type Helper struct {
	UserID   int64
	Queues   []string
	Skills   map[string]int      // skill name to level, 1 (low) to 10
	Capacity map[acd.Channel]int // items at once per channel; missing means the default
	// Extension is the desk phone's extension, unique among helpers
	// (ErrConflict), empty if none; a full SIP URI names a phone that
	// does not register with Moroz.
	Extension string
	// SIPHA1 is the digest secret the desk phone registers with: the
	// lower-case hex MD5 of "extension:realm:password" (sip.HA1); empty
	// means the extension may not register.
	SIPHA1 string
}

// Identity is one way to reach a contact.
type Identity struct {
	Kind  string // "phone", "email", "telegram", "chat"
	Value string // normalised: E.164-ish digits, lower-case address, numeric id
}

// Contact is the person writing or calling: one card across channels.
type Contact struct {
	ID         int64
	Name       string
	Lang       string
	Fields     map[string]string // city, age, ... as collected
	Identities []Identity
	CreatedAt  time.Time
}

// Item is one work item, whatever its channel.
type Item struct {
	ID         int64
	Channel    acd.Channel
	ExternalID string // Call-ID, Message-ID, update id, idempotency key
	Queue      string
	State      acd.State
	Priority   int
	Skills     []string
	Subject    string
	ContactID  int64 // 0 when unknown
	HelperID   int64 // the user it is offered or assigned to, 0 when none
	Outcome    acd.Outcome
	ParentID   int64           // the item this one follows (a callback's call), 0 when none
	Data       json.RawMessage // channel-specific fields, a JSON object or nil
	CreatedAt  time.Time       // never changes
	SLADue     time.Time       // zero when the queue has no target
	UpdatedAt  time.Time
	ClosedAt   time.Time // zero while open
}

// Event is one entry of an item's append-only history.
type Event struct {
	ID       int64
	ItemID   int64
	At       time.Time
	Type     string // enqueued, offered, accepted, ... (acd event names)
	HelperID int64
	Data     json.RawMessage // a JSON object or nil
}

// ItemFilter selects items for ListItems. Zero fields match everything.
type ItemFilter struct {
	Channel   acd.Channel
	State     acd.State
	Queue     string
	HelperID  int64
	ContactID int64
	Open      bool  // only items not closed
	AfterID   int64 // keyset pagination: items with ID > AfterID
	Limit     int   // 0 means 100; at most 1000
}

// ItemUpdate changes an item's mutable fields and appends Event to its
// history in the same commit. Nil fields are left as they are.
type ItemUpdate struct {
	Queue    *string
	State    *acd.State
	Priority *int
	HelperID *int64
	Outcome  *acd.Outcome
	Subject  *string
	Data     json.RawMessage // replaces Data when not nil
	Event    Event           // appended; ItemID is filled in
}

// Message is one letter, chat line or messenger message inside an item.
type Message struct {
	ID         int64
	ItemID     int64
	Direction  string // "in" or "out"
	ExternalID string // Message-ID, Telegram message id; unique per channel when set
	From       string
	To         string
	Subject    string
	Text       string
	HTML       string
	Headers    json.RawMessage
	HelperID   int64 // who wrote an outbound message
	TemplateID int64 // the template it was written from, 0 when none
	CreatedAt  time.Time
}

// Call is the record of one phone call, inbound or outbound.
type Call struct {
	ID          int64
	CallID      string // SIP Call-ID or the ARI channel id
	ItemID      int64
	Direction   string // "in" or "out"
	From        string
	To          string
	Queue       string
	HelperID    int64
	Outcome     acd.Outcome
	Reason      string // why a missed call was missed: abandoned, after-hours, no-helpers, max-wait, voicemail
	ArrivedAt   time.Time
	AnsweredAt  time.Time // the system answered (200 OK)
	EnqueuedAt  time.Time
	ConnectedAt time.Time // a helper was bridged
	EndedAt     time.Time
}

// CallFilter selects calls for ListCalls. Zero fields match everything.
type CallFilter struct {
	Since  time.Time
	Missed bool // only calls that never reached a helper
	Limit  int  // 0 means 100; at most 1000
}

// Voicemail is a recorded message. The audio is a WAV file under the data
// folder; Path is relative to it.
type Voicemail struct {
	ID        int64
	ItemID    int64
	CallID    string
	From      string
	Path      string
	Duration  time.Duration
	CreatedAt time.Time
}

// Template is a reply with variables, per language.
type Template struct {
	ID        int64
	Name      string
	Lang      string
	Queue     string // empty for every queue
	Subject   string
	Body      string
	Uses      int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Mailing is a personalised message sent to an audience.
type Mailing struct {
	ID          int64
	Name        string
	TemplateID  int64
	Audience    json.RawMessage // the audience definition
	State       string          // draft, running, paused, done
	RatePerMin  int
	ScheduledAt time.Time
	CreatedAt   time.Time
	Total       int64
	Sent        int64
}

// Recipient is one contact of a mailing. The pair (mailing, contact) is
// unique: a contact gets exactly one message, even across a crash.
type Recipient struct {
	MailingID int64
	ContactID int64
	State     string // pending, sent, failed, unsubscribed
	SentAt    time.Time
	Error     string
}

// AuditEntry is one supervisor or admin action: who did what, when.
type AuditEntry struct {
	ID     int64
	At     time.Time
	Login  string
	Action string // force_status, recall, transfer, user_created, ...
	Detail string
}
