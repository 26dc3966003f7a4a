package work

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/stats"
	"github.com/morozhq/moroz/store"
)

// Submit stores it with its first event and then hands it to the router.
// A nil error means the item is durably stored and the sender may be
// acknowledged; an item the router refuses (a full queue, say) stays stored
// and waiting, is logged, and returns to the router at the next start. An
// item whose channel and external id were submitted before is returned as
// stored, with created false, and is not routed again.
//
// Zero fields get defaults: Queue by channel, State queued, CreatedAt and
// first.At now. An item submitted closed (answered on arrival, as a letter
// whose queue lets the auto-reply answer it) is stored and not routed.
func (s *Service) Submit(ctx context.Context, it store.Item, first store.Event) (store.Item, bool, error) {
	f, err := s.File(ctx, store.Arrival{Item: it, First: first})
	return f.Item, f.Created, err
}

// File is Submit for an item that arrives with more than its first
// event: its sender's contact, its first messages, the letters queued in
// answer (see store.Arrival). All of it is stored in one commit before
// the item is routed, so a nil error means all of it is durable.
func (s *Service) File(ctx context.Context, a store.Arrival) (store.Filed, error) {
	it := &a.Item
	if !it.Channel.Valid() {
		return store.Filed{}, fmt.Errorf("submit: unknown channel %q", it.Channel)
	}
	now := s.now()
	if it.Queue == "" {
		it.Queue = s.queueFor(it.Channel)
	}
	if !s.queues[it.Queue] {
		return store.Filed{}, fmt.Errorf("submit: %w %q", acd.ErrUnknownQueue, it.Queue)
	}
	closed := it.State == acd.StateClosed // answered on arrival (an auto-reply that closes)
	if !closed {
		it.State = acd.StateQueued
	}
	if it.CreatedAt.IsZero() {
		it.CreatedAt = now
	}
	if closed && it.ClosedAt.IsZero() {
		it.ClosedAt = now
	}
	if a.First.Type == "" {
		a.First.Type = "received"
	}
	if a.First.At.IsZero() {
		a.First.At = now
	}
	f, err := s.st.FileItem(ctx, a)
	if err != nil || !f.Created || closed {
		return f, err
	}
	if f.Item.Channel == acd.Voicemail {
		s.day.Observe(stats.KindVoicemail, f.Item.CreatedAt)
	}
	s.route(f.Item)
	return f, nil
}

// Keep stores an item that is not for a helper yet (a chat still talking to
// the bot): it stays in state new, is not routed and is not restored into
// the router at start, until Route. Like Submit, a nil error means stored;
// a repeated channel and external id returns the stored item.
func (s *Service) Keep(ctx context.Context, it store.Item, first store.Event) (store.Item, bool, error) {
	if !it.Channel.Valid() {
		return store.Item{}, false, fmt.Errorf("keep: unknown channel %q", it.Channel)
	}
	now := s.now()
	if it.Queue == "" {
		it.Queue = s.queueFor(it.Channel)
	}
	it.State = acd.StateNew
	if it.CreatedAt.IsZero() {
		it.CreatedAt = now
	}
	if first.Type == "" {
		first.Type = "received"
	}
	if first.At.IsZero() {
		first.At = now
	}
	return s.st.CreateItem(ctx, it, first)
}

// Route hands an item kept with Keep to the router (the bot handed the
// chat over). The item is marked queued durably first, so that a crash
// after Route still finds it waiting at the next start. Routing an item
// already queued is not an error.
func (s *Service) Route(ctx context.Context, itemID int64, reason string) error {
	it, err := s.st.Item(ctx, itemID)
	if err != nil {
		return fmt.Errorf("route item %d: %w", itemID, err)
	}
	if it.State != acd.StateNew {
		return nil
	}
	if !s.queues[it.Queue] {
		q := s.queueFor(it.Channel)
		it.Queue = q
	}
	queued := acd.StateQueued
	data, _ := json.Marshal(map[string]string{"reason": reason})
	it, err = s.st.UpdateItem(ctx, itemID, store.ItemUpdate{State: &queued, Queue: &it.Queue,
		Event: store.Event{At: s.now(), Type: "handoff", Data: data}})
	if err != nil {
		return fmt.Errorf("route item %d: %w", itemID, err)
	}
	s.route(it)
	return nil
}

// queueFor names the queue an item of ch joins when its adapter does not
// say: the default queue for the channel when it is configured, otherwise
// the first configured queue.
func (s *Service) queueFor(ch acd.Channel) string {
	if q := DefaultQueueFor(ch); s.queues[q] {
		return q
	}
	return s.firstQueue
}

// route hands a stored item to the router.
func (s *Service) route(it store.Item) {
	_, err := s.router.Enqueue(acd.Item{ID: it.ID, Channel: it.Channel, Queue: it.Queue, Priority: it.Priority,
		Created: it.CreatedAt, Skills: parseSkills(it.Skills), SLADue: it.SLADue})
	if err != nil {
		s.log.Error("stored item not routed; it waits for the next start", "item_id", it.ID, "queue", it.Queue, "err", err)
	}
}

// SetStatus sets a helper's presence. A helper the router does not know
// yet is loaded from the store; one without a profile takes every queue.
func (s *Service) SetStatus(ctx context.Context, helperID int64, st acd.Status, reason string) error {
	if err := s.ensureHelper(ctx, helperID); err != nil {
		return err
	}
	_, err := s.router.SetStatus(helperID, st, reason)
	return err
}

