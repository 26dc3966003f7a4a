package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/console/hub"
	"github.com/morozhq/moroz/stats"
	"github.com/morozhq/moroz/store"
)

func (s *Server) me(w http.ResponseWriter, r *http.Request, p Principal) {
	writeJSON(w, http.StatusOK, map[string]any{
		"login": p.Login, "name": p.Name, "role": p.Role, "lang": p.Lang, "user_id": p.UserID,
	})
}

func (s *Server) listItems(w http.ResponseWriter, r *http.Request, p Principal) {
	q := r.URL.Query()
	f := store.ItemFilter{
		Channel: acd.Channel(q.Get("channel")),
		State:   acd.State(q.Get("state")),
		Queue:   q.Get("queue"),
	}
	if f.Channel != "" && !f.Channel.Valid() {
		writeError(w, http.StatusBadRequest, "unknown channel "+strconv.Quote(string(f.Channel)))
		return
	}
	if f.State != "" && !f.State.Valid() {
		writeError(w, http.StatusBadRequest, "unknown state "+strconv.Quote(string(f.State)))
		return
	}
	var err error
	if f.AfterID, err = queryInt(q.Get("after")); err != nil {
		writeError(w, http.StatusBadRequest, "after: "+err.Error())
		return
	}
	limit, err := queryInt(q.Get("limit"))
	if err != nil || limit > 1000 {
		writeError(w, http.StatusBadRequest, "limit: want a number up to 1000")
		return
	}
	f.Limit = int(limit)
	items, err := s.visibleItems(r, p, f)
	if err != nil {
		s.storeError(w, "list items", err)
		return
	}
	out := make([]itemJSON, 0, len(items))
	for _, it := range items {
		out = append(out, toItemJSON(it))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
}

// visibleItems lists the items p may see: everything for a supervisor; for
// a helper, the items offered or assigned to them and the waiting items of
// their queues.
func (s *Server) visibleItems(r *http.Request, p Principal, f store.ItemFilter) ([]store.Item, error) {
	if p.Role.AtLeast(store.RoleSupervisor) {
		return s.opt.Store.ListItems(r.Context(), f)
	}
	mine := f
	mine.HelperID = p.UserID
	items, err := s.opt.Store.ListItems(r.Context(), mine)
	if err != nil || (f.State != "" && f.State != acd.StateQueued) {
		return items, err
	}
	queues, err := s.helperQueues(r, p)
	if err != nil {
		return nil, err
	}
	waiting := f
	waiting.State = acd.StateQueued
	for _, queue := range queues {
		if f.Queue != "" && f.Queue != queue {
			continue
		}
		waiting.Queue = queue
		more, err := s.opt.Store.ListItems(r.Context(), waiting)
		if err != nil {
			return nil, err
		}
		items = append(items, more...)
	}
	slices.SortFunc(items, func(a, b store.Item) int { return int(a.ID - b.ID) })
	items = slices.CompactFunc(items, func(a, b store.Item) bool { return a.ID == b.ID })
	if f.Limit > 0 && len(items) > f.Limit {
		items = items[:f.Limit]
	}
	return items, nil
}

func (s *Server) helperQueues(r *http.Request, p Principal) ([]string, error) {
	if p.UserID == 0 {
		return nil, nil
	}
	h, err := s.opt.Store.Helper(r.Context(), p.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return h.Queues, err
}

// visibleItem reads the item of the request's path for p, answering 400,
// 404 (also for an item p may not see: a helper does not learn that it
// exists) or the store's error itself when it cannot.
func (s *Server) visibleItem(w http.ResponseWriter, r *http.Request, p Principal) (store.Item, bool) {
	id, ok := pathID(r)
	if !ok {
		writeError(w, http.StatusBadRequest, "item id must be a positive number")
		return store.Item{}, false
	}
	it, err := s.opt.Store.Item(r.Context(), id)
	if err != nil {
		s.storeError(w, "read item", err)
		return store.Item{}, false
	}
	if !s.maySee(r, p, it) {
		writeError(w, http.StatusNotFound, "not found")
		return store.Item{}, false
	}
	return it, true
}

func (s *Server) getItem(w http.ResponseWriter, r *http.Request, p Principal) {
	it, ok := s.visibleItem(w, r, p)
	if !ok {
		return
	}
	id := it.ID
	events, err := s.opt.Store.Events(r.Context(), id)
	if err != nil {
		s.storeError(w, "read events", err)
		return
	}
	msgs, err := s.opt.Store.Messages(r.Context(), id)
	if err != nil {
		s.storeError(w, "read messages", err)
		return
	}
	out := struct {
		itemJSON
		Events      []eventJSON   `json:"events"`
		Messages    []messageJSON `json:"messages"`
		VoicemailID int64         `json:"voicemail_id,omitempty"` // its audio: GET /api/v1/voicemails/{id}/audio
	}{itemJSON: toItemJSON(it), Events: []eventJSON{}, Messages: []messageJSON{}}
	out.SendFailed = countFailedSends(events)
	if it.Channel == acd.Voicemail {
		out.VoicemailID = s.voicemailOf(r, it.ID)
	}
	for _, e := range events {
		out.Events = append(out.Events, toEventJSON(e))
	}
	for _, m := range msgs {
		out.Messages = append(out.Messages, toMessageJSON(m))
	}
	writeJSON(w, http.StatusOK, out)
}

// voicemailOf finds the recording of a voicemail item, 0 when there is
// none.
func (s *Server) voicemailOf(r *http.Request, itemID int64) int64 {
	v, err := s.opt.Store.VoicemailOfItem(r.Context(), itemID)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("voicemail of item", "item_id", itemID, "err", err)
		}
		return 0
	}
	return v.ID
}

