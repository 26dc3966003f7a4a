package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/console/hub"
	"github.com/morozhq/moroz/store"
)

// websocket serves GET /api/v1/ws: it authenticates the caller, checks the
// Origin, sends the snapshot and then the events the caller may see, and
// runs the caller's requests.
func (s *Server) websocket(w http.ResponseWriter, r *http.Request) {
	p, err := s.authenticate(r)
	if err != nil {
		writeError(w, http.StatusUnauthorized, "authentication required")
		return
	}
	if s.opt.Desk == nil {
		writeError(w, http.StatusServiceUnavailable, "the router is not running")
		return
	}
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.log.Debug("websocket upgrade", "peer", clientAddr(r), "err", err)
		return // the upgrader has answered
	}
	ctx := context.WithoutCancel(r.Context())
	c, err := s.hub.Register(conn, s.member(ctx, p))
	if err != nil {
		conn.Close()
		return
	}
	if p.UserID != 0 {
		s.presence.connect(ctx, p.UserID)
		defer s.presence.disconnect(ctx, p.UserID)
	}
	snap, err := s.snapshot(ctx, p)
	if err != nil {
		s.log.Error("websocket snapshot", "helper", p.Login, "err", err)
		c.Close(websocket.CloseInternalServerErr, "store unavailable")
	} else {
		c.SendFirst(encode(envelope{Type: msgSnapshot, Snapshot: snap}))
	}
	s.log.Debug("websocket open", "helper", p.Login, "peer", clientAddr(r))
	lim := rate.NewLimiter(requestRate, requestBurst)
	err = c.Serve(ctx, func(b []byte) error { return s.onRequest(ctx, c, p, lim, b) })
	s.log.Debug("websocket closed", "helper", p.Login, "err", err)
}

// checkOrigin accepts a handshake from the console's own origin or an
// allowed one, and from clients that send no Origin (not browsers, so no
// cross-site websocket hijacking).
func (s *Server) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, o := range s.opt.Origins {
		if strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	s.log.Warn("websocket refused: foreign origin", "peer", clientAddr(r), "origin", origin)
	return false
}

// member says what the hub sends p: their own events, their queues'
// counts, and the wallboard for supervisors.
func (s *Server) member(ctx context.Context, p Principal) hub.Member {
	return hub.Member{UserID: p.UserID, Supervisor: p.Role.AtLeast(store.RoleSupervisor),
		Queues: s.queuesOf(ctx, p.UserID)}
}

// queuesOf lists a helper's queues: the router's profile, else the
// stored one, else every queue (the work service's default profile).
func (s *Server) queuesOf(ctx context.Context, id int64) []string {
	if id == 0 {
		return nil
	}
	for _, h := range s.opt.Desk.Helpers() {
		if h.ID == id && len(h.Queues) > 0 {
			return h.Queues
		}
	}
	if h, err := s.opt.Store.Helper(ctx, id); err == nil && len(h.Queues) > 0 {
		return h.Queues
	}
	var all []string
	for _, q := range s.opt.Desk.Queues() {
		all = append(all, q.Name)
	}
	return all
}

func (s *Server) snapshot(ctx context.Context, p Principal) (*snapshotMsg, error) {
	snap := &snapshotMsg{
		Me:    meMsg{UserID: p.UserID, Login: p.Login, Name: p.Name, Role: string(p.Role), Lang: langOr(p.Lang)},
		Items: []itemJSON{}, Queues: []queueMsg{},
	}
	mine := s.queuesOf(ctx, p.UserID)
	super := p.Role.AtLeast(store.RoleSupervisor)
	for _, q := range s.opt.Desk.Queues() {
		if super || slices.Contains(mine, q.Name) {
			snap.Queues = append(snap.Queues, toQueueMsg(q))
		}
	}
	if super {
		b, err := s.buildBoard(ctx)
		if err != nil {
			return nil, err
		}
		snap.Board = b
	}
	if p.UserID == 0 {
		return snap, nil
	}
	if err := s.snapshotHelper(ctx, p.UserID, snap); err != nil {
		return nil, err
	}
	return snap, nil
}

// snapshotHelper adds a helper's status, pending offer and open items.
func (s *Server) snapshotHelper(ctx context.Context, id int64, snap *snapshotMsg) error {
	st := statusMsg{HelperID: id, Status: acd.StatusOffline, Active: []int64{}}
	for _, h := range s.opt.Desk.Helpers() {
		if h.ID == id {
			st = s.toStatusMsg(h)
		}
	}
	snap.Status = &st
	items, err := s.opt.Store.ListItems(ctx, store.ItemFilter{HelperID: id, Open: true})
	if err != nil {
		return err
	}
	for _, it := range items {
		if it.State == acd.StateOffered && it.ID == st.Offer {
			continue
		}
		snap.Items = append(snap.Items, toItemJSON(it))
	}
	if err := s.withFailedSends(ctx, snap.Items); err != nil {
		return err
	}
	if st.Offer == 0 {
		return nil
	}
	it, err := s.opt.Store.Item(ctx, st.Offer)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	o := &offerMsg{Item: toItemJSON(it)}
	if e, ok := s.track.offer(id); ok && e.ItemID == it.ID {
		o.Deadline = timeOrNil(e.Deadline)
	}
	snap.Offer = o
	return nil
}

func langOr(l string) string {
	if l == "" {
		return "ru"
	}
	return l
}
