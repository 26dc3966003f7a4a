package console

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/morozhq/moroz/store"
)

// auditKeep is how many audit entries GET /api/v1/audit shows.
const auditKeep = 1000

// auditTimeout bounds writing or reading the audit log.
const auditTimeout = 5 * time.Second

// auditEntry is one supervisor or admin action.
type auditEntry struct {
	At     time.Time `json:"at"`
	Login  string    `json:"login"`
	Action string    `json:"action"`
	Detail string    `json:"detail"`
}

// auditLog records supervisor and admin actions: each one is stored (the
// store's audit table) and logged at Info under "audit"; GET
// /api/v1/audit serves the latest auditKeep. An action whose entry cannot
// be stored is still logged, at Error, so that the record is not lost.
type auditLog struct {
	log *slog.Logger
	now func() time.Time
	st  store.Audit
}

func (a *auditLog) record(p Principal, action, detail string) {
	e := store.AuditEntry{At: a.now().UTC(), Login: p.Login, Action: action, Detail: detail}
	ctx, cancel := context.WithTimeout(context.Background(), auditTimeout)
	defer cancel()
	if _, err := a.st.AppendAudit(ctx, e); err != nil {
		a.log.Error("audit entry not stored", "by", p.Login, "action", action, "detail", detail, "err", err)
		return
	}
	a.log.Info("audit", "by", p.Login, "action", action, "detail", detail)
}

// latest returns the entries, newest first.
func (a *auditLog) latest() []auditEntry {
	ctx, cancel := context.WithTimeout(context.Background(), auditTimeout)
	defer cancel()
	stored, err := a.st.ListAudit(ctx, auditKeep)
	if err != nil {
		a.log.Error("audit log not read", "err", err)
		return []auditEntry{}
	}
	out := make([]auditEntry, 0, len(stored))
	for _, e := range stored {
		out = append(out, auditEntry{At: e.At.UTC(), Login: e.Login, Action: e.Action, Detail: e.Detail})
	}
	return out
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, p Principal) {
	writeJSON(w, http.StatusOK, map[string]any{"entries": s.audit.latest()})
}
