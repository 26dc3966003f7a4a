// Package sip is Moroz's native SIP edge: a user agent server on UDP and
// TCP (built on sipgo) that takes inbound calls, negotiates G.711 audio
// with RFC 4733 telephone-events, and hands each call to the service
// layer as a [Call] driven by an [InviteHandler]. Media lives in the
// subpackage media.
//
// # What it owns
//
//   - Listening (Config.UDPAddr, Config.TCPAddr; port 0 picks a free one,
//     reported by Server.UDPAddr and Server.TCPAddr and logged).
//   - Validation before any handler: sipgo's parser accepts many malformed
//     messages, so requests are checked against RFC 3261 as RFC 4475's
//     torture tests exercise it (400, 416, 420, 415, 406, 501, 505).
//     Datagrams sipgo cannot parse are counted (Stats.Unparseable), logged
//     rate-limited without their payload, and answered 400 or 416 from
//     their raw headers when those allow a response.
//   - Its own dialog map: INVITE (100 Trying, 180 Ringing on Call.Ring,
//     200 OK on Call.Answer, resent until the ACK; an INVITE without SDP
//     gets Moroz's offer and the ACK's answer), ACK, CANCEL (487),
//     BYE, re-INVITE for hold and resume (RFC 3264 §8.4), OPTIONS (200,
//     or 503 while draining). The ACK of a 2xx is taken whether sipgo
//     hands it to the ACK handler or passes it up through the INVITE's
//     transaction (an ACK on the INVITE's branch, an RFC 2543 peer's).
//     A copy of an INVITE that sipgo's transactions no longer absorb
//     starts no second call: it gets the call's 2xx while the call
//     lasts, and for 64·T1 after its end the response that refused it
//     (or nothing, after a 2xx).
//   - Drain: after Server.Drain new INVITEs get 503 with Retry-After while
//     calls in progress go on.
//   - A registrar for helpers' desk phones when Config.Registrar has
//     Credentials: digest authentication (RFC 3261 §22.4) with one-use,
//     expiring nonces bound to the client's IP, one 401 for known and
//     unknown users alike, per-IP failure counting and bans, and a
//     location store (Server.Locations; Server.Target names the phone to
//     ring, at the address its REGISTER came from). Secrets are HA1
//     digests (HA1), never passwords.
//   - Behind a 1:1 NAT, Config.PublicIP is what SDP, Contact and the Via
//     of the requests Moroz sends (BYE; the Dialer's INVITE, ACK, CANCEL
//     and BYE, each from the socket whose port the Via gives, with rport)
//     name.
//
// # What it does not own
//
// It knows nothing of queues, helpers or routing (DESIGN.md): the call
// flow is written once against Call by the service layer, which sets the
// InviteHandler.
//
// # Concurrency
//
// Every call runs its handler in a goroutine owned by the Server; Close
// hangs up all calls and waits for every handler and serve loop. A Call's
// context ends with the call. Responses go back to the port a request
// came from: rport (RFC 3581) is forced on requests that lack it.
package sip
