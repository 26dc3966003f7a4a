package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/console/hub"
	"github.com/morozhq/moroz/store"
)

// Mailings runs personalised mailings for the API (the mail package's
// Mailer, adapted by the node). Its methods are safe for concurrent use.
// Errors wrap store.ErrNotFound, store.ErrInvalid (a bad draft) or
// ErrMailingState (an action the mailing's state does not allow).
type Mailings interface {
	Create(ctx context.Context, d MailingDraft) (store.Mailing, error)
	Start(ctx context.Context, id int64) (store.Mailing, error)
	Pause(ctx context.Context, id int64) (store.Mailing, error)
	Resume(ctx context.Context, id int64) (store.Mailing, error)
}

// ErrMailingState means a mailing's state does not allow the action: the
// API answers 409.
var ErrMailingState = errors.New("mailing state does not allow it")

// MailingDraft is a new mailing: who gets it (contacts with an email
// address and an item since Since, optionally only of Queue or Channel),
// what (a template, in each contact's language), when and how fast.
type MailingDraft struct {
	Name        string      `json:"name"`
	TemplateID  int64       `json:"template_id"`
	Since       time.Time   `json:"since"`
	Queue       string      `json:"queue,omitempty"`
	Channel     acd.Channel `json:"channel,omitempty"`
	RatePerMin  int         `json:"rate_per_min"`
	ScheduledAt time.Time   `json:"scheduled_at"`
}

// mailingJSON is a mailing as the API and the websocket show it.
type mailingJSON struct {
	ID          int64           `json:"id"`
	Name        string          `json:"name"`
	TemplateID  int64           `json:"template_id"`
	Audience    json.RawMessage `json:"audience,omitempty"`
	State       string          `json:"state"`
	RatePerMin  int             `json:"rate_per_min"`
	ScheduledAt time.Time       `json:"scheduled_at"`
	CreatedAt   time.Time       `json:"created_at"`
	Total       int64           `json:"total"`
	Sent        int64           `json:"sent"`
}

func toMailingJSON(m store.Mailing) mailingJSON {
	return mailingJSON{ID: m.ID, Name: m.Name, TemplateID: m.TemplateID, Audience: m.Audience, State: m.State,
		RatePerMin: m.RatePerMin, ScheduledAt: m.ScheduledAt.UTC(), CreatedAt: m.CreatedAt.UTC(),
		Total: m.Total, Sent: m.Sent}
}

// msgMailing is the websocket message that carries a mailing's progress
// to supervisors: {"type": "mailing", "data": {...mailing...}}.
const msgMailing = "mailing"

// PublishMailing pushes m's state and counts to every supervisor's
// console (the progress bar). It does not block.
func (s *Server) PublishMailing(m store.Mailing) {
	s.hub.Publish(hub.Audience{Supervisors: true}, encode(envelope{Type: msgMailing, Data: toMailingJSON(m)}))
}

// mailingRoutes registers the mailings' API; without Options.Mailings
// the actions answer 503 and the reads still work.
func (s *Server) mailingRoutes(mux *http.ServeMux) {
	s.api(mux, "GET /api/v1/mailings", store.RoleSupervisor, s.listMailings)
	s.api(mux, "GET /api/v1/mailings/{id}", store.RoleSupervisor, s.getMailing)
	s.api(mux, "POST /api/v1/mailings", store.RoleSupervisor, s.createMailing)
	s.api(mux, "POST /api/v1/mailings/{id}/{action}", store.RoleSupervisor, s.mailingAction)
}

func (s *Server) listMailings(w http.ResponseWriter, r *http.Request, p Principal) {
	ms, err := s.opt.Store.ListMailings(r.Context())
	if err != nil {
		s.storeError(w, "list mailings", err)
		return
	}
	out := make([]mailingJSON, 0, len(ms))
	for _, m := range ms {
		out = append(out, toMailingJSON(m))
	}
	writeJSON(w, http.StatusOK, map[string]any{"mailings": out})
}

func (s *Server) getMailing(w http.ResponseWriter, r *http.Request, p Principal) {
	id, ok := pathID(r)
	if !ok {
		writeError(w, http.StatusBadRequest, "mailing id must be a positive number")
		return
	}
	m, err := s.opt.Store.Mailing(r.Context(), id)
	if err != nil {
		s.storeError(w, "read mailing", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"mailing": toMailingJSON(m)})
}

func (s *Server) createMailing(w http.ResponseWriter, r *http.Request, p Principal) {
	if s.opt.Mailings == nil {
		writeError(w, http.StatusServiceUnavailable, "mailings need mail.relay.addr")
		return
	}
	var d MailingDraft
	if err := decodeJSON(w, r, &d); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if msg := d.check(); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	m, err := s.opt.Mailings.Create(r.Context(), d)
	if err != nil {
		s.mailingError(w, "create mailing", err)
		return
	}
	s.audit.record(p, "mailing_create", m.Name)
	writeJSON(w, http.StatusCreated, map[string]any{"mailing": toMailingJSON(m)})
}

func (d MailingDraft) check() string {
	switch {
	case strings.TrimSpace(d.Name) == "" || len(d.Name) > 200:
		return "name is required, at most 200 bytes"
	case d.TemplateID <= 0:
		return "template_id is required"
	case d.RatePerMin < 0 || d.RatePerMin > 100000:
		return "rate_per_min: want 0 (no limit) to 100000"
	case d.Channel != "" && !d.Channel.Valid():
		return "channel: unknown"
	}
	return ""
}

func (s *Server) mailingAction(w http.ResponseWriter, r *http.Request, p Principal) {
	id, ok := pathID(r)
	if !ok {
		writeError(w, http.StatusBadRequest, "mailing id must be a positive number")
		return
	}
	if s.opt.Mailings == nil {
		writeError(w, http.StatusServiceUnavailable, "mailings need mail.relay.addr")
		return
	}
	actions := map[string]func(context.Context, int64) (store.Mailing, error){
		"start": s.opt.Mailings.Start, "pause": s.opt.Mailings.Pause, "resume": s.opt.Mailings.Resume,
	}
	action := r.PathValue("action")
	do, ok := actions[action]
	if !ok {
		writeError(w, http.StatusNotFound, "no such action: want start, pause or resume")
		return
	}
	m, err := do(r.Context(), id)
	if err != nil {
		s.mailingError(w, action+" mailing", err)
		return
	}
	s.audit.record(p, "mailing_"+action, m.Name)
	writeJSON(w, http.StatusOK, map[string]any{"mailing": toMailingJSON(m)})
}

func (s *Server) mailingError(w http.ResponseWriter, op string, err error) {
	switch {
	case errors.Is(err, ErrMailingState):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, store.ErrInvalid):
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		s.storeError(w, op, err)
	}
}
