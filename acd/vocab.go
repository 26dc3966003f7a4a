package acd

// Channel names the way a request reached Moroz. The names are part of the
// public API (DESIGN.md): they appear in /api/v1 filters and JSON.
type Channel string

// The channels. Voice is a live call; voicemail and callback are what a call
// becomes when it could not reach a helper.
const (
	Voice     Channel = "voice"
	Voicemail Channel = "voicemail"
	Callback  Channel = "callback"
	Email     Channel = "email"
	Telegram  Channel = "telegram"
	Chat      Channel = "chat"
	Form      Channel = "form"
)

// Channels lists every channel in a stable order.
var Channels = []Channel{Voice, Voicemail, Callback, Email, Telegram, Chat, Form}

// Valid reports whether c is one of the known channels.
func (c Channel) Valid() bool {
	for _, k := range Channels {
		if c == k {
			return true
		}
	}
	return false
}

// Live reports whether the channel carries a person waiting on the line, who
// must never wait behind a letter.
func (c Channel) Live() bool { return c == Voice }

// State is where a work item is in its lifecycle (DESIGN.md, "Work item
// lifecycle").
type State string

// The item states.
const (
	StateNew     State = "new"
	StateQueued  State = "queued"
	StateOffered State = "offered"
	StateActive  State = "active"
	StateWrapUp  State = "wrapup"
	StateClosed  State = "closed"
)

// Valid reports whether s is one of the known states.
func (s State) Valid() bool {
	switch s {
	case StateNew, StateQueued, StateOffered, StateActive, StateWrapUp, StateClosed:
		return true
	}
	return false
}

// Outcome says how a closed item ended. Every inbound request ends in an
// answer: abandoned and voicemail outcomes are followed by a new item.
type Outcome string

// The outcomes.
const (
	OutcomeNone        Outcome = ""
	OutcomeAnswered    Outcome = "answered"
	OutcomeReplied     Outcome = "replied"
	OutcomeAutoReplied Outcome = "auto-replied"
	OutcomeAbandoned   Outcome = "abandoned"
	OutcomeVoicemail   Outcome = "voicemail"
	OutcomeCalledBack  Outcome = "called-back"
	OutcomeUnreachable Outcome = "unreachable" // a callback whose number never answered
	OutcomeSpam        Outcome = "spam"
	OutcomeDuplicate   Outcome = "duplicate"
	OutcomeTransferred Outcome = "transferred"
)

// Status is a helper's presence, one state across every channel. Busy is
// not a status: it is derived from a helper's load (HelperInfo.Busy).
type Status string

// The helper statuses. A helper starts Offline until their console or phone
// comes back.
const (
	StatusOffline   Status = "offline"
	StatusAvailable Status = "available"
	StatusAway      Status = "away"
)

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool {
	return s == StatusOffline || s == StatusAvailable || s == StatusAway
}

// ReasonMissedOffers is the away reason of a helper the router paused after
// too many offers in a row timed out (RONA).
const ReasonMissedOffers = "missed offers"

// chIndex maps a channel to a small array index; unknown channels map to -1.
func chIndex(c Channel) int {
	switch c {
	case Voice:
		return 0
	case Voicemail:
		return 1
	case Callback:
		return 2
	case Email:
		return 3
	case Telegram:
		return 4
	case Chat:
		return 5
	case Form:
		return 6
	}
	return -1
}

// numChannels is the length of per-channel arrays indexed by chIndex.
const numChannels = 7
