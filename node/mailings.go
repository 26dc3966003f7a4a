package node

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/morozhq/moroz/config"
	"github.com/morozhq/moroz/console"
	"github.com/morozhq/moroz/mail"
	"github.com/morozhq/moroz/store"
)

// mailingNode runs personalised mailings. It has an outbox of its own
// over the same relay as replies, so that a mailing of thousands does not
// queue ahead of a helper's answer, and so that its letters are never cut
// off mid-send (mail.Uncancelled). Both outboxes keep their queue in the
// store's one outbox table; each resumes only its own letters.
type mailingNode struct {
	mailer *mail.Mailer
	outbox *mail.Outbox
	unsub  *mail.Unsubscribes

	mu  sync.Mutex
	srv *console.Server // guarded by mu; nil until the console is built
}

// startMailings builds the mailer when letters can be sent (smtp.addr and
// mail.relay.addr set); without them mailings are off.
func (n *Node) startMailings() error {
	mc := n.cfg.Mail.WithDefaults()
	if n.mail == nil || mc.Relay.Addr == "" {
		return nil
	}
	key, err := unsubscribeKey(n.DataPath("mail", "unsubscribe.key"))
	if err != nil {
		return err
	}
	relay, err := mail.NewRelay(mc.Relay)
	if err != nil {
		return err
	}
	log := n.log.With("component", "mailings")
	mn := &mailingNode{}
	outCfg := mc.Outbox
	outCfg.Done = func(m mail.Outgoing, err error) { mn.mailer.OnDone(m, err) }
	outCfg.Mailings, outCfg.Lease, outCfg.Poll = true, n.cfg.Outbox.Lease, n.cfg.Outbox.Poll
	mn.outbox = mail.NewStoredOutbox(mail.Uncancelled(relay), n.store, outCfg, log)
	mn.unsub = &mail.Unsubscribes{Key: key, Store: n.store, Logger: log}
	mn.mailer, err = mail.NewMailer(mail.MailerOptions{Store: n.store, Outbox: mn.outbox, Unsubscribes: mn.unsub,
		From:   mail.Address{Name: mc.AutoReply.Name, Addr: mc.AutoReply.From + "@" + mc.Domains[0]},
		Domain: mc.Domains[0], Logger: log, Progress: mn.publish})
	if err != nil {
		return err
	}
	n.mailings = mn
	return nil
}

// unsubscribeKey reads the key that signs unsubscribe links, making it on
// first start. It lives in the data folder so that links in letters
// already sent keep working after a restart.
func unsubscribeKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if err == nil && len(key) >= 32 {
		return key, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("unsubscribe key %s: %w", path, err)
	}
	key = make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("unsubscribe key %s: %w", path, err)
	}
	if err := os.WriteFile(path, key, 0o600); err != nil {
		return nil, fmt.Errorf("unsubscribe key %s: %w", path, err)
	}
	return key, nil
}

// withMailingMounts adds the unsubscribe pages to the HTTP listener.
func (n *Node) withMailingMounts(m map[string]http.Handler) map[string]http.Handler {
	if n.mailings == nil {
		return m
	}
	for p, h := range n.mailings.unsub.Routes() {
		m[p] = h
	}
	return m
}

// setConsole gives the mailings the console to show their progress in,
// and the address their unsubscribe links point at: http.public_url, else
// the first of http.origins, else the HTTP listener's.
func (mn *mailingNode) setConsole(srv *console.Server, h config.HTTP, addr string) {
	mn.mu.Lock()
	mn.srv = srv
	mn.mu.Unlock()
	mn.unsub.BaseURL = publicURL(h, addr)
}

// publicURL is where links in letters point: http.public_url, else the
// first of http.origins, else the listener's address; without a final
// slash.
func publicURL(h config.HTTP, addr string) string {
	switch {
	case h.PublicURL != "":
		return strings.TrimRight(h.PublicURL, "/")
	case len(h.Origins) > 0:
		return strings.TrimRight(h.Origins[0], "/")
	}
	return "http://" + addr
}

func (mn *mailingNode) publish(m store.Mailing) {
	mn.mu.Lock()
	srv := mn.srv
	mn.mu.Unlock()
	if srv != nil {
		srv.PublishMailing(m)
	}
}

// runMailings sends mailings until ctx ends or the node drains. Stopping
// stops the mailer first and lets the outbox send what it holds, for at
// most the drain period when draining; what it did not send waits in the
// store for the next start.
func (n *Node) runMailings(ctx context.Context) error {
	mn := n.mailings
	if mn == nil {
		return nil
	}
	mailCtx, stopMailer := context.WithCancel(ctx)
	defer stopMailer()
	outCtx, stopOutbox := context.WithCancel(ctx)
	defer stopOutbox()
	var wg sync.WaitGroup
	wg.Go(func() { _ = mn.outbox.Run(outCtx) })
	wg.Go(func() { _ = mn.mailer.Run(mailCtx) })
	wg.Go(func() {
		select {
		case <-ctx.Done():
		case <-n.drained:
		}
		stopMailer()
		if ctx.Err() == nil {
			flushOutbox(ctx, mn.outbox, n.cfg.Drain)
		}
		stopOutbox()
	})
	wg.Wait()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), mail.DefaultStoreTimeout)
	defer cancel()
	if err := mn.mailer.Release(rctx); err != nil {
		n.log.Error("mailing recipients not put back", "err", err)
	}
	return nil
}

// flushOutbox waits until o has sent what it holds, for at most d.
func flushOutbox(ctx context.Context, o *mail.Outbox, d time.Duration) {
	deadline := time.After(d)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for o.Pending() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-deadline:
			return
		case <-tick.C:
		}
	}
}

// mailingsAPI adapts the mailer to the console's Mailings.
type mailingsAPI struct{ ml *mail.Mailer }

func (a mailingsAPI) Create(ctx context.Context, d console.MailingDraft) (store.Mailing, error) {
	return a.ml.Create(ctx, mail.Draft{Name: d.Name, TemplateID: d.TemplateID, RatePerMin: d.RatePerMin,
		ScheduledAt: d.ScheduledAt, Audience: mail.Audience{Since: d.Since, Queue: d.Queue, Channel: d.Channel}})
}

func (a mailingsAPI) Start(ctx context.Context, id int64) (store.Mailing, error) {
	return stateErr(a.ml.Start(ctx, id))
}

func (a mailingsAPI) Pause(ctx context.Context, id int64) (store.Mailing, error) {
	return stateErr(a.ml.Pause(ctx, id))
}

func (a mailingsAPI) Resume(ctx context.Context, id int64) (store.Mailing, error) {
	return stateErr(a.ml.Resume(ctx, id))
}

func stateErr(m store.Mailing, err error) (store.Mailing, error) {
	if errors.Is(err, mail.ErrMailingState) {
		err = fmt.Errorf("%w: %w", console.ErrMailingState, err)
	}
	return m, err
}

// consoleMailings is the console's Mailings, nil when mailings are off.
func (n *Node) consoleMailings() console.Mailings {
	if n.mailings == nil {
		return nil
	}
	return mailingsAPI{ml: n.mailings.mailer}
}
