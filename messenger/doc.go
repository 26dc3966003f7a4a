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
//	                                     a photo or voice note, for supervisors and
//	                                     the helper the item is offered to or held by
//
// # Durability
//
// A form post is answered 201 only after Submit returned nil. A Telegram
// update or a chat line is stored before the webhook answers 200 (or the
// line is echoed), and is recognised again by its message's external id
// ("tg:<chat>:<message_id>" for Telegram, whose update ids restart after a
// quiet week).
//
// The first message of a chat keeps an item (work.Service.Keep: state
// new, not routed), one per chat; while the bot talks, every visitor
// message and every bot answer is stored on it, and the visitor's message
// carries the bot's state after it in Headers["bot"]. A restart therefore
// loses no conversation: the bot carries on from the stored state, and the
// handoff routes the same item (work.Service.Route) with its transcript.
// The fields the bot collects are written to the contact at once.
//
// A kept chat that stays quiet for Config.BotQuiet (default an hour) is
// closed as auto-replied (work.Service.CloseKept, a closed event with the
// reason): the bot answered every message and nobody took it further. The
// visitor's next message starts a new chat with the bot, on a new item; the
// widget still replays the closed one for a day. A widget chat whose
// visitor asked for a person while nobody was on duty is routed to the
// helpers instead, so that someone answers it (the widget replays the
// answer when the visitor comes back).
//
// # The Telegram outbox
//
// Every reply to Telegram, the bot's and the helpers', waits in the
// store's outbox (channel telegram: the chat and the sendMessage
// parameters) before it is sent: the bot's answers are stored in the same
// commit as the message they answer, a helper's reply before Send returns.
// A restart resumes what is pending, in order per chat. Each chat gets at
// most one message a second and the bot about 30 a second overall, as
// Telegram documents; a 429 waits out its retry_after; other failures are
// retried with a doubling backoff (1s to 5 min, 20 attempts); 400 and 403
// (chat not found, bot blocked) give the reply up at once. A reply given up
// is marked failed in the outbox and noted on its item as a send_failed
// event, which the function given to OnSendFailed then hears of (the
// console's NoteItemEvent tells the helper's desk). A stop lets a send under way finish, so a clean restart sends
// nothing twice; after a crash, a reply sent but not yet marked is sent
// again.
//
// Nodes sharing one database share the outbox: a node sends only the
// replies it has claimed for a lease (outbox.lease, renewed while held),
// and it claims only each chat's oldest pending reply, so a chat's replies
// go out one at a time, in order, from whichever node holds the oldest.
// A retry keeps its lease, so the chat waits for it on that node. The
// claim loop looks for replies every outbox.poll and as soon as a reply is
// queued or one is done; a stop releases what was not sent, and the
// replies of a node that died are taken over when its lease runs out.
//
// # Typing indicators
//
// A widget's {"type": "typing"} frame reaches the helper holding the chat
// through the function given to OnVisitorTyping (the console's
// SendTyping); HelperTyping shows the helper's on the widget, or as the
// bot's "typing" action in Telegram. Each way passes at most one every
// three seconds per chat.
//
// # Concurrency
//
// A Messenger's handlers and Send methods are safe for concurrent use. It
// owns the goroutines of the Telegram senders and poller and of every chat
// socket; Close ends them all and waits for them. Close is idempotent.
package messenger
