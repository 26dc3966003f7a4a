package console

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/morozhq/moroz/console/hub"
	"github.com/morozhq/moroz/store"
)

// fakePhone answers softphone requests as told and remembers them.
type fakePhone struct {
	mu     sync.Mutex
	helper int64           // guarded by mu: the last request's helper
	msg    json.RawMessage // guarded by mu: the last request's body
	data   any
	err    error
}

func (f *fakePhone) Signal(_ context.Context, helperID int64, msg json.RawMessage) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.helper, f.msg = helperID, msg
	return f.data, f.err
}

type codedError struct{ code string }

func (e codedError) Error() string      { return "softphone: " + e.code }
func (e codedError) SignalCode() string { return e.code }

func TestSoftphoneRequests(t *testing.T) {
	tests := []struct {
		name      string
		phone     *fakePhone // nil: no softphone on the server
		body      any
		wantOK    bool
		wantError string
		wantData  any
	}{
		{name: "no softphone", body: map[string]any{"op": "list"}, wantError: errUnavailable},
		{name: "missing body", phone: &fakePhone{}, wantError: errBadRequest},
		{name: "answered", phone: &fakePhone{data: map[string]string{"sdp": "v=0"}},
			body: map[string]any{"op": "answer", "call": "c1", "sdp": "v=0"}, wantOK: true,
			wantData: map[string]any{"sdp": "v=0"}},
		{name: "the browser's fault keeps its code", phone: &fakePhone{err: codedError{errNotFound}},
			body: map[string]any{"op": "hangup", "call": "gone"}, wantError: errNotFound},
		{name: "the server's fault is unavailable", phone: &fakePhone{err: errors.New("pion broke")},
			body: map[string]any{"op": "hangup", "call": "c1"}, wantError: errUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := Options{Desk: newFakeDesk(), Hub: hub.Options{Gather: -1}}
			if tt.phone != nil {
				opt.Softphone = tt.phone
			}
			f := newFixtureWith(t, opt)
			u := f.user("elf", store.RoleHelper)
			c := f.ws("elf", nil)
			c.readType(msgSnapshot)
			req := map[string]any{"type": msgSoftphone}
			if tt.body != nil {
				req["softphone"] = tt.body
			}
			res := c.request(req)
			if got := res["ok"] == true; got != tt.wantOK {
				t.Fatalf("ok: got %v, want %v (%v)", got, tt.wantOK, res)
			}
			if got, _ := res["error"].(string); got != tt.wantError {
				t.Errorf("error: got %q, want %q", got, tt.wantError)
			}
			if diff := cmp.Diff(res["data"], tt.wantData); diff != "" {
				t.Errorf("data (-got +want):\n%s", diff)
			}
			if tt.phone != nil && tt.body != nil && tt.phone.helper != u.ID {
				t.Errorf("helper: got %d, want %d", tt.phone.helper, u.ID)
			}
		})
	}
}

func TestSoftphoneEventsReachOnlyTheirHelper(t *testing.T) {
	f := newFixtureWith(t, Options{Desk: newFakeDesk(), Hub: hub.Options{Gather: -1}, Softphone: &fakePhone{}})
	elf := f.user("elf", store.RoleHelper)
	f.user("gnome", store.RoleHelper)
	a, b := f.ws("elf", nil), f.ws("gnome", nil)
	a.readType(msgSnapshot)
	b.readType(msgSnapshot)
	if !f.console.Connected(elf.ID) {
		t.Fatal("Connected: got false for a helper with a socket open")
	}
	if n := f.console.SendSoftphone(elf.ID, map[string]string{"event": "ring", "call": "c1"}); n != 1 {
		t.Fatalf("SendSoftphone: queued for %d sockets, want 1", n)
	}
	got := a.readType(msgSoftphone)
	if diff := cmp.Diff(got["data"], map[string]any{"event": "ring", "call": "c1"}); diff != "" {
		t.Errorf("elf's event (-got +want):\n%s", diff)
	}
	// Everything gnome gets up to the answer of its own request: no ring.
	if err := b.conn.WriteJSON(map[string]any{"v": ProtocolVersion, "type": msgSoftphone, "id": 99,
		"softphone": map[string]any{"op": "list"}}); err != nil {
		t.Fatal(err)
	}
	for {
		m := b.read()
		if m["type"] == msgSoftphone {
			t.Fatalf("gnome got elf's softphone event: %v", m)
		}
		if m["type"] == msgResult && m["id"] == float64(99) {
			break
		}
	}
}

// fakeMonitorPhone is a fakePhone that also serves monitor requests.
type fakeMonitorPhone struct {
	fakePhone
	supervisor int64 // guarded by fakePhone.mu: the last monitor request's sender
}

