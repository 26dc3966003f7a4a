// Package mail turns letters into work items and sends Moroz's answers.
//
// It owns everything between a mail client and the store: parsing RFC 5322
// letters (Parse, Parser), the SMTP intake for Moroz's own domains
// (Server), joining replies to their thread, deciding whether a letter
// gets an auto-reply (ShouldAutoReply, RFC 3834), composing answers
// (Compose, Replier) and the outbound queue that hands them to the
// configured relay (Outbox, Relay). The outbound queue is kept in the
// store (NewStoredOutbox): a letter queued is sent after a restart, and
// nodes sharing one database each send only the letters they claimed, so
// every letter goes out from one node (see Outbox).
//
// It does not route: a new letter's item is handed to an Intake, which the
// service layer implements by storing the item durably and then offering
// it to the router. It does not own the schema either: contacts, items and
// messages go through the store.
//
// # IMAP polling
//
// IMAPPoller takes letters from an existing mailbox (mail.imap) into the
// same path as SMTP: spool, parse, thread, Intake, auto-reply. A message
// is flagged \Seen or moved only after it is stored; its UIDVALIDITY and
// UID are marked in the store first, and its Message-ID (or the digest of
// its bytes) dedupes it when the server renumbers the mailbox. The client
// is github.com/emersion/go-imap/v2: the same author and upkeep as the
// go-smtp and go-message the package already uses, IMAP4rev2 with
// IMAP4rev1 servers, MOVE, literals streamed rather than buffered, and
// plain, STARTTLS and TLS connections; it is still a beta, pinned at
// v2.0.0-beta.8.
//
// # Mailings
//
// A Mailer sends a personalised letter, from a template (package
// templates) in each contact's language, to an Audience: contacts with an
// email address who wrote since a date. It keeps a rate and a start time,
// pauses and resumes. Each letter carries a signed one-click unsubscribe
// link (Unsubscribes, RFC 8058) and a contact who used it gets no more.
// A recipient is marked "queued" in the commit that puts its letter in
// the store's outbox, and "sent" when the relay took it; Mailer says what
// a stop and a crash do.
// Batch answering is the console's, on the work service.
//
// # Acknowledgement
//
// The intake answers 250 only when the raw letter is durable and the item
// (or, for a reply, the thread message) is committed. Any failure before
// that is a 451, so the sending server retries; a retried letter carries
// the same Message-ID, or the same synthetic one derived from its bytes,
// and makes no second item.
//
// Raw letters are kept under the data folder's "mail" folder: letters up
// to 1 MiB in append-only segment files shared by all connections, where
// one fsync serves every letter appended before it (group commit), larger
// ones in a file each. The message's Headers JSON says where (RawRef).
// Attachments go to files of their own, which are not fsynced: the raw
// letter they come from is.
//
// Replies to pipelined commands (RFC 2920) are held until the intake reads
// again, so a sender that groups MAIL, RCPT and DATA, as mail servers do,
// gets their three replies in one write (pipelinedConn).
//
// # Threads
//
// A letter whose In-Reply-To or References name a message of an open
// item joins that item (a Message and an EventMessage). One that follows
// up a closed item becomes a new item with the old one as its parent.
// Auto-replies and answers are stored as outbound messages of their item,
// so a reply to them threads back too.
//
// # Untrusted input
//
// Everything in a letter is untrusted. Parse never fails on a malformed
// letter: broken MIME is kept as raw text and reported in Letter.Problems.
// Nesting depth, part count, text size and attachment size are bounded;
// HTML is sanitised (bluemonday's user-content policy) before it leaves
// the package; attachment names are reduced to safe base names. Every
// string in a Letter is valid UTF-8 without NUL bytes.
//
// # Concurrency and logging
//
// Server, Parser, Outbox, Relay and Replier are safe for concurrent use.
// Server.Serve and Outbox.Run block until their context ends and wait for
// the goroutines they start. Loggers are injected; records about one
// letter carry peer (the client's address), item_id and message_id.
package mail
