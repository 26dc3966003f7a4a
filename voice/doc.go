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
//     connect, end, outcome, reason, helper; written when a helper is
//     connected and when the call ends, a missed call's end in its
//     callback's commit), a callback item for every
//     call that ended without a helper (one open callback per caller;
//     another miss adds an event to it), a voicemail item through package
//     voicemail.
//   - Prompts ([Prompts]): the WAV files under prompts/ (made by
//     prompts/generate.sh with espeak-ng and sox) embedded in the binary,
//     overridable per queue and language from the data folder.
//   - The greeting line: a supervisor dials Options.GreetingNumber, keys
//     the PIN, and records the greeting or the after-hours prompt, which
//     replaces the shipped one at once.
//   - Ringing a helper's phone (a desk phone, or the browser through
//     package softphone) when the router offers them a call ([Dialer]):
//     answering is the accept, busy or decline the reject, ringing out is
//     left to the router's offer timeout (RONA). A helper who accepts in
//     the console instead is connected through that phone: the one
//     ringing, else it is rung then; if it does not answer, or the helper
//     has none, the call is taken back from them (the router's Recall) and
//     offered again, as the caller must reach someone who can talk.
//   - Calling callbacks back ([Callbacks], through a [CallbackDialer]:
//     [SIPCallbacks] over a SIP trunk): when a helper accepts a callback
//     item, their phone (desk or browser) rings first, then the number,
//     offered that phone's codec, and the two are bridged; the item closes called-back, or goes back to its queue when
//     the number does not answer.
//   - Retrying callbacks: a number that was busy, did not answer or failed
//     is not offered again at once (the next helper would reach the same
//     busy line): the item waits CallbackOptions.RetryAfter in its queue,
//     its created time kept, offered to nobody (the router's Postpone, on
//     the router's own timers). After MaxAttempts unanswered calls it
//     closes with the outcome unreachable, each attempt and the close in
//     its history (callback_unanswered, callback_unreachable). Closed,
//     not left open: a contact centre stops dialling a number that never
//     answers rather than keep offering it to helpers, while the missed
//     call stays counted and the closed callback shows in the items with
//     its outcome; when the caller phones again and misses, a new callback
//     starts, with a fresh count. The retry time is in the attempt's
//     event, so after a restart Callbacks.Restore holds the callback back
//     until it again.
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
