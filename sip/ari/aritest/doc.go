// Package aritest is a fake Asterisk ARI server for tests of package
// sip/ari: REST resources and the events websocket on httptest, held to
// Asterisk's published API documents (the Swagger 1.1 *.json of
// Asterisk's rest-api folder, read at run time, never copied).
//
// # What it checks
//
// Every request: the method and path are a documented operation (path
// parameters filled), every query parameter is documented, required
// parameters are present, integers and booleans parse, values are among
// allowableValues, basic auth is right. A mismatch fails the test
// (t.Errorf) and answers 400 or 404 as Asterisk would.
//
// # What it simulates
//
// Callers entering the app (StasisStart), key presses
// (ChannelDtmfReceived), hangups (ChannelHangupRequest, StasisEnd,
// ChannelDestroyed), helpers' phones rung by originate that answer or
// fail with a Q.850 cause, bridges, and external media channels whose
// Asterisk side is a UDP socket on loopback ([Endpoint]) that hears
// Moroz's RTP and speaks to it. Faults: a dropped websocket, an Asterisk
// restart (everything gone without an event), and ARI error answers
// ([Server.Fail]). Every event is built from its model in events.json
// (required properties checked, nested models too), so any event type of
// the documents can be sent, handled by Moroz or not.
//
// It does not mix audio in its bridges: Moroz's own media layer bridges
// callers to helpers, the fake only tracks bridge membership.
package aritest
