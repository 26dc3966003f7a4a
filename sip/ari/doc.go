// Package ari is Moroz's Asterisk mode: a Stasis application, driven
// through the Asterisk REST Interface (ARI), that runs the same call flow
// as the native SIP edge (package voice) for calls Asterisk sends it.
//
//	caller ─ Asterisk ─ StasisStart ─▶ App ─▶ voice.Flow.Handle(Call)
//	                    mixing bridge: caller channel + external media
//	                    external media ◀─ RTP, µ-law ─▶ media.Leg (Moroz)
//
// # What it owns
//
//   - [Client]: a small typed ARI client over net/http and
//     gorilla/websocket, only the resources Moroz uses (channels,
//     bridges, playbacks, recordings, the events websocket). Every call
//     takes a context and is bounded by a timeout; a failed request is an
//     [*Error] with the HTTP status and ARI's message; event types Moroz
//     does not handle are read, counted ([Client.UnknownEvents]) and
//     dropped.
//   - [App]: the Stasis application. A caller's channel entering the app
//     becomes a [Call] (a voice.Call) and the flow runs on it. Helpers'
//     phones on Asterisk are rung by originating to their endpoint
//     (store.Helper.Extension, e.g. PJSIP/helper7) into the app
//     ([App.Dialer]); with native SIP on too, the node rings a phone
//     registered with its own SIP edge there instead. An accepted callback is two such legs, the
//     helper's phone and the number through the provider's endpoint
//     (PJSIP/number@trunk), joined by Moroz's media layer
//     ([App.Callbacks], a voice.CallbackDialer).
//   - Faults: a dropped events websocket is reconnected with exponential
//     backoff, then reconciled: channels Asterisk no longer has end (as
//     dropped when its startup time changed, a restart; else as hung up
//     while Moroz was away), callers that arrived meanwhile are adopted,
//     Moroz's leftover channels and bridges are removed, hangups Asterisk
//     refused are retried. A call Asterisk lost mid-call is recorded with
//     reason [ReasonDropped] and leaves a callback. A failed ARI request
//     is logged with the request and the call falls back: a helper's ring
//     counts as busy, a failed answer or media set-up hangs up cleanly.
//
// # Why a client of its own
//
// The design named github.com/CyCoreSystems/ari/v6, which is not released
// (the module proxy does not serve it). v5.3.1 is served, but it ends the
// process when Asterisk sends an event type it has no Go type for (newer
// Asterisk versions add types), and its Connect takes no context and has
// no timeout, so a silent Asterisk hangs start-up. Guarding it would mean
// wrapping most of its surface; the dozen requests and ten event types
// Moroz needs are less code written here, with context everywhere and
// unknown events counted instead of fatal.
//
// # Why external media
//
// Media goes through an ARI external-media channel (RTP over UDP, µ-law)
// put in one mixing bridge with the caller's channel, and Moroz's own
// media layer (package sip/media) is the other end. So prompts, hold
// music and announcements are Moroz's embedded WAV prompts played by the
// same paced sender as in native mode, voicemail is recorded by the same
// recorder into the same files, and a helper's phone (its own channel,
// bridge and external media) is joined to the caller by media.Leg.Bridge
// exactly as two native legs are; so a supervisor monitors such a call
// through taps on that bridge (package softphone), as a native desk
// phone's, with no snoop channel ([Call.Media] is the caller's leg). The alternative, Asterisk playing and
// recording sounds (channels/play, channels/record), would need the
// prompts copied to Asterisk's sounds folder and the messages fetched
// back, and would be a second media path to test. The cost is one extra
// RTP hop inside the site. Key presses come as ChannelDtmfReceived events,
// not in the external media stream.
//
// # What it does not own
//
// The call flow, queues and records (packages voice, work, acd, store);
// Asterisk's own configuration (samples in configs/asterisk). There is no
// TLS client-certificate support and no ARI outbound websocket mode.
//
// # Concurrency
//
// [App.Run] owns every goroutine: the event reader and one per call; it
// returns after they end. Client and App methods are safe for concurrent
// use; [EventConn.Read] is for one goroutine.
package ari
