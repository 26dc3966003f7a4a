// Package store keeps everything Moroz must not lose: users and tokens,
// helpers, contacts, work items with their event history, call records,
// voicemails, templates and mailings.
//
// The rest of Moroz sees the Store interface and the Go types in this
// package, never SQL. Two backends implement it completely: embedded SQLite
// (the default, pure Go, in the data folder) and PostgreSQL through pgx.
// Both pass one conformance suite (storetest).
//
// # Durability
//
// A method that returns nil has committed its write durably: an adapter may
// acknowledge the sender (SIP answer, SMTP 250, HTTP 2xx) as soon as the call
// returns. The SQLite backend batches concurrent writers into group commits
// (one fsync shared by every writer that arrived meanwhile); PostgreSQL does
// the same itself.
//
// # Idempotent intake
//
// Every item carries its channel's external id (SIP Call-ID, Message-ID,
// Telegram update id, form idempotency key). CreateItem with a channel and
// external id that already exist returns the stored item and created=false,
// so a retried delivery never makes a second item.
//
// # Concurrency
//
// A Store is safe for concurrent use. Close waits for writes in flight.
package store
