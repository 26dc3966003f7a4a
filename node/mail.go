package node

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/mail"
	"github.com/morozhq/moroz/messenger"
	"github.com/morozhq/moroz/store"
)

// mailNode is the letters' part of a node: the SMTP intake, the poller of
// an IMAP mailbox when one is configured and, when a relay is configured,
// the outbox that sends replies and auto-replies.
type mailNode struct {
	srv    *mail.Server
	ln     net.Listener
	outbox *mail.Outbox     // nil without a relay
	imap   *mail.IMAPPoller // nil without mail.imap.addr

	mu       sync.Mutex
	expected map[string]expectation // queue to its last estimate; guarded by mu
}

type expectation struct {
	wait time.Duration
	at   time.Time
}

// expectedFor is how long the estimate of a queue's wait is reused: the
// router sorts a queue to answer, and a burst of letters needs it once.
const expectedFor = time.Second

// startMail builds the intake from cfg.Mail and binds smtp.addr (empty
// turns letters off).
func (n *Node) startMail() error {
	if n.cfg.SMTP.Addr == "" {
		return nil
	}
	mc := n.cfg.Mail
	mc.Listen, mc.DataDir = n.cfg.SMTP.Addr, n.cfg.Data
	mn := &mailNode{expected: map[string]expectation{}}
	log := n.log.With("component", "mail")
	if mc.Relay.Addr != "" {
		relay, err := mail.NewRelay(mc.Relay)
		if err != nil {
			return err
		}
		outCfg := mc.Outbox
		outCfg.Lease, outCfg.Poll = n.cfg.Outbox.Lease, n.cfg.Outbox.Poll // the mailings' outbox sends theirs
		outCfg.Done = func(m mail.Outgoing, err error) {
			if err != nil {
				n.letterGivenUp(m, err, log)
			}
		}
		mn.outbox = mail.NewStoredOutbox(relay, n.store, outCfg, log)
		mc = mc.WithDefaults()
		n.work.SetSender(acd.Email, mail.StoredSender{Replier: &mail.Replier{Store: n.store, Outbox: mn.outbox,
			From: mail.Address{Name: mc.AutoReply.Name, Addr: mc.AutoReply.From + "@" + mc.Domains[0]}, Domain: mc.Domains[0]}})
	} else {
		log.Warn("mail.relay.addr is not set: replies and auto-replies are stored but not sent")
	}
	srv, err := mail.NewServer(mc, mail.ServerOptions{Store: n.store, Intake: n.work, Outbox: mn.outbox,
		Expected: mn.expectedWait(n.work.Router()), Logger: log})
	if err != nil {
		return err
	}
	if mc.IMAP.Addr != "" {
		if mn.imap, err = mail.NewIMAPPoller(srv, n.store, log); err != nil {
			srv.Close()
			return err
		}
	}
	ln, err := srv.Listen()
	if err != nil {
		srv.Close()
		return fmt.Errorf("smtp.addr %s: %w", n.cfg.SMTP.Addr, err)
	}
	mn.srv, mn.ln = srv, ln
	n.mail = mn
	n.setAddr("smtp", ln.Addr().String())
	return nil
}

// expectedWait answers the intake's question for auto-replies: how long
// until a letter that joins queue now is answered.
func (mn *mailNode) expectedWait(r *acd.Router) func(ctx context.Context, queue string) time.Duration {
	return func(ctx context.Context, queue string) time.Duration {
		now := time.Now()
		mn.mu.Lock()
		e, ok := mn.expected[queue]
		mn.mu.Unlock()
		if ok && now.Sub(e.at) < expectedFor {
			return e.wait
		}
		waiting, err := r.Waiting(queue)
		if err != nil || len(waiting) == 0 || !waiting[len(waiting)-1].Known {
			return 0 // unknown: the auto-reply says so
		}
		wait := waiting[len(waiting)-1].Wait
		mn.mu.Lock()
		mn.expected[queue] = expectation{wait: wait, at: now}
		mn.mu.Unlock()
		return wait
	}
}

// runMail serves SMTP and runs the outbox until ctx ends or the node
// drains. Draining stops the intake (its clients get mail.drain_timeout to
// finish), then lets the outbox send what is queued for at most the
// node's drain period.
func (n *Node) runMail(ctx context.Context) error {
	mn := n.mail
	if mn == nil {
		return nil
	}
	serveCtx, stopServe := context.WithCancel(ctx)
	defer stopServe()
	outCtx, stopOutbox := context.WithCancel(ctx)
	defer stopOutbox()

	serveErr := make(chan error, 1)
	go func() { serveErr <- mn.srv.Serve(serveCtx, mn.ln) }()
	pollDone := make(chan struct{})
	go func() {
		defer close(pollDone)
		if mn.imap != nil {
			_ = mn.imap.Run(serveCtx) // returns nil when serveCtx ends
		}
	}()
	outboxDone := make(chan struct{})
	go func() {
		defer close(outboxDone)
		if mn.outbox != nil {
			if err := mn.outbox.Run(outCtx); err != nil {
				n.log.Error("outbox stopped: replies are not sent", "err", err)
			}
		}
	}()

	var err error
	select {
	case <-ctx.Done():
	case <-n.drained:
		stopServe()
	case err = <-serveErr: // the intake failed
		serveErr <- err
	}
	err = <-serveErr
	stopServe()
	<-pollDone
	if ctx.Err() == nil && mn.outbox != nil {
		mn.flush(ctx, n.cfg.Drain)
	}
	stopOutbox()
	<-outboxDone
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// flush waits until the outbox has sent what is queued, for at most d.
func (mn *mailNode) flush(ctx context.Context, d time.Duration) {
	deadline := time.After(d)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for mn.outbox.Pending() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-deadline:
			return
		case <-tick.C:
		}
	}
}

func (n *Node) closeMail() error {
	if n.mail == nil {
		return nil
	}
	return n.mail.srv.Close()
}

// letterGivenUp notes a reply or auto-reply the outbox gave up on its
// item's history, as a Telegram reply given up is
// (messenger.EventSendFailed), and tells the consoles that see the item:
// the helper learns that the contact did not get it.
func (n *Node) letterGivenUp(m mail.Outgoing, cause error, log *slog.Logger) {
	if m.ItemID == 0 {
		return
	}
	data, _ := json.Marshal(map[string]any{"channel": acd.Email, "message_id": m.MessageID, "error": cause.Error()})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := n.store.UpdateItem(ctx, m.ItemID, store.ItemUpdate{Event: store.Event{At: time.Now(),
		Type: messenger.EventSendFailed, Data: data}})
	if err != nil {
		log.Error("a given-up letter not noted on its item", "item_id", m.ItemID, "err", err)
		return
	}
	if n.console != nil {
		n.console.NoteItemEvent(m.ItemID, messenger.EventSendFailed)
	}
}
