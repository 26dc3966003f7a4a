package store

import (
	"context"
	"time"
)

// Arrival is a new item with everything its arrival brings, for FileItem
// to store in one commit: the sender's contact, the item with its first
// event, its first messages, the letters queued in answer (an
// auto-reply) and the mark that the sender got an automatic reply.
type Arrival struct {
	Item  Item
	First Event
	// Contact, when its Kind is set, is resolved as ResolveContact does
	// (a new contact is named ContactName) and the item becomes its
	// contact's, whatever Item.ContactID says.
	Contact     Identity
	ContactName string
	// Messages are stored as AddMessage does, in order, as messages of
	// the new item (their ItemID is set by the store).
	Messages []Message
	// Out are queued as EnqueueOut does, for the new item.
	Out []OutLetter
	// AutoReplied, when set, is the sender to mark as auto-replied at the
	// item's CreatedAt, as MarkAutoReply does.
	AutoReplied string
	// Call, when set, is put as PutCall does, whether or not the item is
	// new: the record of the call the item came from (a missed call's
	// final record with its callback).
	Call *Call
}

// Filed is what FileItem stored, or found stored.
type Filed struct {
	Item    Item
	Created bool    // false: the item was stored before and is returned as it was
	Contact Contact // the resolved contact (ID and identity; fields unread), zero when none
	// Messages and Out are what was stored with a new item, in the order
	// given; both are empty when Created is false.
	Messages []Message
	Out      []OutLetter
	// Call is the call record put, with its ID; zero when none was given.
	Call Call
}

// AutoReplies remembers when each sender last got an automatic reply, so
// that a sender gets at most one in a window (RFC 3834 §2). Senders are
// compared byte for byte: callers normalise them.
type AutoReplies interface {
	// LastAutoReply returns when sender was last marked; the zero time
	// when never.
	LastAutoReply(ctx context.Context, sender string) (time.Time, error)
	// MarkAutoReply records that sender got an automatic reply at at (a
	// zero at is now), replacing an older mark. An empty sender is
	// ErrInvalid.
	MarkAutoReply(ctx context.Context, sender string, at time.Time) error
}

// Handover is a mailing's letter to one recipient as QueueRecipients
// stores it: the recipient's new state and the letter for the outbox.
type Handover struct {
	Recipient Recipient
	Letter    OutLetter
}
