package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/morozhq/moroz/acd"
)

// The states of an OutLetter.
const (
	OutPending = "pending" // waiting for its next attempt
	OutSent    = "sent"    // the relay took it
	OutFailed  = "failed"  // given up: a permanent failure or too many attempts
)

// Defaults of the senders that claim outbox rows (the outbox.lease and
// outbox.poll keys): how long a claim holds, and how often a sender looks
// for rows to claim.
const (
	DefaultOutLease = time.Minute
	DefaultOutPoll  = 2 * time.Second
)

// NewClaimant returns a name for a sender of kind (mail, telegram) that
// no other process uses: the host, the process id and a random part.
func NewClaimant(kind string) string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s/%d/%s/%s", host, os.Getpid(), kind, hex.EncodeToString(b))
}

// RunClaims is a sender's claiming loop: claim, and renew every third of
// lease, at once and then every poll and whenever kick is signalled,
// until ctx ends.
func RunClaims(ctx context.Context, poll, lease time.Duration, kick <-chan struct{}, claim, renew func(context.Context)) {
	tick := time.NewTicker(poll)
	defer tick.Stop()
	renewed := time.Now()
	for {
		claim(ctx)
		if time.Since(renewed) >= lease/3 {
			renew(ctx)
			renewed = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-kick:
		}
	}
}

// ErrClaimed is MarkOut's answer to a retry of a row another sender has
// taken over since (its lease had run out).
var ErrClaimed = errors.New("outbox row held by another sender")

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
	// ClaimedBy and ClaimedUntil are the sender holding the row and the
	// end of its lease (ClaimOut); empty and zero when nobody holds it.
	// EnqueueOut, FileLetter, FileItem and QueueRecipients store a new
	// row with the claim it is given, so a sender that queues a row can
	// hold it from the first commit.
	ClaimedBy    string
	ClaimedUntil time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// OutClaim says which pending rows ClaimOut takes and for whom.
type OutClaim struct {
	Channel  acd.Channel   // empty is acd.Email
	Claimant string        // the sender taking the rows; required
	Lease    time.Duration // how long the rows are held; at least a millisecond
	Limit    int           // rows at most; 0 means 100, at most 1000
	// Prefix, when set, takes only rows whose MessageID starts with it;
	// with Except, only rows whose MessageID does not. Two senders of one
	// channel split its rows this way (mail replies and mailings).
	Prefix string
	Except bool
	// InOrder takes only the oldest pending row of each recipient (To),
	// and none of a recipient whose oldest row is not due or is held: a
	// recipient's rows go out one at a time, in ID order, whichever
	// sender takes them (a Telegram chat's replies).
	InOrder bool
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
	// and u.LastError of the letter u.ID. It ends any claim on the row,
	// except that a pending u whose ClaimedUntil is still ahead stays
	// claimed by u.ClaimedBy until then (a sender that retries the row
	// itself, as the Telegram sender does to keep a chat's order); one with
	// no lease left is released with its NextAt, for any sender to claim.
	// A pending u (a retry after a failure) is recorded only while u's
	// sender, u.ClaimedBy, holds the row or nobody does: when another
	// sender took it over meanwhile, MarkOut changes nothing and returns
	// ErrClaimed. An unknown ID is ErrNotFound.
	MarkOut(ctx context.Context, u OutLetter) error
	// ClaimOut takes up to c.Limit pending rows of c.Channel that are due
	// and that nobody holds (never claimed, released, or a lease run out)
	// for c.Claimant until now plus c.Lease, atomically: two senders
	// claiming at once never get the same row. It returns them in ID
	// order with ClaimedBy and ClaimedUntil set. On SQLite, where one
	// process has the store, a lease taken through another Store value
	// (a process that is gone) does not hold.
	ClaimOut(ctx context.Context, c OutClaim) ([]OutLetter, error)
	// RenewOut extends every lease claimant still holds (not run out) to
	// now plus lease, and returns the new end: rows whose lease ended
	// after until-lease are held until then, others are no longer held.
	RenewOut(ctx context.Context, claimant string, lease time.Duration) (until time.Time, err error)
	// ReleaseOut ends every claim of claimant on pending rows, so that
	// any sender may take them at once (a sender stopping cleanly).
	ReleaseOut(ctx context.Context, claimant string) error
	// PruneOut deletes up to limit sent rows (0 means 100, at most 1000)
	// last updated before before, oldest first, and returns how many: a
	// caller prunes in small commits until fewer than limit go.
	PruneOut(ctx context.Context, before time.Time, limit int) (int, error)
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
