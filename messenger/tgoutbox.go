package messenger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/messenger/botapi"
	"github.com/morozhq/moroz/store"
)

// Telegram outbox limits.
const (
	outboxShards    = 8                // senders; a chat always uses the same one, so its replies keep their order
	maxSendAttempts = 20               // failed attempts before a reply is given up, flood control not counted
	sendBackoff     = time.Second      // the wait after the first failure, doubled after each
	maxSendBackoff  = 5 * time.Minute  // the longest wait between attempts
	markTimeout     = 10 * time.Second // to record an attempt, even while stopping
	sendTimeout     = 10 * time.Second // of one sendMessage, which a stop lets finish
	maxHeld         = 256              // replies claimed and not yet done, across the shards
	claimPage       = 100              // replies claimed at once
)

// EventSendFailed is the type of the event an item gets when one of its
// Telegram replies is given up (the bot was blocked, the chat is gone, or
// every attempt failed). Its data names the outbox row and the error.
const EventSendFailed = "send_failed"

// sendPayload is the Raw of a Telegram row of the store's outbox: the
// parameters of sendMessage.
type sendPayload struct {
	ChatID int64  `json:"chat_id"`
	Text   string `json:"text"`
}

// outMarker records what became of a queued reply; every store.Store is
// one.
type outMarker interface {
	MarkOut(ctx context.Context, u store.OutLetter) error
	UpdateItem(ctx context.Context, id int64, u store.ItemUpdate) (store.Item, error)
}

// tgShard is the replies of the chats one sender goroutine serves, in
// the order they were queued.
type tgShard struct {
	wake chan struct{} // a reply was queued; capacity 1

	mu     sync.Mutex
	queue  []store.OutLetter // guarded by mu: pending rows, oldest first
	queued map[int64]bool    // guarded by mu: the ids in queue or being sent
}

func newShards() []*tgShard {
	out := make([]*tgShard, outboxShards)
	for i := range out {
		out[i] = &tgShard{wake: make(chan struct{}, 1), queued: map[int64]bool{}}
	}
	return out
}

// outRows makes the outbox rows of texts to chat on the item itemID; key
// makes their MessageIDs unique (the stored message or the update they
// answer), so that storing them again queues nothing twice.
func outRows(itemID, chat int64, key string, texts []string) ([]store.OutLetter, error) {
	var rows []store.OutLetter
	for i, text := range texts {
		raw, err := json.Marshal(sendPayload{ChatID: chat, Text: text})
		if err != nil {
			return nil, fmt.Errorf("telegram reply to %d: %w", chat, err)
		}
		rows = append(rows, store.OutLetter{Channel: acd.Telegram, ItemID: itemID,
			MessageID: fmt.Sprintf("tg-out:%s:%d", key, i), To: []string{strconv.FormatInt(chat, 10)}, Raw: raw})
	}
	return rows, nil
}

// queue hands rows the store has just queued to their chats' senders:
// with a store, by waking the claim loop, which claims each chat's oldest
// row in turn; without one (tests), directly.
func (tg *telegram) queue(rows []store.OutLetter) {
	if tg.claims != nil {
		tg.claims.poke()
		return
	}
	tg.take(rows)
}

// take hands rows the sender holds to their chats' shards; rows sent or
// given up before, and rows already queued, are skipped.
func (tg *telegram) take(rows []store.OutLetter) {
	for _, l := range rows {
		if l.State != store.OutPending || l.Channel != acd.Telegram {
			continue
		}
		chat, _ := strconv.ParseInt(first(l.To), 10, 64)
		sh := tg.shards[uint64(chat)%uint64(len(tg.shards))]
		sh.mu.Lock()
		if !sh.queued[l.ID] {
			sh.queued[l.ID] = true
			sh.queue = append(sh.queue, l)
		}
		sh.mu.Unlock()
		select {
		case sh.wake <- struct{}{}:
		default:
		}
	}
}

func first(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	return ss[0]
}

// head returns the shard's oldest reply, if any.
func (sh *tgShard) head() (store.OutLetter, bool) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if len(sh.queue) == 0 {
		return store.OutLetter{}, false
	}
	return sh.queue[0], true
}

// retry replaces the head by its new state after a failed attempt,
// keeping the lease the claim loop may have renewed meanwhile.
func (sh *tgShard) retry(l store.OutLetter) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	l.ClaimedUntil = sh.queue[0].ClaimedUntil
	sh.queue[0] = l
}

// headUntil is the end of the sender's lease on the head.
func (sh *tgShard) headUntil() time.Time {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.queue[0].ClaimedUntil
}

// pop drops the head, sent or given up.
func (sh *tgShard) pop() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	delete(sh.queued, sh.queue[0].ID)
	sh.queue[0] = store.OutLetter{}
	sh.queue = sh.queue[1:]
}

// sendLoop sends the replies of one shard in order within Telegram's
// limits: about 30 messages a second overall and one a second per chat. A
// chat held by its limit, by flood control or by retries holds only its
// shard.
func (tg *telegram) sendLoop(ctx context.Context, sh *tgShard) {
	for {
		l, ok := sh.head()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-sh.wake:
				continue
			}
		}
		if wait := time.Until(l.NextAt); wait > 0 && !sleepCtx(ctx, wait) {
			return
		}
		if !tg.attempt(ctx, sh, l) {
			return
		}
	}
}

