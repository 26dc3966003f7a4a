package messenger

import (
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/morozhq/moroz/store"
)

// The console's session cookie and API token prefix (console.CookieName and
// console.TokenPrefix; a test keeps them equal). They are repeated so that
// this package does not link the whole console.
const (
	consoleCookie      = "moroz_session"
	consoleTokenPrefix = "mz_"
)

// serveAttachment serves a file a message carried (a photo, a voice note)
// to a console user: GET /messenger/attachments/{item}/{message}/{n}, with
// the console's session cookie or an API token. Supervisors may fetch any
// item's attachments, a helper only those of an item offered to them or
// that they work or worked on (the console's rule for an item's content).
func (m *Messenger) serveAttachment(w http.ResponseWriter, r *http.Request) {
	p, ok := m.principal(r)
	if !ok {
		writeError(w, http.StatusUnauthorized, "log in to the console first")
		return
	}
	itemID, err1 := strconv.ParseInt(r.PathValue("item"), 10, 64)
	msgID, err2 := strconv.ParseInt(r.PathValue("message"), 10, 64)
	n, err3 := strconv.Atoi(r.PathValue("n"))
	if err1 != nil || err2 != nil || err3 != nil || n < 0 {
		writeError(w, http.StatusBadRequest, "want /messenger/attachments/ITEM/MESSAGE/N with numbers")
		return
	}
	if !m.maySee(r, p, itemID) {
		writeError(w, http.StatusForbidden, "this item is neither offered to you nor yours")
		return
	}
	a, ok := m.attachment(r, itemID, msgID, n)
	if !ok {
		writeError(w, http.StatusNotFound, "no such attachment")
		return
	}
	f, err := os.Open(filepath.Join(m.dataDir, "attachments", filepath.FromSlash(a.File)))
	if err != nil {
		writeError(w, http.StatusNotFound, "attachment file is missing")
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "attachment file cannot be read")
		return
	}
	w.Header().Set("Content-Type", a.Mime)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "private, max-age=3600")
	http.ServeContent(w, r, filepath.Base(a.File), st.ModTime(), f)
}

// attachment finds attachment n of a message of an item.
func (m *Messenger) attachment(r *http.Request, itemID, msgID int64, n int) (Attachment, bool) {
	msgs, err := m.st.Messages(r.Context(), itemID)
	if err != nil {
		return Attachment{}, false
	}
	for _, msg := range msgs {
		if msg.ID != msgID {
			continue
		}
		var h struct {
			Attachments []Attachment `json:"attachments"`
		}
		if json.Unmarshal(msg.Headers, &h) != nil || n >= len(h.Attachments) {
			return Attachment{}, false
		}
		a := h.Attachments[n]
		return a, filepath.IsLocal(filepath.FromSlash(a.File))
	}
	return Attachment{}, false
}

// principal is the console user or API token a request carries.
type principal struct {
	userID int64 // 0 for an API token
	role   store.Role
}

// principal finds who r is from its console session or API token,
// checked the way the console checks them; ok is false for anyone else.
func (m *Messenger) principal(r *http.Request) (principal, bool) {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		secret, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || !strings.HasPrefix(secret, consoleTokenPrefix) {
			return principal{}, false
		}
		t, err := m.st.TokenByHash(ctx, digest(secret))
		return principal{role: t.Role}, err == nil && t.Role.AtLeast(store.RoleHelper)
	}
	c, err := r.Cookie(consoleCookie)
	if err != nil || c.Value == "" {
		return principal{}, false
	}
	s, err := m.st.SessionByHash(ctx, digest(c.Value), m.now())
	if err != nil {
		return principal{}, false
	}
	u, err := m.st.User(ctx, s.UserID)
	if err != nil || u.Disabled || !u.Role.AtLeast(store.RoleHelper) {
		return principal{}, false
	}
	return principal{userID: u.ID, role: u.Role}, true
}

// maySee reports whether p may read the item's content: a supervisor
// always, a helper when the router offers the item to them or they hold
// it, or when the store names them its helper (an item they handled).
func (m *Messenger) maySee(r *http.Request, p principal, itemID int64) bool {
	if p.role.AtLeast(store.RoleSupervisor) {
		return true
	}
	if p.userID == 0 {
		return false // a helper's API token is nobody's helper
	}
	if info, ok := m.work.Router().Item(itemID); ok &&
		(info.HelperID == p.userID || slices.Contains(info.OfferedTo, p.userID)) {
		return true
	}
	it, err := m.st.Item(r.Context(), itemID)
	return err == nil && it.HelperID == p.userID
}

func digest(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}
