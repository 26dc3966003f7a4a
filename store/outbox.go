package store

import (
	"context"
	"time"
)

// The states of an OutLetter.
const (
	OutPending = "pending" // waiting for its next attempt
	OutSent    = "sent"    // the relay took it
	OutFailed  = "failed"  // given up: a permanent failure or too many attempts
)

// OutLetter is a letter in the outbound queue: a reply or an auto-reply
// Moroz sends through its relay.
type OutLetter struct {
	ID        int64
	ItemID    int64    // the item it answers, 0 when none
	MessageID string   // without brackets; unique in the outbox
	From      string   // envelope sender; empty is the null path
	To        []string // envelope recipients, at least one
	Raw       []byte   // the whole RFC 5322 letter
	Attempts  int      // attempts made so far
	NextAt    time.Time
	State     string // OutPending, OutSent or OutFailed
	LastError string // the last attempt's error
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Outbound holds the outbound mail queue, so letters not yet sent survive
// a restart.
type Outbound interface {
	// EnqueueOut stores l as pending (a zero NextAt is now) and returns
	// it with ID set. A letter with the same MessageID already queued is
	// returned as stored with created false. No recipient, no Raw or no
	// MessageID is ErrInvalid.
	EnqueueOut(ctx context.Context, l OutLetter) (stored OutLetter, created bool, err error)
	// PendingOut returns up to limit pending letters (0 means 100, at
	// most 1000) with IDs above afterID, in ID order: a caller pages
	// through them all by passing the last ID it got.
	PendingOut(ctx context.Context, afterID int64, limit int) ([]OutLetter, error)
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
