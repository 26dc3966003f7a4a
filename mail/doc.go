// Package mail turns letters into work items and sends Moroz's answers.
//
// It owns everything between a mail client and the store: parsing RFC 5322
// letters (Parse), the SMTP intake for Moroz's own domains (Server), joining
// replies to their thread, deciding whether a letter may get an auto-reply
// (RFC 3834, ShouldAutoReply) and the outbound queue that hands replies and
// auto-replies to the configured relay (Outbox).
//
// It does not route: an accepted letter is handed to an Intake, which the
// service layer implements by storing the item durably and then offering it
// to the router. It does not own the schema either; contacts, items and
// messages go through store.Store.
//
// # Acknowledgement
//
// The SMTP intake answers 250 only after the raw letter is on disk (fsynced)
// and the item or its thread message has been committed by the store. Any
// failure before that is a 451, so the sending server retries; a retried
// letter carries the same Message-ID (or the same synthetic one, derived
// from the raw bytes) and makes no second item.
//
// # Untrusted input
//
// Everything in a letter is untrusted. Parse never fails on a malformed
// letter: broken MIME is kept as raw text and reported in Letter.Problems.
// Nesting depth, part count, text size and attachment size are bounded;
// HTML is sanitised before it leaves the package; attachment names are
// reduced to safe base names before they touch the disk.
//
// # Logging
//
// Loggers are injected. Records about one letter carry item_id and peer
// (the sending client's address).
package mail
