package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/console/hub"
	"github.com/morozhq/moroz/store"
)

// Limits on what a client sends: the size of one request, of a reply's
// text, and how many requests a second (with a burst) before the socket is
// closed.
const (
	maxRequest   = 256 << 10
	maxText      = 200 << 10
	requestRate  = 50
	requestBurst = 100
)

// op is one request type: the least role it needs and what it does.
type op struct {
	role store.Role
	run  func(s *Server, ctx context.Context, p Principal, r request) (any, error)
}

// ops are the requests a client may send (protocol.md).
var ops = map[string]op{
	"status":       {store.RoleHelper, (*Server).opStatus},
	"accept":       {store.RoleHelper, (*Server).opAccept},
	"reject":       {store.RoleHelper, (*Server).opReject},
	"send":         {store.RoleHelper, (*Server).opSend},
	"complete":     {store.RoleHelper, (*Server).opComplete},
	"end_wrapup":   {store.RoleHelper, (*Server).opEndWrapUp},
	"force_status": {store.RoleSupervisor, (*Server).opForceStatus},
	"recall":       {store.RoleSupervisor, (*Server).opRecall},
	"transfer":     {store.RoleSupervisor, (*Server).opTransfer},
}

// Error codes of failed requests; the console shows them translated.
const (
	errBadRequest  = "bad_request"
	errForbidden   = "forbidden"
	errNotFound    = "not_found"
	errNoOffer     = "no_offer"
	errWrongState  = "wrong_state"
	errUnavailable = "unavailable"
)

// requestError is a failure the client is told about by code.
type requestError struct {
	code string
	msg  string
}

func (e *requestError) Error() string { return e.code + ": " + e.msg }

func bad(format string, args ...any) error {
	return &requestError{errBadRequest, fmt.Sprintf(format, args...)}
}

// onRequest runs one client message. It re-reads the account first: a
// disabled account or a changed role ends the socket. A bad request gets
// a failed result; only a malformed frame ends the socket.
func (s *Server) onRequest(ctx context.Context, c *hub.Client, p Principal, lim *rate.Limiter, b []byte) error {
	if !lim.Allow() {
		s.log.Warn("websocket: too many requests; closed", "helper", p.Login)
		return errors.New("too many requests")
	}
	if err := s.recheck(ctx, c, p); err != nil {
		return nil // recheck has closed the socket
	}
	var r request
	if err := json.Unmarshal(b, &r); err != nil {
		return errors.New("malformed JSON")
	}
	c.Send(s.result(ctx, p, r))
	return nil
}

// recheck closes c when p's account is disabled or its role changed.
func (s *Server) recheck(ctx context.Context, c *hub.Client, p Principal) error {
	reason := s.revoked(ctx, p)
	if reason == "" {
		return nil
	}
	c.Send(encode(envelope{Type: msgRevoked, Error: reason}))
	c.Close(hub.CodeRevoked, reason)
	return errors.New(reason)
}

// revoked says why p may no longer use its socket, "" when it may: a
// disabled account, a changed role, a deleted API token.
func (s *Server) revoked(ctx context.Context, p Principal) string {
	if p.UserID == 0 {
		return s.tokenRevoked(ctx, p)
	}
	now, err := s.userPrincipal(ctx, p.UserID)
	switch {
	case err != nil:
		return "account disabled"
	case now.Role != p.Role:
		return "role changed"
	}
	return ""
}

func (s *Server) tokenRevoked(ctx context.Context, p Principal) string {
	tokens, err := s.opt.Store.ListTokens(ctx)
	if err != nil {
		return "" // the store is down; the request itself will say so
	}
	for _, t := range tokens {
		if t.ID == p.TokenID {
			return ""
		}
	}
	return "token deleted"
}

// result runs r and encodes its answer.
func (s *Server) result(ctx context.Context, p Principal, r request) []byte {
	data, err := s.run(ctx, p, r)
	ok := err == nil
	env := envelope{Type: msgResult, ID: r.ID, OK: &ok, Data: data}
	if err != nil {
		env.Error = s.errorCode(p, r, err)
	}
	return encode(env)
}