func (s *Server) maySee(r *http.Request, p Principal, it store.Item) bool {
	if p.Role.AtLeast(store.RoleSupervisor) || (p.UserID != 0 && it.HelperID == p.UserID) {
		return true
	}
	if it.State != acd.StateQueued {
		return false
	}
	queues, err := s.helperQueues(r, p)
	return err == nil && slices.Contains(queues, it.Queue)
}

func (s *Server) listHelpers(w http.ResponseWriter, r *http.Request, p Principal) {
	helpers, err := s.opt.Store.ListHelpers(r.Context())
	if err != nil {
		s.storeError(w, "list helpers", err)
		return
	}
	users, err := s.opt.Store.ListUsers(r.Context())
	if err != nil {
		s.storeError(w, "list users", err)
		return
	}
	byID := map[int64]store.User{}
	for _, u := range users {
		byID[u.ID] = u
	}
	out := make([]helperJSON, 0, len(helpers))
	for _, h := range helpers {
		u := byID[h.UserID]
		out = append(out, helperJSON{UserID: h.UserID, Login: u.Login, Name: u.Name, Queues: nonNil(h.Queues),
			Skills: h.Skills, Capacity: h.Capacity, Extension: h.Extension})
	}
	writeJSON(w, http.StatusOK, map[string]any{"helpers": out})
}

func (s *Server) listCalls(w http.ResponseWriter, r *http.Request, p Principal) {
	q := r.URL.Query()
	f := store.CallFilter{Missed: q.Get("missed") == "true"}
	if since := q.Get("since"); since != "" {
		t, err := time.Parse(time.RFC3339, since)
		if err != nil {
			writeError(w, http.StatusBadRequest, "since: want an RFC 3339 time")
			return
		}
		f.Since = t
	}
	calls, err := s.opt.Store.ListCalls(r.Context(), f)
	if err != nil {
		s.storeError(w, "list calls", err)
		return
	}
	out := make([]callJSON, 0, len(calls))
	for _, c := range calls {
		out = append(out, toCallJSON(c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"calls": out})
}

func (s *Server) liveStats(w http.ResponseWriter, r *http.Request, p Principal) {
	live := stats.Live{Queues: []stats.QueueLive{}, Helpers: map[string]int{}, At: s.opt.Now()}
	if s.opt.Live != nil {
		var err error
		if live, err = s.opt.Live(r.Context()); err != nil {
			s.storeError(w, "live stats", err)
			return
		}
	}
	writeJSON(w, http.StatusOK, live)
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, p Principal) {
	users, err := s.opt.Store.ListUsers(r.Context())
	if err != nil {
		s.storeError(w, "list users", err)
		return
	}
	out := make([]userOut, 0, len(users))
	for _, u := range users {
		out = append(out, userJSON(u))
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out})
}

