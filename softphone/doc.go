// Package softphone is the helper's browser phone: the server end of a
// WebRTC call (pion/webrtc) whose audio is G.711 RTP relayed to and from
// the caller's leg.
//
// A browser leg is a [media.Leg] running on a peer connection instead of
// a UDP socket, so the paced sender, strict latching, RFC 4733 DTMF
// detection and the bridge of package media apply unchanged: sequence
// numbers and timestamps stay continuous whatever the browser hears
// (greeting, the caller, silence on hold), and pion only rewrites the SSRC
// and payload type to the negotiated ones. PCMU and PCMA pass through
// without transcoding when the browser takes the caller's codec; DTMF from
// the browser (telephone-event at whatever payload type it offers,
// Chromium's 126) is detected and relayed to the caller as RFC 4733
// events of the caller's payload type.
//
// # What it owns
//
//   - [Phone]: the browser legs of one node, rung by the call flow through
//     [Phone.Dial] (a voice.Dialer for targets made by [Target]), and the
//     signalling messages of the console's websocket ([Phone.Signal]).
//   - Hold: the caller hears the hold music while the helper holds; the
//     helper's microphone is not relayed meanwhile.
//   - Transfer: the helper hands a talking caller to a queue or another
//     helper; the leg ends and [Leg.Transferred] says where the call
//     flow should move the call.
//   - Re-attach: a browser that reconnects (a reloaded tab) answers the
//     same call again; the new peer connection replaces the old one under
//     the same media leg. A browser that does not come back within
//     Config.Grace ends the leg as lost ([Leg.Lost]), and the call flow
//     puts the caller back in the queue.
//   - Supervisor listen, whisper and barge ([Monitor], started by
//     [Phone.Monitor] for the wallboard's "monitor" requests): the
//     supervisor's own peer connection gets the caller and the helper
//     mixed; their microphone is mixed into what the helper hears
//     (whisper) and the caller too (barge). The mixing is done where the
//     helper's leg meets its peer connection, on packets that keep their
//     headers, so the streams stay continuous across modes and the
//     ordinary bridge stays pass-through: a call nobody monitors is never
//     decoded. The call's end ends the monitor; the monitor's end
//     (leave, the supervisor's tab closing, their last console gone)
//     leaves the call alone.
//   - Desk-phone calls on the wallboard ([Phone.AddDeskCall], which the
//     node calls for each bridge of the call flow to a desk phone and for
//     each callback bridged between a desk phone and the called number,
//     whose leg stands for the caller's; in Asterisk mode too, where
//     both are the node's external media legs): they are live calls too, and the same Monitor mixes them through a
//     [media.Tap] on each of the bridge's legs. The tap on the desk
//     phone's leg sees the caller's audio after the bridge mapped it to
//     the desk phone's law (µ-law↔A-law), the tap on the caller's leg
//     the helper's in the caller's; so each direction is decoded and
//     mixed in the codec its listener hears, and the bridge keeps the
//     headers. A bridge without a monitor pays one atomic load a packet.
//
// # What it does not own
//
// The websocket itself, authentication, who may signal or monitor (only
// supervisors and admins) and the audit log are package console's; which
// helper gets a call and what happens after a lost helper are the
// router's and the call flow's. It does no transcoding
// beyond G.711 µ-law and A-law and no other codec. A desk phone's call
// is listed only where both legs are media.Legs of this node; a browser
// helper's callback is listed as any browser call, marked a callback
// with its item once the node told the leg ([Leg.SetCallback]).
//
// # Several nodes
//
// A wallboard lists and monitors the calls of its own node only; no
// issue asks for several nodes yet. A node hears nothing of another's
// calls today, and monitoring across nodes would need, in this order:
//
//   - A shared list: each node writes its live calls (the LiveCall
//     fields, its node id) to a PostgreSQL table as they start, change
//     mode and end, under a lease it renews, so that a lost node's calls
//     drop off; the "calls" op reads the table instead of
//     [Phone.LiveCalls]. The embedded store serves one node, so there it
//     stays as it is.
//   - Signalling to the call's node: a "monitor" request for a call of
//     another node is forwarded there (a NOTIFY channel per node, or an
//     authenticated HTTP call between nodes) with the supervisor's id,
//     and the answer, trickled candidates and monitor_ended come back
//     the same way to the supervisor's console.
//   - Media from the call's node: the supervisor's peer connection ends
//     on the call's node, whose Monitor is unchanged; that node's ICE
//     candidates (Config.PublicIPs, TURN) must reach the supervisor's
//     browser. Relaying the mix through the supervisor's node instead
//     would add an RTP hop and a second peer of the same call.
//   - Rights across nodes: the call's node asks the store whether the
//     user is still a supervisor, and the supervisor's node whether a
//     console of theirs is still open ([Supervisors] is asked of one
//     node only today); one supervisor per call stays the call's node's
//     rule.
//
// # Concurrency
//
// A Phone and its legs are safe for concurrent use. Each leg owns its
// peer connection, its media leg and the goroutines that pump the
// browser's audio and the hold music; [Leg.Hangup] and [Phone.Close]
// stop them and wait for them.
package softphone