func (f *fakeMonitorPhone) Monitor(_ context.Context, supervisorID int64, msg json.RawMessage) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.supervisor, f.msg = supervisorID, msg
	return f.data, f.err
}

// Monitor requests are for supervisors and admins only, checked on each
// message; starting, switching and leaving are audited, listing is not,
// and a refused request leaves no audit entry.
func TestMonitorRequests(t *testing.T) {
	tests := []struct {
		name      string
		role      store.Role
		phone     Softphone
		body      any
		wantError string
		wantAudit []string
	}{
		{name: "a helper may not", role: store.RoleHelper, phone: &fakeMonitorPhone{},
			body: map[string]any{"op": "calls"}, wantError: errForbidden},
		{name: "a phone that cannot monitor", role: store.RoleSupervisor, phone: &fakePhone{},
			body: map[string]any{"op": "calls"}, wantError: errUnavailable},
		{name: "missing body", role: store.RoleSupervisor, phone: &fakeMonitorPhone{}, wantError: errBadRequest},
		{name: "list is not audited", role: store.RoleSupervisor, phone: &fakeMonitorPhone{},
			body: map[string]any{"op": "calls"}},
		{name: "listen by default", role: store.RoleSupervisor, phone: &fakeMonitorPhone{},
			body: map[string]any{"op": "start", "call": "c1", "sdp": "v=0"}, wantAudit: []string{"listen call c1"}},
		{name: "an admin barges", role: store.RoleAdmin, phone: &fakeMonitorPhone{},
			body: map[string]any{"op": "mode", "call": "c1", "mode": "barge"}, wantAudit: []string{"barge call c1"}},
		{name: "leave", role: store.RoleSupervisor, phone: &fakeMonitorPhone{},
			body: map[string]any{"op": "leave", "call": "c1"}, wantAudit: []string{"leave call c1"}},
		{name: "refused is not audited", role: store.RoleSupervisor,
			phone: &fakeMonitorPhone{fakePhone: fakePhone{err: codedError{errWrongState}}},
			body:  map[string]any{"op": "start", "call": "c1"}, wantError: errWrongState},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixtureWith(t, Options{Desk: newFakeDesk(), Hub: hub.Options{Gather: -1}, Softphone: tt.phone})
			u := f.user("boss", tt.role)
			c := f.ws("boss", nil)
			c.readType(msgSnapshot)
			req := map[string]any{"type": msgMonitor}
			if tt.body != nil {
				req["monitor"] = tt.body
			}
			res := c.request(req)
			if got, _ := res["error"].(string); got != tt.wantError {
				t.Fatalf("error: got %q, want %q (%v)", got, tt.wantError, res)
			}
			var audit []string
			for _, e := range f.console.audit.latest() {
				if e.Action == "monitor" {
					audit = append(audit, e.Detail)
				}
			}
			if diff := cmp.Diff(audit, tt.wantAudit); diff != "" {
				t.Errorf("audit (-got +want):\n%s", diff)
			}
			if m, ok := tt.phone.(*fakeMonitorPhone); ok && tt.wantError == "" && m.supervisor != u.ID {
				t.Errorf("supervisor: got %d, want %d", m.supervisor, u.ID)
			}
		})
	}
}

// A supervisor may go on monitoring while they have a console open and
// their account stays an enabled supervisor's or admin's.
func TestMaySupervise(t *testing.T) {
	f := newFixtureWith(t, Options{Desk: newFakeDesk(), Hub: hub.Options{Gather: -1}, Softphone: &fakeMonitorPhone{}})
	boss := f.user("boss", store.RoleSupervisor)
	elf := f.user("elf", store.RoleHelper)
	if f.console.MaySupervise(boss.ID) {
		t.Error("a supervisor without a console open may supervise")
	}
	for _, login := range []string{"boss", "elf"} {
		f.ws(login, nil).readType(msgSnapshot)
	}
	if !f.console.MaySupervise(boss.ID) {
		t.Error("a supervisor with a console open may not supervise")
	}
	if f.console.MaySupervise(elf.ID) {
		t.Error("a helper may supervise")
	}
	boss.Role = store.RoleHelper
	if err := f.store.UpdateUser(context.Background(), boss); err != nil {
		t.Fatal(err)
	}
	if f.console.MaySupervise(boss.ID) {
		t.Error("a supervisor made a helper may still supervise")
	}
	boss.Role, boss.Disabled = store.RoleAdmin, true
	if err := f.store.UpdateUser(context.Background(), boss); err != nil {
		t.Fatal(err)
	}
	if f.console.MaySupervise(boss.ID) {
		t.Error("a disabled admin may supervise")
	}
}