type userIn struct {
	Login    string      `json:"login"`
	Name     *string     `json:"name"`
	Role     *store.Role `json:"role"`
	Password *string     `json:"password"`
	Lang     *string     `json:"lang"`
	Disabled *bool       `json:"disabled"`
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, p Principal) {
	var in userIn
	if err := decodeJSON(w, r, &in); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if in.Role == nil || in.Password == nil {
		writeError(w, http.StatusBadRequest, "role and password are required")
		return
	}
	u, err := AddUser(r.Context(), s.opt.Store, in.Login, deref(in.Name), *in.Role, *in.Password)
	if errors.Is(err, store.ErrConflict) {
		writeError(w, http.StatusConflict, "login "+strconv.Quote(in.Login)+" is taken")
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.audit.record(p, "user_create", u.Login+" role="+string(u.Role))
	writeJSON(w, http.StatusCreated, map[string]any{"user": userJSON(u)})
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request, p Principal) {
	id, ok := pathID(r)
	if !ok {
		writeError(w, http.StatusBadRequest, "user id must be a positive number")
		return
	}
	var in userIn
	if err := decodeJSON(w, r, &in); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	u, err := s.opt.Store.User(r.Context(), id)
	if err != nil {
		s.storeError(w, "read user", err)
		return
	}
	before := u
	if err := applyUser(&u, in); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.opt.Store.UpdateUser(r.Context(), u); err != nil {
		s.storeError(w, "update user", err)
		return
	}
	if u.Disabled {
		if err := s.opt.Store.DeleteUserSessions(r.Context(), u.ID); err != nil {
			s.storeError(w, "end sessions", err)
			return
		}
	}
	if u.Disabled || u.Role != before.Role {
		s.hub.CloseUser(u.ID, hub.CodeRevoked, "account changed")
	}
	s.audit.record(p, "user_update", fmt.Sprintf("%s role=%s disabled=%t", u.Login, u.Role, u.Disabled))
	writeJSON(w, http.StatusOK, map[string]any{"user": userJSON(u)})
}

func applyUser(u *store.User, in userIn) error {
	if in.Login != "" && in.Login != u.Login {
		return errors.New("login cannot be changed")
	}
	if in.Role != nil {
		if !in.Role.Valid() {
			return errors.New("role: want helper, supervisor or admin")
		}
		u.Role = *in.Role
	}
	if in.Name != nil {
		u.Name = *in.Name
	}
	if in.Lang != nil {
		if !slices.Contains([]string{"ru", "be", "en"}, *in.Lang) {
			return errors.New("lang: want ru, be or en")
		}
		u.Lang = *in.Lang
	}
	if in.Disabled != nil {
		u.Disabled = *in.Disabled
	}
	if in.Password != nil {
		if len(*in.Password) < 8 {
			return errors.New("password: shorter than 8 characters")
		}
		hash, err := HashPassword(*in.Password)
		if err != nil {
			return err
		}
		u.PasswordHash = hash
	}
	return nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, p Principal) {
	tokens, err := s.opt.Store.ListTokens(r.Context())
	if err != nil {
		s.storeError(w, "list tokens", err)
		return
	}
	type tokenOut struct {
		ID        int64      `json:"id"`
		Name      string     `json:"name"`
		Role      store.Role `json:"role"`
		CreatedAt time.Time  `json:"created_at"`
	}
	out := make([]tokenOut, 0, len(tokens))
	for _, t := range tokens {
		out = append(out, tokenOut{t.ID, t.Name, t.Role, t.CreatedAt})
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, p Principal) {
	var in struct {
		Name string     `json:"name"`
		Role store.Role `json:"role"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	secret, err := CreateToken(r.Context(), s.opt.Store, in.Role, in.Name)
	if errors.Is(err, store.ErrConflict) {
		writeError(w, http.StatusConflict, "token name "+strconv.Quote(in.Name)+" is taken")
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.audit.record(p, "token_create", in.Name+" role="+string(in.Role))
	writeJSON(w, http.StatusCreated, map[string]any{"name": in.Name, "role": in.Role, "token": secret})
}

func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request, p Principal) {
	id, ok := pathID(r)
	if !ok {
		writeError(w, http.StatusBadRequest, "token id must be a positive number")
		return
	}
	if err := s.opt.Store.DeleteToken(r.Context(), id); err != nil {
		s.storeError(w, "delete token", err)
		return
	}
	s.hub.CloseUser(0, hub.CodeRevoked, "token deleted") // every token's socket; the others reconnect
	s.audit.record(p, "token_delete", strconv.FormatInt(id, 10))
	w.WriteHeader(http.StatusNoContent)
}

// storeError answers a failed store call: 404 for ErrNotFound, 503 otherwise
// (the store is unreachable; the client may retry).
func (s *Server) storeError(w http.ResponseWriter, op string, err error) {
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	s.log.Error(op, "err", err)
	writeError(w, http.StatusServiceUnavailable, "store unavailable")
}

func queryInt(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("want a non-negative number")
	}
	return n, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// rawOrNil keeps a stored JSON object, or null.
func rawOrNil(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return b
}
