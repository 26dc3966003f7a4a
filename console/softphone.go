package console

import (
	"context"
	"encoding/json"
	"errors"

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

func init() {
	ops[msgSoftphone] = op{store.RoleHelper, (*Server).opSoftphone}
}

func (s *Server) opSoftphone(ctx context.Context, p Principal, r request) (any, error) {
	if s.opt.Softphone == nil {
		return nil, &requestError{errUnavailable, "no softphone on this server"}
	}
	if len(r.Softphone) == 0 {
		return nil, bad("softphone: missing the softphone field")
	}
	data, err := s.opt.Softphone.Signal(ctx, p.UserID, r.Softphone)
	var coded interface{ SignalCode() string }
	if errors.As(err, &coded) {
		return nil, &requestError{coded.SignalCode(), err.Error()}
	}
	return data, err
}

// SendSoftphone sends a softphone event to every console the helper has
// open and returns how many it was queued for. It is safe for concurrent
// use.
func (s *Server) SendSoftphone(helperID int64, msg any) int {
	return s.hub.Publish(hub.Audience{Users: []int64{helperID}}, encode(envelope{Type: msgSoftphone, Data: msg}))
}

// Connected reports whether the helper has a console open on this server.
func (s *Server) Connected(helperID int64) bool { return s.hub.Connected(helperID) }
