// Package console is Moroz's HTTP face: the JSON API under /api/v1, the
// login and its roles, health (/healthz, /readyz) and metrics (/metrics).
// It carries the helpers' and supervisors' websocket (GET /api/v1/ws,
// protocol.md; the fan-out itself is package hub) and serves the browser
// app of package softphoneweb at /. It carries the browser softphone's
// signalling (softphone.go); its WebRTC leg is package softphone's.
//
// It does not route work: it reads items from the store and passes what
// helpers do to the router through the interfaces its owner gives it.
//
// # Authentication
//
// A browser logs in with POST /api/v1/session and holds an HttpOnly session
// cookie; scripts send Authorization: Bearer TOKEN. Only SHA-256 digests of
// cookies and tokens are stored, passwords are argon2id hashes. Every
// handler declares the least role it needs (helper < supervisor < admin) and
// the check runs on the server for every request. Cookie-authenticated
// requests that change state must come from the console's own origin or an
// allowed one (net/http's cross-origin protection). Logins are rate-limited
// per client address and per account.
//
// # Websocket
//
// A connection gets a snapshot, then the events its user may see: a helper
// their own offers, items and presence and their queues' counts, a
// supervisor everything plus the wallboard at most twice a second. Every
// request is checked against the account as it is now; disabling an
// account or changing its role closes its open sockets. A helper whose
// last socket closes is set away at once and offline after Options.Grace.
//
// # Endpoints beyond DESIGN.md's
//
//	PATCH  /api/v1/me                  the user's language {"lang"}
//	GET    /api/v1/contacts/{id}       a contact card and its items, every channel
//	GET    /api/v1/items/{id}/history  the item's events in time order (protocol.md, "Item history")
//	GET    /api/v1/templates           reply templates (helpers)
//	POST   /api/v1/templates           create one (supervisors; audited)
//	PUT    /api/v1/templates/{id}      replace one (supervisors; audited)
//	DELETE /api/v1/templates/{id}      delete one (supervisors; audited)
//	GET    /api/v1/audit               the latest supervisor and admin actions
//	POST   /api/v1/templates/{id}/preview  {"item_id"} or {"contact_id"}: {subject, body} filled
//	GET    /api/v1/stats/templates     handle time with and without a template (supervisors)
//	GET    /api/v1/batches             open letters and forms that ask the same thing
//	POST   /api/v1/batches/answer      {item_ids, template_id}: each replied and completed
//	GET    /api/v1/mailings[/{id}]     mailings and their counts (supervisors)
//	POST   /api/v1/mailings            a draft (console.MailingDraft; supervisors; audited)
//	POST   /api/v1/mailings/{id}/start|pause|resume  (supervisors; audited)
//
// Template text is checked when it is saved (package templates).
//
// A helper sees a contact only through an item offered or assigned to them.
// The audit log is kept in memory (and in the log) for now.
//
// # Lifecycle
//
// New starts listening to the Desk; Close stops that, closes every
// websocket and stops the presence timers. The owner calls Close before
// closing the Desk.
//
// # Errors
//
// Every error is JSON {"error": "..."} with a fitting status.
package console