func (s *Service) ensureHelper(ctx context.Context, id int64) error {
	if _, ok := s.router.Helper(id); ok {
		return nil
	}
	h, err := s.st.Helper(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		h = store.Helper{UserID: id, Queues: s.allQueues()}
		err = s.st.PutHelper(ctx, h) // so that lists and restarts know them
	}
	if err != nil {
		return fmt.Errorf("helper %d: %w", id, err)
	}
	_, err = s.router.SetHelper(s.helperConfig(h))
	return err
}

// UpdateHelper stores a helper's profile and applies it to the router.
func (s *Service) UpdateHelper(ctx context.Context, h store.Helper) error {
	if err := s.st.PutHelper(ctx, h); err != nil {
		return err
	}
	_, err := s.router.SetHelper(s.helperConfig(h))
	return err
}

// Accept takes the item offered to the helper.
func (s *Service) Accept(ctx context.Context, itemID, helperID int64) error {
	_, err := s.router.Accept(itemID, helperID)
	return err
}

// Reject declines the item offered to the helper.
func (s *Service) Reject(ctx context.Context, itemID, helperID int64) error {
	_, err := s.router.Reject(itemID, helperID, acd.RejectDeclined)
	return err
}

// Reply stores an outbound message of the helper working on the item and
// tells the router the item was answered. Sending it is the channel's
// business.
func (s *Service) Reply(ctx context.Context, itemID, helperID int64, m store.Message) (store.Message, error) {
	if err := s.holds(itemID, helperID); err != nil {
		return store.Message{}, err
	}
	m.ItemID, m.HelperID, m.Direction = itemID, helperID, "out"
	if m.CreatedAt.IsZero() {
		m.CreatedAt = s.now()
	}
	stored, _, err := s.st.AddMessage(ctx, m)
	if err != nil {
		return store.Message{}, fmt.Errorf("reply to item %d: %w", itemID, err)
	}
	if m.TemplateID != 0 {
		if err := s.st.CountTemplateUse(ctx, m.TemplateID); err != nil {
			s.log.Warn("template use not counted", "item_id", itemID, "template", m.TemplateID, "err", err)
		}
	}
	if _, err := s.router.Replied(itemID); err != nil {
		return stored, err
	}
	if err := s.send(ctx, itemID, stored); err != nil {
		return stored, err
	}
	return stored, nil
}

// Sender delivers a helper's stored reply on its item's channel: the mail
// outbox, the Telegram bot, the chat widget. Send should only queue the
// message durably or hand it to a live connection, and return quickly.
type Sender interface {
	Send(ctx context.Context, it store.Item, m store.Message) error
}

// SetSender makes snd deliver the replies to items of channel ch. Call it
// while wiring, before helpers work.
func (s *Service) SetSender(ch acd.Channel, snd Sender) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.senders[ch] = snd
}

func (s *Service) send(ctx context.Context, itemID int64, m store.Message) error {
	it, err := s.st.Item(ctx, itemID)
	if err != nil {
		return fmt.Errorf("reply to item %d: %w", itemID, err)
	}
	s.mu.Lock()
	snd := s.senders[it.Channel]
	s.mu.Unlock()
	if snd == nil {
		return nil // a channel with nothing to send (a form answered by phone, say)
	}
	if err := snd.Send(ctx, it, m); err != nil {
		return fmt.Errorf("reply to item %d: send: %w", itemID, err)
	}
	return nil
}

// Complete ends the helper's work on the item with its outcome and an
// optional note; the helper's wrap-up follows.
func (s *Service) Complete(ctx context.Context, itemID, helperID int64, outcome acd.Outcome, note string) error {
	if err := s.holds(itemID, helperID); err != nil {
		return err
	}
	if note != "" {
		s.mu.Lock()
		s.notes[itemID] = note // stored with the completed event
		s.mu.Unlock()
	}
	if _, err := s.router.Complete(itemID, outcome); err != nil {
		s.mu.Lock()
		delete(s.notes, itemID)
		s.mu.Unlock()
		return err
	}
	return nil
}

// holds checks that the helper is working on the item.
func (s *Service) holds(itemID, helperID int64) error {
	info, ok := s.router.Item(itemID)
	if !ok {
		return fmt.Errorf("item %d: %w", itemID, acd.ErrUnknownItem)
	}
	if info.HelperID != helperID {
		return fmt.Errorf("item %d: %w", itemID, ErrNotYours)
	}
	return nil
}

// EndWrapUp ends the helper's wrap-up early.
func (s *Service) EndWrapUp(ctx context.Context, helperID int64) error {
	_, err := s.router.EndWrapUp(helperID)
	return err
}

// Transfer moves an item to another queue or helper.
func (s *Service) Transfer(ctx context.Context, itemID int64, to acd.Target) error {
	_, err := s.router.Transfer(itemID, to)
	return err
}

// Recall takes an item back from its helper into its queue (a
// supervisor's action).
func (s *Service) Recall(ctx context.Context, itemID int64) error {
	_, err := s.router.Recall(itemID)
	return err
}

// Helpers returns snapshots of every helper the router knows.
func (s *Service) Helpers() []acd.HelperInfo { return s.router.Helpers() }

// Queues returns snapshots of every queue.
func (s *Service) Queues() []acd.QueueInfo { return s.router.Queues() }
