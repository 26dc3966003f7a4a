// Package acd is the router: it owns every work item, queue, helper and
// offer of Moroz and decides which helper gets which item, and when. It
// does no I/O and knows no channel: adapters tell it what happened (an item
// arrived, a helper came online, an offer was accepted, a caller hung up)
// and it answers with decisions, as events.
//
// It does not persist anything (the service layer stores the events as each
// item's history, and rebuilds the router with Restore on start), play
// audio, send letters or talk to consoles.
//
// # One lock
//
// All state lives behind one mutex, and every method runs as one operation
// under it: check the arguments, apply the change, then dispatch (make
// every offer the change allows), arm the timer. A single lock rather than
// a single goroutine because callers want the decision synchronously (the
// events an operation produced are its return value, with no channel
// round-trip), because timers then need no mailbox, and because there is no
// goroutine to own or stop. Nothing in an operation blocks or allocates
// much, so the lock is held for microseconds. The races that plague queue
// engines with shared state (two helpers offered one call, zombie offers
// after a hang-up) cannot happen: an offer, its withdrawal and the accept
// that ends it are serialised.
//
// # Events
//
// Each operation returns the events it produced, in order. Every event,
// also those of timers (offer timeouts, wrap-up ends, escalations), goes to
// Config.Sink in Seq order, outside the lock; and to the Subscriptions of
// its item, inside the lock, so a subscriber sees an item's events as they
// happen. A voice flow subscribes to its item before Enqueue and waits:
//
//	sub := r.Subscribe(id)
//	defer sub.Close()
//	r.Enqueue(acd.Item{ID: id, Channel: acd.Voice, Queue: "main"})
//	e, err := sub.Wait(ctx, acd.Is(acd.EventAccepted, acd.EventClosed))
//
// A console learns "offer to helper H until D" from EventOffered (HelperID,
// Deadline) through the sink.
//
// # Routing
//
// Waiting items sit in per-queue heaps, one per channel and set of
// required skills, ordered voice first, then priority, then created time.
// A helper who becomes free peeks at the top of each heap of their queues
// that they qualify for and takes the best (O(queues × heaps) per
// decision, never a scan of all items). A new item goes to one of the free
// helpers of its queues, chosen by the queue's Strategy; the helpers free
// for each channel are kept in per-queue sets, so an arrival looks only at
// helpers who could take it. A helper holds at most one pending offer; a
// call may displace a pending letter offer, but never the other way round.
// After every operation no free helper is eligible for a waiting item.
//
// # Time
//
// Time comes from Config.Clock. Every timer (offer deadline, delay, wrap-up,
// no-reply take-back, escalation step, max wait, sticky expiry, postponed
// item, business hours) is an entry in one heap, and one Clock timer is
// armed for the earliest: decisions are made on the event, never by
// polling. Under testing/synctest the default Clock is the bubble's fake
// time.
package acd
