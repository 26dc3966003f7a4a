package console

import (
	"context"
	"net/http"
	"sort"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/templates"
)

// mailRoutes registers the letters' tools: template preview, the
// templates' statistics, batches of alike letters and mailings.
func (s *Server) mailRoutes(mux *http.ServeMux) {
	s.api(mux, "POST /api/v1/templates/{id}/preview", store.RoleHelper, s.previewTemplate)
	s.api(mux, "GET /api/v1/stats/templates", store.RoleSupervisor, s.templateStats)
	s.api(mux, "GET /api/v1/batches", store.RoleHelper, s.listBatches)
	s.api(mux, "POST /api/v1/batches/answer", store.RoleHelper, s.answerBatch)
	s.mailingRoutes(mux)
}

// previewIn names what a preview is filled from: an item (and its
// contact) or a contact alone.
type previewIn struct {
	ItemID    int64 `json:"item_id"`
	ContactID int64 `json:"contact_id"`
}

// previewTemplate renders a template as the item's or contact's reply
// would read, signed by the caller.
func (s *Server) previewTemplate(w http.ResponseWriter, r *http.Request, p Principal) {
	id, ok := pathID(r)
	if !ok {
		writeError(w, http.StatusBadRequest, "template id must be a positive number")
		return
	}
	var in previewIn
	if err := decodeJSON(w, r, &in); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	t, err := s.opt.Store.Template(r.Context(), id)
	if err != nil {
		s.storeError(w, "read template", err)
		return
	}
	d, err := s.templateData(r.Context(), in, p)
	if err != nil {
		s.storeError(w, "preview template", err)
		return
	}
	msg, err := templates.Fill(t, d)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"subject": msg.Subject, "body": msg.Body})
}

func (s *Server) templateData(ctx context.Context, in previewIn, p Principal) (templates.Data, error) {
	d := templates.Data{Helper: p.Name}
	if in.ItemID != 0 {
		it, err := s.opt.Store.Item(ctx, in.ItemID)
		if err != nil {
			return d, err
		}
		d.Item, in.ContactID = it, it.ContactID
	}
	if in.ContactID != 0 {
		c, err := s.opt.Store.Contact(ctx, in.ContactID)
		if err != nil {
			return d, err
		}
		d.Contact = c
	}
	return d, nil
}

// checkTemplateText refuses a template whose subject or body does not
// parse; the message says which variable and where.
func checkTemplateText(subject, body string) string {
	if err := templates.Check(subject, body); err != nil {
		return err.Error()
	}
	return ""
}

// handleStats is the handle time of answered items, split by whether
// the first answer came from a template.
type handleStats struct {
	Items     int     `json:"items"`
	AvgSecond float64 `json:"avg_seconds"`
}

// statsWindow is how many of the latest items /stats/templates reads.
const statsWindow = 2000

// templateStats answers GET /api/v1/stats/templates: for the latest
// answered items, the time from the helper's accepting the item to its
// first outbound message, with and without a template, and the seconds a
// template saves on average. The figures come from what is recorded
// anyway: the accepted event and the message's time and template.
func (s *Server) templateStats(w http.ResponseWriter, r *http.Request, p Principal) {
	items, err := s.latestItems(r.Context(), statsWindow)
	if err != nil {
		s.storeError(w, "template stats", err)
		return
	}
	var with, without []time.Duration
	for _, it := range items {
		d, tmpl, ok, err := s.handleTime(r.Context(), it.ID)
		if err != nil {
			s.storeError(w, "template stats", err)
			return
		}
		switch {
		case !ok:
		case tmpl:
			with = append(with, d)
		default:
			without = append(without, d)
		}
	}
	out := map[string]any{"with_template": summarise(with), "without_template": summarise(without)}
	if len(with) > 0 && len(without) > 0 {
		out["saved_seconds"] = summarise(without).AvgSecond - summarise(with).AvgSecond
	}
	writeJSON(w, http.StatusOK, out)
}

// latestItems returns up to n items with the highest IDs.
func (s *Server) latestItems(ctx context.Context, n int) ([]store.Item, error) {
	var all []store.Item
	f := store.ItemFilter{Limit: 1000}
	for {
		page, err := s.opt.Store.ListItems(ctx, f)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(all) > n {
			all = all[len(all)-n:]
		}
		if len(page) < f.Limit {
			return all, nil
		}
		f.AfterID = page[len(page)-1].ID
	}
}

// handleTime is the time from the item's last acceptance before its first
// answer to that answer, and whether the answer used a template.
func (s *Server) handleTime(ctx context.Context, itemID int64) (time.Duration, bool, bool, error) {
	ms, err := s.opt.Store.Messages(ctx, itemID)
	if err != nil {
		return 0, false, false, err
	}
	var first *store.Message
	for i := range ms {
		if ms[i].Direction == "out" && ms[i].HelperID != 0 {
			first = &ms[i]
			break
		}
	}
	if first == nil {
		return 0, false, false, nil
	}
	es, err := s.opt.Store.Events(ctx, itemID)
	if err != nil {
		return 0, false, false, err
	}
	var accepted time.Time
	for _, e := range es {
		if e.Type == string(acd.EventAccepted) && !e.At.After(first.CreatedAt) {
			accepted = e.At
		}
	}
	if accepted.IsZero() {
		return 0, false, false, nil
	}
	return first.CreatedAt.Sub(accepted), first.TemplateID != 0, true, nil
}

func summarise(ds []time.Duration) handleStats {
	if len(ds) == 0 {
		return handleStats{}
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return handleStats{Items: len(ds), AvgSecond: (sum / time.Duration(len(ds))).Seconds()}
}

// sortBatches orders groups by size, the largest first, then by key.
func sortBatches(bs []batchJSON) {
	sort.Slice(bs, func(i, j int) bool {
		if len(bs[i].ItemIDs) != len(bs[j].ItemIDs) {
			return len(bs[i].ItemIDs) > len(bs[j].ItemIDs)
		}
		return bs[i].Key < bs[j].Key
	})
}

func sortStrings(ss []string) { sort.Strings(ss) }
