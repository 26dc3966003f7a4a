package console

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/morozhq/moroz/console/hub"
	"github.com/morozhq/moroz/store"
)

// msgSoftphone is a message of the browser softphone: the server's events
// (ring, ended) go out as {"type": "softphone", "data": ...}, and the
// browser's requests come in as {"type": "softphone", "softphone": ...}
// (protocol.md, "Softphone").
const msgSoftphone = "softphone"

// Softphone is the signalling side of the helpers' browser phone
// (package softphone's Phone). Signal runs one request of a helper's
// browser and returns its result; an error with a SignalCode method
// carries the code the browser is told, any other is the server's.
type Softphone interface {
	Signal(ctx context.Context, helperID int64, msg json.RawMessage) (any, error)
}

// msgMonitor is a supervisor's request about live browser calls: list
// them, listen, whisper, barge, leave (protocol.md, "Supervisor listen,
// whisper and barge").
const msgMonitor = "monitor"

// Monitor is the side of the softphone that lets supervisors monitor
// helpers' calls; a Softphone that also is one serves msgMonitor
// requests. Monitor runs one request of a supervisor's wallboard; its
// errors are as Signal's.
type Monitor interface {
	Monitor(ctx context.Context, supervisorID int64, msg json.RawMessage) (any, error)
}

func init() {
	ops[msgSoftphone] = op{store.RoleHelper, (*Server).opSoftphone}
	ops[msgMonitor] = op{store.RoleSupervisor, (*Server).opMonitor}
}

func (s *Server) opSoftphone(ctx context.Context, p Principal, r request) (any, error) {
	if s.opt.Softphone == nil {
		return nil, &requestError{errUnavailable, "no softphone on this server"}
	}
	if len(r.Softphone) == 0 {
		return nil, bad("softphone: missing the softphone field")
	}
	return signalResult(s.opt.Softphone.Signal(ctx, p.UserID, r.Softphone))
}

// signalResult maps the phone's coded errors onto the request's codes.
func signalResult(data any, err error) (any, error) {
	var coded interface{ SignalCode() string }
	if errors.As(err, &coded) {
		return nil, &requestError{coded.SignalCode(), err.Error()}
	}
	return data, err
}

// opMonitor runs a supervisor's monitor request; starting, switching the
// mode and leaving are audited.
func (s *Server) opMonitor(ctx context.Context, p Principal, r request) (any, error) {
	m, ok := s.opt.Softphone.(Monitor)
	if !ok {
		return nil, &requestError{errUnavailable, "no softphone on this server"}
	}
	if len(r.Monitor) == 0 {
		return nil, bad("monitor: missing the monitor field")
	}
	var head struct{ Op, Call, Mode string }
	if err := json.Unmarshal(r.Monitor, &head); err != nil {
		return nil, bad("monitor: malformed message")
	}
	data, err := signalResult(m.Monitor(ctx, p.UserID, r.Monitor))
	if err != nil {
		return nil, err
	}
	switch head.Op {
	case "start":
		mode := cmp.Or(head.Mode, "listen")
		s.audit.record(p, "monitor", fmt.Sprintf("%s call %s", mode, head.Call))
	case "mode":
		s.audit.record(p, "monitor", fmt.Sprintf("%s call %s", head.Mode, head.Call))
	case "leave":
		s.audit.record(p, "monitor", fmt.Sprintf("leave call %s", head.Call))
	}
	return data, nil
}

// SendSoftphone sends a softphone event to every console the helper has
// open and returns how many it was queued for. It is safe for concurrent
// use.
func (s *Server) SendSoftphone(helperID int64, msg any) int {
	return s.hub.Publish(hub.Audience{Users: []int64{helperID}}, encode(envelope{Type: msgSoftphone, Data: msg}))
}

// Connected reports whether the helper has a console open on this server.
func (s *Server) Connected(helperID int64) bool { return s.hub.Connected(helperID) }

// superviseTimeout bounds MaySupervise's read of the account.
const superviseTimeout = 2 * time.Second

// MaySupervise reports whether the user has a console open on this
// server and an enabled account of a supervisor or an admin: the phone
// ends a supervisor's monitor once it is false. A store that cannot
// answer does not end it.
func (s *Server) MaySupervise(userID int64) bool {
	if !s.hub.Connected(userID) {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), superviseTimeout)
	defer cancel()
	u, err := s.opt.Store.User(ctx, userID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false
	case err != nil:
		s.log.Warn("monitor: account not read; the monitor goes on", "user_id", userID, "err", err)
		return true
	}
	return !u.Disabled && u.Role.AtLeast(store.RoleSupervisor)
}
