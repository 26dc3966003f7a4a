package console

import (
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// auditKeep is how many audit entries the console keeps.
const auditKeep = 1000

// auditEntry is one supervisor or admin action.
type auditEntry struct {
	At     time.Time `json:"at"`
	Login  string    `json:"login"`
	Action string    `json:"action"`
	Detail string    `json:"detail"`
}

// auditLog records supervisor and admin actions: each one is logged at
// Info under "audit" and the latest auditKeep are served by GET
// /api/v1/audit.
//
// TODO(#4): keep the audit log in the store (a table of its own) so that it
// survives a restart; until then the log lines are the durable record.
type auditLog struct {
	log *slog.Logger
	now func() time.Time

	mu      sync.Mutex
	entries []auditEntry // guarded by mu; oldest first, at most auditKeep
}

func (a *auditLog) record(p Principal, action, detail string) {
	e := auditEntry{At: a.now().UTC(), Login: p.Login, Action: action, Detail: detail}
	a.log.Info("audit", "by", p.Login, "action", action, "detail", detail)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entries = append(a.entries, e)
	if len(a.entries) > auditKeep {
		a.entries = append(a.entries[:0], a.entries[len(a.entries)-auditKeep:]...)
	}
}

// latest returns the entries, newest first.
func (a *auditLog) latest() []auditEntry {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]auditEntry, len(a.entries))
	for i, e := range a.entries {
		out[len(out)-1-i] = e
	}
	return out
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, p Principal) {
	writeJSON(w, http.StatusOK, map[string]any{"entries": s.audit.latest()})
}
