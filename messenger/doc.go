// Package messenger is Moroz's written channels from the web and from
// messengers: the web form (POST /api/v1/forms/{form}), the Telegram bot
// (webhook or long polling), the website chat widget (/chat/widget.js and
// its websocket /chat/ws) and the chatbot that answers both chats until a
// helper takes over.
//
// It owns the parsing and validation of what visitors send, the bot's
// conversations, the Telegram Bot API client and its outbound rate limits,
// and the live chat sockets. It does not route work or decide who answers:
// every request becomes a work item through work.Service.Submit, and a
// helper's reply comes back through the work.Sender registered per channel.
//
// # Endpoints
//
// Routes returns them for the console's listener:
//
//	POST, OPTIONS /api/v1/forms/{form}   a web form (JSON, form-encoded, multipart without files)
//	POST /telegram/webhook               Telegram updates (webhook mode)
//	GET  /chat/widget.js                 the widget a site embeds with a script tag
//	GET  /chat/ws                        the widget's websocket
//	GET  /messenger/attachments/{item}/{message}/{n}
//	                                     a photo or voice note, for console users
//
// # Durability
//
// A form post is answered 201 only after Submit returned nil. A Telegram
// update that reaches an item (an open item of its chat, or a handoff) is
// stored before the webhook answers 200, and is recognised again by its
// message's external id "tg:<chat>:<message_id>", since Telegram's update
// ids restart after a quiet week. A bot conversation that has not been
// handed to a helper lives in memory only (TODO(#8): keep bot transcripts
// across a restart); the fields it collects are written to the contact at
// once.
//
// # Concurrency
//
// A Messenger's handlers and Send methods are safe for concurrent use. It
// owns the goroutines of the Telegram outbox and poller and of every chat
// socket; Close ends them all and waits for them. Close is idempotent.
package messenger
