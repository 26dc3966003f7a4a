package work

import (
	"time"

	"github.com/morozhq/moroz/acd"
)

// The default queues, one per kind of work, used when the configuration
// names none.
const (
	QueueCalls     = "calls"
	QueueLetters   = "letters"
	QueueChats     = "chats"
	QueueCallbacks = "callbacks"
)

// DefaultQueues returns the queues a node starts with when none are
// configured.
func DefaultQueues() []acd.QueueConfig {
	return []acd.QueueConfig{
		{Name: QueueCalls, SLA: 20 * time.Second, MaxWait: 10 * time.Minute},
		{Name: QueueLetters, SLA: 24 * time.Hour},
		{Name: QueueChats, SLA: time.Minute},
		{Name: QueueCallbacks, SLA: 4 * time.Hour},
	}
}

// DefaultQueueFor names the queue an item of channel ch joins when its
// adapter does not say.
func DefaultQueueFor(ch acd.Channel) string {
	switch ch {
	case acd.Voice:
		return QueueCalls
	case acd.Chat, acd.Telegram:
		return QueueChats
	case acd.Callback, acd.Voicemail:
		return QueueCallbacks
	}
	return QueueLetters
}