func (s *Server) run(ctx context.Context, p Principal, r request) (any, error) {
	if r.V != ProtocolVersion {
		return nil, bad("protocol version %d; this server speaks %d", r.V, ProtocolVersion)
	}
	o, found := ops[r.Type]
	if !found {
		return nil, bad("unknown request type %q", r.Type)
	}
	if !p.Role.AtLeast(o.role) {
		return nil, &requestError{errForbidden, "needs the " + string(o.role) + " role"}
	}
	if p.UserID == 0 && o.role == store.RoleHelper {
		return nil, &requestError{errForbidden, "an API token is not a helper"}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return o.run(s, ctx, p, r)
}

// errorCode maps err to the code the client sees; unexpected errors are
// logged, not shown.
func (s *Server) errorCode(p Principal, r request, err error) string {
	var re *requestError
	switch {
	case errors.As(err, &re):
		return re.code
	case errors.Is(err, acd.ErrNoOffer):
		return errNoOffer
	case errors.Is(err, acd.ErrState), errors.Is(err, acd.ErrUnavailable):
		return errWrongState
	case errors.Is(err, store.ErrNotFound), errors.Is(err, acd.ErrUnknownItem),
		errors.Is(err, acd.ErrUnknownHelper), errors.Is(err, acd.ErrUnknownQueue):
		return errNotFound
	case errors.Is(err, acd.ErrInvalid), errors.Is(err, store.ErrInvalid):
		return errBadRequest
	case strings.Contains(err.Error(), "not assigned"):
		return errForbidden // work.ErrNotYours, without importing work
	}
	s.log.Error("websocket request", "helper", p.Login, "type", r.Type, "item_id", r.ItemID, "err", err)
	return errUnavailable
}

func (s *Server) opStatus(ctx context.Context, p Principal, r request) (any, error) {
	if !r.Status.Valid() {
		return nil, bad("status: want available, away or offline")
	}
	return nil, s.opt.Desk.SetStatus(ctx, p.UserID, r.Status, r.Reason)
}

func (s *Server) opAccept(ctx context.Context, p Principal, r request) (any, error) {
	return nil, s.opt.Desk.Accept(ctx, r.ItemID, p.UserID)
}

func (s *Server) opReject(ctx context.Context, p Principal, r request) (any, error) {
	return nil, s.opt.Desk.Reject(ctx, r.ItemID, p.UserID)
}

// held returns the item r names if p holds it.
func (s *Server) held(ctx context.Context, p Principal, id int64) (store.Item, error) {
	it, err := s.opt.Store.Item(ctx, id)
	if err != nil {
		return store.Item{}, err
	}
	if it.HelperID != p.UserID {
		return store.Item{}, &requestError{errForbidden, "the item is not yours"}
	}
	return it, nil
}

func (s *Server) opSend(ctx context.Context, p Principal, r request) (any, error) {
	if strings.TrimSpace(r.Text) == "" {
		return nil, bad("text is empty")
	}
	if len(r.Text) > maxText {
		return nil, bad("text longer than %d bytes", maxText)
	}
	if _, err := s.held(ctx, p, r.ItemID); err != nil {
		return nil, err
	}
	m := store.Message{ItemID: r.ItemID, Direction: "out", Subject: r.Subject, Text: r.Text,
		HelperID: p.UserID, TemplateID: r.TemplateID, CreatedAt: s.opt.Now()}
	out, err := s.opt.Desk.Reply(ctx, r.ItemID, p.UserID, m) // counts the template's use
	if err != nil {
		return nil, err
	}
	return toMessageJSON(out), nil
}

// outcomes a helper may choose at wrap-up.
var outcomes = []acd.Outcome{acd.OutcomeAnswered, acd.OutcomeReplied, acd.OutcomeCalledBack,
	acd.OutcomeSpam, acd.OutcomeDuplicate}

func (s *Server) opComplete(ctx context.Context, p Principal, r request) (any, error) {
	if !validOutcome(r.Outcome) {
		return nil, bad("outcome %q: want answered, replied, called-back, spam or duplicate", r.Outcome)
	}
	if len(r.Note) > 4000 {
		return nil, bad("note longer than 4000 bytes")
	}
	if _, err := s.held(ctx, p, r.ItemID); err != nil {
		return nil, err
	}
	return nil, s.opt.Desk.Complete(ctx, r.ItemID, p.UserID, r.Outcome, r.Note)
}

func validOutcome(o acd.Outcome) bool {
	for _, x := range outcomes {
		if o == x {
			return true
		}
	}
	return false
}

func (s *Server) opEndWrapUp(ctx context.Context, p Principal, r request) (any, error) {
	return nil, s.opt.Desk.EndWrapUp(ctx, p.UserID)
}

func (s *Server) opForceStatus(ctx context.Context, p Principal, r request) (any, error) {
	if r.Status != acd.StatusAway && r.Status != acd.StatusOffline {
		return nil, bad("status: a supervisor may set away or offline")
	}
	if r.HelperID == 0 {
		return nil, bad("helper_id is required")
	}
	reason := r.Reason
	if reason == "" {
		reason = "supervisor"
	}
	if err := s.opt.Desk.SetStatus(ctx, r.HelperID, r.Status, reason); err != nil {
		return nil, err
	}
	s.audit.record(p, "force_status", fmt.Sprintf("helper %d %s", r.HelperID, r.Status))
	return nil, nil
}

func (s *Server) opRecall(ctx context.Context, p Principal, r request) (any, error) {
	if err := s.opt.Desk.Recall(ctx, r.ItemID); err != nil {
		return nil, err
	}
	s.audit.record(p, "recall", fmt.Sprintf("item %d", r.ItemID))
	return nil, nil
}

func (s *Server) opTransfer(ctx context.Context, p Principal, r request) (any, error) {
	if r.Queue == "" && r.HelperID == 0 {
		return nil, bad("transfer: name a queue or a helper")
	}
	if err := s.opt.Desk.Transfer(ctx, r.ItemID, acd.Target{Queue: r.Queue, Helper: r.HelperID}); err != nil {
		return nil, err
	}
	s.audit.record(p, "transfer", fmt.Sprintf("item %d to queue %q helper %d", r.ItemID, r.Queue, r.HelperID))
	return nil, nil
}
