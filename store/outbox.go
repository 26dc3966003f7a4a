package store

import (
	"context"
	"time"

	"github.com/morozhq/moroz/acd"
)

// The states of an OutLetter.
const (
	OutPending = "pending" // waiting for its next attempt
	OutSent    = "sent"    // the relay took it
	OutFailed  = "failed"  // given up: a permanent failure or too many attempts
)

// OutLetter is one message in the outbound queue: a letter (a reply or
// an auto-reply Moroz sends through its relay) or a Telegram reply. Channel
// says which sender takes it and how the other fields read:
//
//   - acd.Email (the default when empty): From and To are the envelope,
//     Raw is the whole RFC 5322 letter, MessageID its Message-ID.
//   - acd.Telegram: To is the chat id, Raw the sendMessage parameters as
//     JSON, MessageID a key the sender makes unique per reply part.
type OutLetter struct {
	ID        int64
	Channel   acd.Channel // the sender's channel; empty is acd.Email
	ItemID    int64       // the item it answers, 0 when none
	MessageID string      // without brackets; unique in the outbox
	From      string      // envelope sender; empty is the null path
	To        []string    // envelope recipients (a chat for Telegram), at least one
	Raw       []byte      // the whole RFC 5322 letter, or a Bot API payload
	Attempts  int         // attempts made so far
	NextAt    time.Time
	State     string // OutPending, OutSent or OutFailed
	LastError string // the last attempt's error
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Outbound holds the outbound queue of every channel that sends through
// one (mail, Telegram), so messages not yet sent survive a restart.
type Outbound interface {
	// EnqueueOut stores l as pending (a zero NextAt is now) and returns
	// it with ID set. A letter with the same MessageID already queued is
	// returned as stored with created false. No recipient, no Raw or no
	// MessageID is ErrInvalid.
	EnqueueOut(ctx context.Context, l OutLetter) (stored OutLetter, created bool, err error)
	// PendingOut returns up to limit pending letters of channel (0 means
	// 100, at most 1000) with IDs above afterID, in ID order: a caller
	// pages through them all by passing the last ID it got. An empty
	// channel is acd.Email.
	PendingOut(ctx context.Context, channel acd.Channel, afterID int64, limit int) ([]OutLetter, error)
	// MarkOut records an attempt's result: u.State, u.Attempts, u.NextAt
	// and u.LastError of the letter u.ID. An unknown ID is ErrNotFound.
	MarkOut(ctx context.Context, u OutLetter) error
	// OutLetter returns the letter with id.
	OutLetter(ctx context.Context, id int64) (OutLetter, error)
	// FileLetter stores msgs as AddMessage does, in order, and queues out
	// as EnqueueOut does, all in one commit: a letter's own message and
	// its auto-reply with the auto-reply's place in the outbox cost one
	// durable write. Any failure stores none of them.
	FileLetter(ctx context.Context, msgs []Message, out []OutLetter) (FiledLetter, error)
}

// FiledLetter is what FileLetter stored: the messages in the order given,
// whether each was new (false: stored before, returned as it was), and the
// queued letters with whether each was new.
type FiledLetter struct {
	Messages   []Message
	Created    []bool
	Out        []OutLetter
	OutCreated []bool
}

// IMAPMarks remembers which messages of a polled IMAP mailbox are stored,
// by the mailbox's UIDVALIDITY and the message's UID (RFC 9051 §2.3.1.1).
type IMAPMarks interface {
	// IMAPSeen reports whether the message uid of mailbox under
	// uidValidity is marked stored.
	IMAPSeen(ctx context.Context, mailbox string, uidValidity, uid uint32) (bool, error)
	// MarkIMAPSeen marks it; marking it again is no error.
	MarkIMAPSeen(ctx context.Context, mailbox string, uidValidity, uid uint32, messageID string) error
}
