// Package work joins the store and the router: it is the one place where a
// work item is stored durably, handed to the router, and where the router's
// decisions are written back as each item's history.
//
// Channel adapters call Submit, or File for an item that arrives with more
// than its first event (a letter with its contact, messages and
// auto-reply); the console calls the helper operations
// (SetStatus, Accept, Reject, Reply, Complete, ...); listeners (the
// console's websocket hub, the statistics) receive every router event in
// order through Listen.
//
// # Ordering and durability
//
// Submit returns only once the item and its first event are committed (File:
// everything its store.Arrival holds, in the same commit), so the sender may
// be acknowledged. Router events are persisted by one
// persister goroutine, in order per item and concurrently across items so
// that the store's group commit shares fsyncs between them; listeners are
// called after the event is stored. If the store is unreachable the
// persister retries with backoff and loses nothing while the process runs;
// after a crash the router is rebuilt from what was stored (acd.Restore), so
// an offer in flight returns to its queue.
//
// # Ownership
//
// A Service owns its router and its persister goroutine; Close stops both
// after flushing what is pending.
package work
