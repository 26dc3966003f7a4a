// Package store keeps everything Moroz must not lose: users and tokens,
// helpers, contacts, work items with their event history, call records,
// voicemails, templates and mailings.
//
// The rest of Moroz sees the Store interface and the Go types in this
// package, never SQL. Two backends implement it completely: embedded SQLite
// (the default, pure Go, in the data folder) and PostgreSQL through pgx.
// Both pass one conformance suite (storetest).
//
// The package owns the schema, its migrations and all SQL. It does not own
// what the rows mean: routing, retention and reports belong to acd, stats
// and the channel packages.
//
// # Opening
//
// Open takes a Config: a postgres:// or postgresql:// URL in DB selects
// PostgreSQL (pgx pool), an empty DB the SQLite file DBFile in DataDir.
// Open migrates the schema (goose migrations embedded in the binary, one set
// per dialect) unless SkipMigrations; Migrate does it as a separate step and
// Ready tells /readyz whether the store answers and is migrated. Open fails
// within OpenTimeout with an error naming the database when it cannot be
// reached or the data folder cannot be written.
//
// # Durability
//
// A method that returns nil has committed its write durably: an adapter may
// acknowledge the sender (SIP answer, SMTP 250, HTTP 2xx) as soon as the call
// returns. The SQLite backend batches concurrent writers into group commits
// (one fsync shared by every writer that arrived meanwhile); PostgreSQL does
// the same itself.
//
// # SQLite
//
// The file runs in WAL mode with synchronous=FULL and foreign keys on. One
// writer goroutine, owned by the store and ended by Close, holds the only
// write connection: it takes every write request waiting, runs each in its
// own SAVEPOINT of one transaction and commits once. A request that fails
// rolls back its savepoint only. Reads go to a separate pool of read-only
// connections and see every committed write.
//
// # SQL
//
// Statements are written once, in PostgreSQL's dialect with $N
// placeholders, and run on both backends (SQLite gets ?N). Times are stored
// as timestamptz or as microseconds since the epoch, JSON as json or text.
//
// # Idempotent intake
//
// Every item carries its channel's external id (SIP Call-ID, Message-ID,
// Telegram update id, form idempotency key). CreateItem with a channel and
// external id that already exist returns the stored item and created=false,
// so a retried delivery never makes a second item.
//
// # Outbox
//
// The outbox holds every message Moroz sends through a channel's sender
// (letters, Telegram replies) until it is sent or given up. Senders on
// several nodes share it by claims: ClaimOut takes due rows nobody holds
// for one sender until a lease ends, atomically (PostgreSQL: an UPDATE of
// the rows a SELECT ... FOR UPDATE SKIP LOCKED picked; SQLite: its one
// writer), so two senders never get the same row. A sender may also hold
// a row from the commit that queues it (OutLetter.ClaimedBy). It renews
// its leases while it holds them (RenewOut), MarkOut ends the claim with
// the attempt's result (a failed attempt is released with its next try
// time, or kept by a sender that retries it itself), ReleaseOut frees
// what a sender stopping did not send, and a lease that runs out (a node
// that died) lets any sender claim the row again. OutClaim.InOrder claims
// only the oldest pending row of each recipient, none while it waits or is
// held, so a Telegram chat's replies go out in ID order from whichever
// node; rows committed concurrently for one chat are ordered by their IDs,
// not their commits. Leases compare the nodes' clocks, which must agree
// well within a lease. On SQLite, which one process opens, a lease of a
// claimant this Store never saw is void: it was left by a process that is
// gone, so a restart resumes at once. A row sent but not marked when its
// node dies is sent again: delivery is at least once.
//
// PruneOut deletes sent rows older than a cut in batches, oldest first;
// the node calls it with outbox.retention. Failed rows are kept.
//
// # Concurrency
//
// A Store is safe for concurrent use. Close waits for writes in flight.
package store
