package store

import (
	"context"
	"time"

	"github.com/morozhq/moroz/acd"
)

// Store is everything Moroz persists. Both backends implement all of it and
// pass the same conformance suite (storetest). Every method is safe for
// concurrent use; a nil error from a write means it is durably committed.
//
// Errors wrap ErrNotFound (no such row, or a referenced id that does not
// exist), ErrConflict (a unique key is taken), ErrInvalid (input the store
// refuses) or ErrClosed; test them with errors.Is. Times come back in UTC at
// microsecond precision, a zero time as zero. JSON fields come back byte
// for byte; an empty one comes back nil. Create methods fill ID and a zero
// CreatedAt.
type Store interface {
	// Ping checks that the store answers. It fails while the database is
	// unreachable and succeeds again once it is back. /readyz uses Ready,
	// which also checks the schema.
	Ping(ctx context.Context) error
	// Close finishes writes in flight and releases the store. It is
	// idempotent.
	Close() error

	Users
	Helpers
	Contacts
	Items
	Calls
	Voicemails
	Templates
	Mailings
	Outbound
	AutoReplies
	IMAPMarks
	Audit
}

// Audit keeps what supervisors and admins did.
type Audit interface {
	// AppendAudit records one action; Login and Action are required, a
	// zero At means now.
	AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error)
	// ListAudit returns up to n entries (0 means 100, at most 1000),
	// newest first.
	ListAudit(ctx context.Context, n int) ([]AuditEntry, error)
}

// Users holds accounts, API tokens and console sessions.
type Users interface {
	// CreateUser stores u and returns it with ID and CreatedAt set. A taken
	// login is ErrConflict.
	CreateUser(ctx context.Context, u User) (User, error)
	User(ctx context.Context, id int64) (User, error)
	UserByLogin(ctx context.Context, login string) (User, error)
	ListUsers(ctx context.Context) ([]User, error)
	// UpdateUser writes every field of u but ID and CreatedAt. An unknown
	// ID is ErrNotFound, a taken login ErrConflict.
	UpdateUser(ctx context.Context, u User) error
	CountUsers(ctx context.Context) (int, error)

	// CreateToken stores t; a taken name is ErrConflict.
	CreateToken(ctx context.Context, t Token) (Token, error)
	TokenByHash(ctx context.Context, hash []byte) (Token, error)
	ListTokens(ctx context.Context) ([]Token, error)
	// DeleteToken removes a token; an unknown id is ErrNotFound.
	DeleteToken(ctx context.Context, id int64) error

	// CreateSession stores s for an existing user (else ErrNotFound).
	CreateSession(ctx context.Context, s Session) error
	// SessionByHash returns ErrNotFound for an unknown or expired session.
	SessionByHash(ctx context.Context, hash []byte, now time.Time) (Session, error)
	// DeleteSession ends a session; an unknown one is no error (logout is
	// idempotent).
	DeleteSession(ctx context.Context, hash []byte) error
	// DeleteUserSessions ends every session of a user (disabled account).
	DeleteUserSessions(ctx context.Context, userID int64) error
}

// Helpers holds helpers' routing profiles.
type Helpers interface {
	// PutHelper creates or replaces the profile of h.UserID; an unknown
	// user is ErrNotFound.
	PutHelper(ctx context.Context, h Helper) error
	Helper(ctx context.Context, userID int64) (Helper, error)
	// HelperByExtension returns the helper whose Extension is ext;
	// ErrNotFound when none, ErrInvalid for an empty ext.
	HelperByExtension(ctx context.Context, ext string) (Helper, error)
	ListHelpers(ctx context.Context) ([]Helper, error)
}

// Contacts holds contacts and their identities.
type Contacts interface {
	// ResolveContact returns the contact that owns id, creating one named
	// name when none does. Concurrent calls for one identity return the
	// same contact.
	ResolveContact(ctx context.Context, id Identity, name string) (Contact, error)
	Contact(ctx context.Context, id int64) (Contact, error)
	// FindContact returns the contact that owns id without making one;
	// ErrNotFound when none does.
	FindContact(ctx context.Context, id Identity) (Contact, error)
	// UpdateContact writes Name, Lang and Fields.
	UpdateContact(ctx context.Context, c Contact) error
	// AddIdentity joins id to the contact; an identity another contact owns
	// is ErrConflict, one the contact already has is no error.
	AddIdentity(ctx context.Context, contactID int64, id Identity) error
}