// send calls sendMessage. A call under way when ctx ends may finish
// (within sendTimeout), so that a stop does not leave a reply Telegram
// took unmarked, to be sent again at the next start.
func (tg *telegram) send(ctx context.Context, p sendPayload) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sendTimeout)
	defer cancel()
	return tg.api.SendMessage(sctx, p.ChatID, p.Text)
}

// attempt sends the shard's head reply once and records the result. It
// reports false when ctx ended before the attempt (the reply stays
// pending for the next start).
func (tg *telegram) attempt(ctx context.Context, sh *tgShard, l store.OutLetter) bool {
	if !tg.holds(sh) {
		tg.m.log.Info("telegram reply's lease ran out before it was sent; left to whoever claims it",
			"item_id", l.ItemID, "peer", first(l.To))
		sh.pop()
		return true
	}
	var p sendPayload
	if err := json.Unmarshal(l.Raw, &p); err != nil || p.ChatID == 0 || p.Text == "" {
		tg.giveUp(ctx, sh, l, fmt.Errorf("stored payload %.64q: not sendMessage parameters", l.Raw))
		return true
	}
	if tg.overall.Wait(ctx) != nil || tg.chatLimiter(p.ChatID).Wait(ctx) != nil {
		return false
	}
	err := tg.send(ctx, p)
	if err != nil && ctx.Err() != nil {
		return false
	}
	log := tg.m.log.With("item_id", l.ItemID, "peer", p.ChatID)
	var ae *botapi.APIError
	switch {
	case err == nil:
		l.Attempts++
		l.State, l.LastError = store.OutSent, ""
		tg.mark(ctx, l, log)
		sh.pop()
		tg.claims.poke() // the chat's next reply may be claimed now
	case errors.As(err, &ae) && ae.RetryAfter > 0:
		// Flood control says when to come back; that is not a failure.
		log.Warn("telegram flood control; waiting", "retry_in", ae.RetryAfter.String())
		l.NextAt, l.LastError = time.Now().Add(ae.RetryAfter), err.Error()
		sh.retry(l)
	case permanent(err) || l.Attempts+1 >= maxSendAttempts:
		l.Attempts++
		tg.giveUp(ctx, sh, l, err)
	default:
		l.Attempts++
		wait := backoff(l.Attempts)
		log.Warn("telegram send failed; retrying", "err", err, "attempt", l.Attempts, "retry_in", wait.String())
		l.State, l.LastError, l.NextAt = store.OutPending, err.Error(), time.Now().Add(wait)
		l.ClaimedUntil = sh.headUntil() // kept: the chat waits for this reply, here
		tg.mark(ctx, l, log)
		sh.retry(l)
	}
	return true
}

// permanent reports whether Telegram refused a reply for good: 403 (the
// user blocked the bot, or the bot was removed from the chat) and 400
// (the chat was not found, the text is refused). 401 and 404 say the
// token is wrong, which an operator fixes: those are retried.
func permanent(err error) bool {
	var ae *botapi.APIError
	return errors.As(err, &ae) && (ae.Code == http.StatusForbidden || ae.Code == http.StatusBadRequest)
}

// backoff is the wait after the n-th failed attempt.
func backoff(n int) time.Duration {
	d := sendBackoff
	for i := 1; i < n && d < maxSendBackoff; i++ {
		d *= 2
	}
	return min(d, maxSendBackoff)
}

// giveUp marks the head failed, tells its item's history why, and drops
// it.
func (tg *telegram) giveUp(ctx context.Context, sh *tgShard, l store.OutLetter, cause error) {
	log := tg.m.log.With("item_id", l.ItemID, "peer", first(l.To))
	log.Warn("telegram reply given up", "err", cause, "attempts", l.Attempts)
	l.State, l.LastError = store.OutFailed, cause.Error()
	tg.mark(ctx, l, log)
	sh.pop()
	tg.claims.poke()
	if l.ItemID == 0 {
		return
	}
	data, _ := json.Marshal(map[string]any{"channel": acd.Telegram, "outbox_id": l.ID,
		"attempts": l.Attempts, "error": cause.Error()})
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	_, err := tg.marks.UpdateItem(ctx, l.ItemID, store.ItemUpdate{Event: store.Event{At: tg.m.now(),
		Type: EventSendFailed, Data: data}})
	if err != nil {
		log.Error("a given-up telegram reply not noted on its item", "err", err)
		return
	}
	if f := tg.m.sendFailed.Load(); f != nil {
		(*f)(l.ItemID)
	}
}

// OnSendFailed makes f hear of each reply given up, with its item's id,
// once the send_failed event is stored on the item. f must not block (the
// console queues a message to the consoles that see the item). It is safe
// to call at any time.
func (m *Messenger) OnSendFailed(f func(itemID int64)) { m.sendFailed.Store(&f) }

// mark records an attempt's result. It runs even while stopping: a reply
// sent must not stay pending. A failure is logged; at worst the reply is
// sent again after a restart.
func (tg *telegram) mark(ctx context.Context, l store.OutLetter, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	err := tg.marks.MarkOut(ctx, l)
	switch {
	case errors.Is(err, store.ErrClaimed):
		log.Info("telegram reply taken over by another sender before its retry was recorded")
	case err != nil:
		log.Error("telegram reply's attempt not recorded; it may be sent again", "state", l.State, "err", err)
	}
}
