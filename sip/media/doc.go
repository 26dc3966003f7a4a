// Package media carries the audio of one SIP call leg: RTP on a UDP socket
// taken from a configured port range, G.711 coding, WAV playback and
// recording, RFC 4733 DTMF detection and a bridge between two legs, with
// a [Tap] through which a supervisor's monitor may hear and rewrite what
// one leg of a bridge relays (a leg without one pays an atomic load).
//
// # Ownership
//
// A [Leg] owns its socket and its receiver goroutine, and either its own
// paced sender goroutine or a place in a shared [Pacer] (one goroutine
// per CPU for all the legs of a server); [Leg.Close] stops them and waits. Playback, recording and
// bridging run in the caller's goroutine and end when the caller's context
// ends, the leg closes, or the audio runs out.
//
// # What it does not do
//
// It knows nothing of SIP, dialogs or queues: the sip package negotiates
// the codec and the remote address and hands them to a leg. There is no
// transcoding beyond G.711 µ-law and A-law, no RTCP and no SRTP.
//
// # RTP rules
//
//   - Strict symmetric RTP: a leg latches once onto the first source address
//     that sends packets of one SSRC with contiguous sequence numbers, sends
//     to that address from then on, and drops (and counts) packets from any
//     other address, so no other party's audio bleeds into the call.
//   - The sender paces one packet every 20 ms. Sequence numbers and
//     timestamps continue across every change of source (greeting, hold
//     music, a bridged peer), as RFC 3550 §5.1 asks of one stream.
package media
