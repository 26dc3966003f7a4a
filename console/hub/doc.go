// Package hub fans pre-encoded messages out to websocket clients. It owns
// the per-client send queues, the packing of queued messages into one
// frame, pings, read limits and the dropping of slow clients; it does not
// know users, roles or the console's protocol, so a benchmark can drive it
// in-process with no store.
//
// # Audiences
//
// Each Client is registered with a Member: a user id, whether it watches
// the supervisors' stream, and the queues whose counts it follows. Publish
// delivers one message to every client an Audience names, once, however
// many of the audience's parts it matches.
//
// # Queues and slow clients
//
// A client's queue holds at most Options.QueueLen messages. Its writer
// sends everything queued as one frame: one JSON value alone, or several
// as a JSON array; it writes at most one frame per Options.Gather, so a
// busy stream is packed and a lone message after a quiet spell goes at
// once. A client whose queue is full when a message arrives is
// dropped (its socket is closed with code 4008); Publish never blocks on a
// client.
//
// # Concurrency
//
// Publish, Close, CloseUser and Clients are safe for concurrent use. Serve
// runs one client's reader in the calling goroutine and its writer in a
// goroutine it awaits before returning.
package hub
