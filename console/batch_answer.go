package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/templates"
)

// batchOfferWait bounds the wait for the router to offer a transferred
// item to the answering helper.
const batchOfferWait = 10 * time.Second

// maxBatch bounds the items of one batch answer.
const maxBatch = 500

type batchAnswerIn struct {
	ItemIDs    []int64 `json:"item_ids"`
	TemplateID int64   `json:"template_id"`
}

// batchResult is what became of one item of a batch answer.
type batchResult struct {
	ItemID int64  `json:"item_id"`
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`
}

// answerBatch answers POST /api/v1/batches/answer: each item gets its own
// reply filled from the template for its contact, in the contact's
// language, and is completed as replied. The router's state stays its
// own: an item the caller does not hold is transferred to them, offered
// by the router and accepted, as if they had taken it from the desk; then
// it is replied to through the desk's Reply (the mail sender threads it)
// and completed, and the wrap-up ended so the next can be offered.
func (s *Server) answerBatch(w http.ResponseWriter, r *http.Request, p Principal) {
	if s.opt.Desk == nil {
		writeError(w, http.StatusServiceUnavailable, "no router")
		return
	}
	if p.UserID == 0 {
		writeError(w, http.StatusBadRequest, "answering needs a helper's login, not a token")
		return
	}
	var in batchAnswerIn
	if err := decodeJSON(w, r, &in); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if len(in.ItemIDs) == 0 || len(in.ItemIDs) > maxBatch || in.TemplateID <= 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("want template_id and 1 to %d item_ids", maxBatch))
		return
	}
	versions, err := s.templateVersions(r.Context(), in.TemplateID)
	if err != nil {
		s.storeError(w, "batch answer", err)
		return
	}
	out := make([]batchResult, 0, len(in.ItemIDs))
	for left := slices.Clone(in.ItemIDs); len(left) > 0; {
		id := s.nextOf(left, p.UserID)
		left = slices.DeleteFunc(left, func(x int64) bool { return x == id })
		res := batchResult{ItemID: id, OK: true}
		if err := s.answerOne(r.Context(), id, p, versions); err != nil {
			res.OK, res.Error = false, err.Error()
		}
		out = append(out, res)
	}
	s.audit.record(p, "batch_answer", fmt.Sprintf("template %d, %d items", in.TemplateID, len(in.ItemIDs)))
	writeJSON(w, http.StatusOK, map[string]any{"results": out})
}

// templateVersions returns the template with id and its other languages.
func (s *Server) templateVersions(ctx context.Context, id int64) ([]store.Template, error) {
	t, err := s.opt.Store.Template(ctx, id)
	if err != nil {
		return nil, err
	}
	all, err := s.opt.Store.ListTemplates(ctx)
	if err != nil {
		return nil, err
	}
	vs := []store.Template{t}
	for _, v := range all {
		if v.Name == t.Name && v.ID != t.ID {
			vs = append(vs, v)
		}
	}
	return vs, nil
}

func (s *Server) answerOne(ctx context.Context, itemID int64, p Principal, versions []store.Template) error {
	it, err := s.opt.Store.Item(ctx, itemID)
	if err != nil {
		return err
	}
	c := store.Contact{}
	if it.ContactID != 0 {
		if c, err = s.opt.Store.Contact(ctx, it.ContactID); err != nil {
			return err
		}
	}
	t, _ := templates.Pick(versions, versions[0].Name, c.Lang, it.Queue)
	msg, err := templates.Fill(t, templates.Data{Contact: c, Item: it, Helper: p.Name})
	if err != nil {
		return err
	}
	if err := s.take(ctx, itemID, p.UserID); err != nil {
		return err
	}
	if _, err := s.opt.Desk.Reply(ctx, itemID, p.UserID, store.Message{Subject: msg.Subject, Text: msg.Body,
		TemplateID: t.ID}); err != nil {
		return err
	}
	if err := s.opt.Desk.Complete(ctx, itemID, p.UserID, acd.OutcomeReplied, "batch answer"); err != nil {
		return err
	}
	if hi, ok := s.helperInfo(p.UserID); ok && hi.WrapUp {
		return s.opt.Desk.EndWrapUp(ctx, p.UserID)
	}
	return nil
}

// nextOf picks the item to answer next: the one the router offers the
// helper now when it is among left (the router offers on its own as
// room frees up), else the first.
func (s *Server) nextOf(left []int64, helperID int64) int64 {
	if hi, ok := s.helperInfo(helperID); ok && slices.Contains(left, hi.Offer) {
		return hi.Offer
	}
	return left[0]
}

// errOfferPending means the helper has another offer to answer first.
var errOfferPending = errors.New("answer the item offered to you first")

// take makes helperID hold itemID: transferred to them, offered and
// accepted, unless they hold it already.
func (s *Server) take(ctx context.Context, itemID, helperID int64) error {
	hi, ok := s.helperInfo(helperID)
	if !ok {
		return fmt.Errorf("item %d: you are not logged in to the router", itemID)
	}
	if slices.Contains(hi.Active, itemID) {
		return nil
	}
	if hi.Offer != 0 && hi.Offer != itemID {
		return fmt.Errorf("item %d: %w", itemID, errOfferPending)
	}
	offered := make(chan struct{}, 1)
	stop := s.opt.Desk.Listen(func(e acd.Event) {
		if e.Type == acd.EventOffered && e.ItemID == itemID && e.HelperID == helperID {
			select {
			case offered <- struct{}{}:
			default:
			}
		}
	})
	defer stop()
	if hi.Offer != itemID {
		if err := s.opt.Desk.Transfer(ctx, itemID, acd.Target{Helper: helperID}); err != nil {
			return err
		}
		if err := s.waitOffer(ctx, itemID, offered); err != nil {
			return err
		}
	}
	return s.opt.Desk.Accept(ctx, itemID, helperID)
}

func (s *Server) waitOffer(ctx context.Context, itemID int64, offered <-chan struct{}) error {
	t := time.NewTimer(batchOfferWait)
	defer t.Stop()
	select {
	case <-offered:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("item %d: not offered to you within %s (no room for another letter?)", itemID, batchOfferWait)
	}
}

func (s *Server) helperInfo(id int64) (acd.HelperInfo, bool) {
	for _, h := range s.opt.Desk.Helpers() {
		if h.ID == id {
			return h, true
		}
	}
	return acd.HelperInfo{}, false
}
