package mail

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/morozhq/moroz/store"
)

// decideReply applies ShouldAutoReply and, when a reply is due, composes
// it into f, so its Message-ID can go into the item before it is stored.
func (s *Server) decideReply(ctx context.Context, f *filing) {
	ar := s.cfg.AutoReply
	if !ar.Enabled || s.opts.Outbox == nil {
		return
	}
	last, err := s.lastAutoReply(ctx, f)
	if err != nil {
		s.log.Warn("no auto-reply: sender's history unreadable", "message_id", f.id, "err", err)
		return
	}
	ok, reason := ShouldAutoReply(AutoReplyInput{
		Letter:      f.l,
		ReturnPath:  f.env.from,
		OwnDomains:  s.cfg.Domains,
		LastReplied: last,
		Window:      ar.Window,
		Now:         s.opts.Now(),
	})
	if !ok {
		s.log.Debug("no auto-reply", "message_id", f.id, "reason", reason)
		return
	}
	out, err := s.composeAutoReply(ctx, f)
	if err != nil {
		s.log.Warn("auto-reply not composed", "message_id", f.id, "err", err)
		return
	}
	f.reply = &out
	f.closes = slices.Contains(ar.Closes, f.env.queue)
}

// lastAutoReply returns when the letter's sender last got an auto-reply,
// from the store's per-sender marks (FileItem and markReplied write them).
// A sender with no contact yet was never marked: every mark is written in
// the commit that makes or finds the contact owning the address, and
// identities are never taken away, so a new sender costs no read.
func (s *Server) lastAutoReply(ctx context.Context, f *filing) (time.Time, error) {
	if f.contact.ID == 0 || f.sender.Norm() == "" {
		return time.Time{}, nil
	}
	return s.opts.Store.LastAutoReply(ctx, f.sender.Norm())
}

func (s *Server) composeAutoReply(ctx context.Context, f *filing) (Outgoing, error) {
	name := f.contact.Name
	if name == "" {
		name = f.sender.Name
	}
	lang := letterLang(f.l)
	d := AutoReplyData{Name: name, Address: f.env.from, Subject: f.l.Subject, Queue: f.env.queue, Lang: lang}
	if s.opts.Expected != nil {
		d.Expected = s.opts.Expected(ctx, f.env.queue)
	}
	d.ExpectedText = expectedText(lang, d.Expected)
	subject, body, err := s.replies.render(lang, d)
	if err != nil {
		return Outgoing{}, err
	}
	domain := s.cfg.Domains[0]
	f.replySubject, f.replyText = subject, body
	return Compose(Reply{
		From:       Address{Name: s.cfg.AutoReply.Name, Addr: s.cfg.AutoReply.From + "@" + domain},
		To:         Address{Name: name, Addr: f.env.from},
		Subject:    subject,
		Text:       body,
		InReplyTo:  f.id,
		References: f.l.References,
		Auto:       true,
		Date:       s.opts.Now(),
	}, domain)
}

// sendReply records the composed auto-reply as an outbound message of the
// item (so an answer to it threads back) and queues it. It returns the
// auto-reply's Message-ID, or "" when none went out.
func (s *Server) sendReply(ctx context.Context, f *filing, it store.Item) string {
	if f.reply == nil {
		return ""
	}
	out := *f.reply
	out.ItemID = it.ID
	log := s.log.With("item_id", it.ID, "message_id", out.MessageID)
	if err := s.recordReply(ctx, f, out); err != nil {
		if f.closes {
			log.Error("item closed as auto-replied but the auto-reply was not stored", "err", err)
		} else {
			log.Warn("auto-reply not stored", "err", err)
		}
		return ""
	}
	if err := s.opts.Outbox.EnqueueContext(ctx, out); err != nil {
		log.Warn("auto-reply not queued", "err", err)
		return ""
	}
	return out.MessageID
}

// markReplied records the time of an auto-reply to a reply, for the
// window; a new letter's mark is stored with it by FileItem. A failure is
// logged: at worst the sender gets a second auto-reply.
func (s *Server) markReplied(ctx context.Context, sender Address, itemID int64) {
	if err := s.opts.Store.MarkAutoReply(ctx, sender.Norm(), s.opts.Now()); err != nil {
		s.log.Warn("auto-reply window not recorded", "item_id", itemID, "err", err)
	}
}

func (s *Server) recordReply(ctx context.Context, f *filing, out Outgoing) error {
	_, _, err := s.opts.Store.AddMessage(ctx, s.replyMessage(f, out))
	return err
}

// replyMessage is the auto-reply out as an outbound message of its item.
func (s *Server) replyMessage(f *filing, out Outgoing) store.Message {
	headers, _ := json.Marshal(map[string]any{
		"auto_submitted": "auto-replied",
		"in_reply_to":    []string{f.id},
	})
	return store.Message{
		ItemID:     out.ItemID,
		Direction:  "out",
		ExternalID: out.MessageID,
		From:       s.cfg.AutoReply.From + "@" + s.cfg.Domains[0],
		To:         f.env.from,
		Subject:    f.replySubject,
		Text:       f.replyText,
		Headers:    headers,
	}
}