// Items holds work items, their history and their messages.
type Items interface {
	// CreateItem stores it with first as its first event, in one commit.
	// An item with the same channel and non-empty external id is returned
	// as stored, with created false, and nothing is written; concurrent
	// calls for one external id make one item. An empty State is
	// StateNew, a zero CreatedAt now; UpdatedAt is CreatedAt, and a zero
	// first.At is CreatedAt. An unknown channel or state, or Data that is
	// not JSON, is ErrInvalid; a ContactID, HelperID or ParentID that does
	// not exist is ErrNotFound.
	CreateItem(ctx context.Context, it Item, first Event) (stored Item, created bool, err error)
	// FileItem stores an Arrival in one commit: it resolves a.Contact,
	// creates a.Item with a.First as CreateItem does and, when the item is
	// new, stores a.Messages, queues a.Out and marks a.AutoReplied; it
	// puts a.Call either way. An item already stored under its channel
	// and external id is returned with Created false and nothing else of
	// a is written but the contact and the call record.
	// Any failure stores none of it; errors are those of the methods
	// named.
	FileItem(ctx context.Context, a Arrival) (Filed, error)
	Item(ctx context.Context, id int64) (Item, error)
	ItemByExternalID(ctx context.Context, ch acd.Channel, externalID string) (Item, error)
	// ListItems returns items in ID order, at most f.Limit of them.
	ListItems(ctx context.Context, f ItemFilter) ([]Item, error)
	// UpdateItem applies u and appends u.Event in one commit, and returns
	// the item as it now is. UpdatedAt becomes now; moving to StateClosed
	// stamps ClosedAt (once), moving out of it clears ClosedAt. u.Event is
	// appended only when its Type is set; a zero At is the update's time.
	UpdateItem(ctx context.Context, id int64, u ItemUpdate) (Item, error)
	// ApplyItemUpdates applies us to item id in order, each as UpdateItem
	// does, in one commit, without reading the item back: the router's
	// events of one item, stored as they are flushed. Any failure stores
	// none of them; errors are those of UpdateItem.
	ApplyItemUpdates(ctx context.Context, id int64, us []ItemUpdate) error
	// AppendEvent adds e to the history of e.ItemID and returns it with ID
	// (and At, when zero, now) set. History is never changed or deleted.
	AppendEvent(ctx context.Context, e Event) (Event, error)
	// Events returns an item's history, oldest first.
	Events(ctx context.Context, itemID int64) ([]Event, error)

	// AddMessage stores m. A message with the same item channel's external
	// id is returned as stored with created false. Direction must be "in"
	// or "out".
	AddMessage(ctx context.Context, m Message) (stored Message, created bool, err error)
	Messages(ctx context.Context, itemID int64) ([]Message, error)
	// ItemByMessageExternalID finds the item holding a message, for
	// threading replies (In-Reply-To, References).
	ItemByMessageExternalID(ctx context.Context, externalID string) (Item, error)
}

// Calls holds call records.
type Calls interface {
	// PutCall creates the record of c.CallID or replaces every field but
	// ID, and returns it with ID set.
	PutCall(ctx context.Context, c Call) (Call, error)
	Call(ctx context.Context, callID string) (Call, error)
	// ListCalls returns the calls f selects, the newest record first.
	ListCalls(ctx context.Context, f CallFilter) ([]Call, error)
}

// Voicemails holds recorded messages.
type Voicemails interface {
	CreateVoicemail(ctx context.Context, v Voicemail) (Voicemail, error)
	Voicemail(ctx context.Context, id int64) (Voicemail, error)
	// VoicemailOfItem returns the recording of a voicemail item, the first
	// one stored when there are several.
	VoicemailOfItem(ctx context.Context, itemID int64) (Voicemail, error)
	// ListVoicemails returns up to limit voicemails (0 means 100, at most
	// 1000), newest first.
	ListVoicemails(ctx context.Context, limit int) ([]Voicemail, error)
}

// Templates holds reply templates.
type Templates interface {
	// PutTemplate creates t (ID 0) or replaces it, and returns it as
	// stored. Uses and CreatedAt are kept by the store; (Name, Lang, Queue)
	// is unique (ErrConflict).
	PutTemplate(ctx context.Context, t Template) (Template, error)
	Template(ctx context.Context, id int64) (Template, error)
	ListTemplates(ctx context.Context) ([]Template, error)
	// DeleteTemplate removes a template; messages and mailings made from it
	// lose the link.
	DeleteTemplate(ctx context.Context, id int64) error
	// CountTemplateUse adds one to the template's use counter.
	CountTemplateUse(ctx context.Context, id int64) error
}

// Mailings holds mailings and their recipients.
type Mailings interface {
	// PutMailing creates m (ID 0) or replaces it, and returns it as stored.
	// An empty State is "draft". CreatedAt, Total and Sent are kept by the
	// store.
	PutMailing(ctx context.Context, m Mailing) (Mailing, error)
	Mailing(ctx context.Context, id int64) (Mailing, error)
	ListMailings(ctx context.Context) ([]Mailing, error)
	// AddRecipients adds contacts to a mailing as pending; contacts already
	// in it are left alone. It returns how many were added and adds that
	// to the mailing's Total.
	AddRecipients(ctx context.Context, mailingID int64, contactIDs []int64) (int, error)
	// PendingRecipients returns up to limit pending recipients (0 means
	// 100), in contact ID order.
	PendingRecipients(ctx context.Context, mailingID int64, limit int) ([]Recipient, error)
	// MarkRecipient records the result of sending to one recipient and
	// updates the mailing's Sent counter in the same commit: a recipient
	// is counted once, however often it is marked sent.
	MarkRecipient(ctx context.Context, r Recipient) error
	// QueueRecipients hands recipients' letters over in one commit: each
	// Recipient is marked as MarkRecipient does and its Letter queued as
	// EnqueueOut does. It returns the queued letters in order: a letter
	// already queued under its MessageID is returned as it is stored
	// (perhaps sent by now), so a retried hand-over queues nothing twice.
	// Any failure stores none of them.
	QueueRecipients(ctx context.Context, hs []Handover) ([]OutLetter, error)
	// CountRecipients returns how many recipients of the mailing are in
	// state.
	CountRecipients(ctx context.Context, mailingID int64, state string) (int, error)
}
