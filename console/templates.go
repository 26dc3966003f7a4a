package console

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/morozhq/moroz/store"
)

// templateJSON is a reply template. Its body holds variables written
// {{name}}, filled in the console from the contact card before sending.
type templateJSON struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Lang      string    `json:"lang"`
	Queue     string    `json:"queue"`
	Subject   string    `json:"subject"`
	Body      string    `json:"body"`
	Uses      int64     `json:"uses"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toTemplateJSON(t store.Template) templateJSON {
	return templateJSON{ID: t.ID, Name: t.Name, Lang: t.Lang, Queue: t.Queue, Subject: t.Subject, Body: t.Body,
		Uses: t.Uses, UpdatedAt: t.UpdatedAt.UTC()}
}

type templateIn struct {
	Name    string `json:"name"`
	Lang    string `json:"lang"`
	Queue   string `json:"queue"`
	Subject string `json:"subject"`
	Body    string `json:"body"`
}

func (in templateIn) check() string {
	switch {
	case strings.TrimSpace(in.Name) == "":
		return "name is required"
	case len(in.Name) > 200 || len(in.Subject) > 500:
		return "name or subject too long"
	case len(in.Body) > 64<<10:
		return "body longer than 64 KiB"
	case in.Lang != "" && !slices.Contains(langs, in.Lang):
		return "lang: want ru, be or en"
	}
	return ""
}

// langs are the console's languages; the first is the default.
var langs = []string{"ru", "be", "en"}

func (s *Server) listTemplates(w http.ResponseWriter, r *http.Request, p Principal) {
	ts, err := s.opt.Store.ListTemplates(r.Context())
	if err != nil {
		s.storeError(w, "list templates", err)
		return
	}
	out := make([]templateJSON, 0, len(ts))
	for _, t := range ts {
		out = append(out, toTemplateJSON(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"templates": out})
}

func (s *Server) putTemplate(w http.ResponseWriter, r *http.Request, p Principal) {
	var in templateIn
	if err := decodeJSON(w, r, &in); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if msg := in.check(); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	if msg := checkTemplateText(in.Subject, in.Body); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	t := store.Template{Name: in.Name, Lang: in.Lang, Queue: in.Queue, Subject: in.Subject, Body: in.Body}
	status := http.StatusCreated
	if r.Method == http.MethodPut {
		id, ok := pathID(r)
		if !ok {
			writeError(w, http.StatusBadRequest, "template id must be a positive number")
			return
		}
		if _, err := s.opt.Store.Template(r.Context(), id); err != nil {
			s.storeError(w, "read template", err)
			return
		}
		t.ID, status = id, http.StatusOK
	}
	stored, err := s.opt.Store.PutTemplate(r.Context(), t)
	if err != nil {
		s.storeError(w, "put template", err)
		return
	}
	s.audit.record(p, "template_"+strings.ToLower(r.Method), stored.Name)
	writeJSON(w, status, map[string]any{"template": toTemplateJSON(stored)})
}

func (s *Server) deleteTemplate(w http.ResponseWriter, r *http.Request, p Principal) {
	id, ok := pathID(r)
	if !ok {
		writeError(w, http.StatusBadRequest, "template id must be a positive number")
		return
	}
	if err := s.opt.Store.DeleteTemplate(r.Context(), id); err != nil {
		s.storeError(w, "delete template", err)
		return
	}
	s.audit.record(p, "template_delete", strconv.FormatInt(id, 10))
	w.WriteHeader(http.StatusNoContent)
}
