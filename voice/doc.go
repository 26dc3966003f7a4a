// Package voice is the call flow, written once against the small [Call]
// interface that native SIP (package sip, through [SIPHandler]) and, later,
// Asterisk ARI implement:
//
//	answer → business hours → greeting → enqueue (a voice item)
//	→ hold music with position and wait announcements
//	→ offered: ring the helper's phone → accepted → bridged → completed
//	or: 1 voicemail, 2 callback, max wait (voicemail), hang-up (missed)
//
// # What it owns
//
//   - The order of a call's steps, and what each outcome leaves behind: a
//     call record for every call (store.Call: arrival, answer, enqueue,
//     connect, end, outcome, reason, helper), a callback item for every
//     call that ended without a helper (one open callback per caller;
//     another miss adds an event to it), a voicemail item through package
//     voicemail.
//   - Prompts ([Prompts]): the WAV files under prompts/ (made by
//     prompts/generate.sh with espeak-ng and sox) embedded in the binary,
//     overridable per queue and language from the data folder.
//   - The greeting line: a supervisor dials Options.GreetingNumber, keys
//     the PIN, and records the greeting or the after-hours prompt, which
//     replaces the shipped one at once.
//   - Ringing a helper's desk phone when the router offers them a call
//     ([Dialer]): answering is the accept, busy or decline the reject,
//     ringing out is left to the router's offer timeout (RONA).
//   - Calling callbacks back ([Callbacks], through a [CallbackDialer]:
//     [SIPCallbacks] over a SIP trunk): when a helper accepts a callback
//     item, their desk phone rings first, then the number, and the two are
//     bridged; the item closes called-back, or goes back to its queue when
//     the number does not answer.
//
// # What it does not own
//
// Who gets a call is the router's decision (package acd, through
// work.Service); SIP signalling and RTP are package sip's. The flow never
// decodes the bridged audio.
//
// # Concurrency
//
// Flow.Handle runs one call and returns when the call is over; every
// goroutine it starts (hold music, ringing, the event pump) ends before it
// returns. A Flow is safe for any number of concurrent calls. Callbacks.Run
// owns the callbacks it dials and returns after they have ended.
package voice
