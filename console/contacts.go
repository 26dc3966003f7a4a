package console

import (
	"net/http"
	"slices"

	"github.com/morozhq/moroz/store"
)

type identityJSON struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

type contactJSON struct {
	ID         int64             `json:"id"`
	Name       string            `json:"name"`
	Lang       string            `json:"lang"`
	Fields     map[string]string `json:"fields"`
	Identities []identityJSON    `json:"identities"`
	Items      []itemJSON        `json:"items"` // every item of the contact, all channels, oldest first
}

// getContact serves GET /api/v1/contacts/{id}: the card and the whole
// history. A helper sees the contact of an item offered or assigned to
// them; a supervisor sees every contact.
func (s *Server) getContact(w http.ResponseWriter, r *http.Request, p Principal) {
	id, ok := pathID(r)
	if !ok {
		writeError(w, http.StatusBadRequest, "contact id must be a positive number")
		return
	}
	c, err := s.opt.Store.Contact(r.Context(), id)
	if err != nil {
		s.storeError(w, "read contact", err)
		return
	}
	items, err := s.opt.Store.ListItems(r.Context(), store.ItemFilter{ContactID: id, Limit: 1000})
	if err != nil {
		s.storeError(w, "list contact items", err)
		return
	}
	mine := func(it store.Item) bool { return p.UserID != 0 && it.HelperID == p.UserID }
	if !p.Role.AtLeast(store.RoleSupervisor) && !slices.ContainsFunc(items, mine) {
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	out := contactJSON{ID: c.ID, Name: c.Name, Lang: c.Lang, Fields: c.Fields, Identities: []identityJSON{},
		Items: []itemJSON{}}
	if out.Fields == nil {
		out.Fields = map[string]string{}
	}
	for _, i := range c.Identities {
		out.Identities = append(out.Identities, identityJSON{i.Kind, i.Value})
	}
	for _, it := range items {
		out.Items = append(out.Items, toItemJSON(it))
	}
	writeJSON(w, http.StatusOK, out)
}

// patchMe serves PATCH /api/v1/me: a user changes their own language.
func (s *Server) patchMe(w http.ResponseWriter, r *http.Request, p Principal) {
	var in struct {
		Lang string `json:"lang"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !slices.Contains(langs, in.Lang) {
		writeError(w, http.StatusBadRequest, "lang: want ru, be or en")
		return
	}
	if p.UserID == 0 {
		writeError(w, http.StatusBadRequest, "an API token has no language")
		return
	}
	u, err := s.opt.Store.User(r.Context(), p.UserID)
	if err != nil {
		s.storeError(w, "read user", err)
		return
	}
	u.Lang = in.Lang
	if err := s.opt.Store.UpdateUser(r.Context(), u); err != nil {
		s.storeError(w, "update user", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": userJSON(u)})
}
