package consolecheck

import (
	"context"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/morozhq/moroz/console"
	"github.com/morozhq/moroz/logging"
	"github.com/morozhq/moroz/messenger"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/work"
)

// TestConsoleCredentialsOpenAttachments checks that a console API token
// and a console session cookie are what the messenger's attachment
// endpoint accepts.
func TestConsoleCredentialsOpenAttachments(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w, err := work.New(ctx, work.Options{Store: st, Logger: logging.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	m, err := messenger.New(messenger.Options{Store: st, Work: w, Logger: logging.Discard(), DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	h := m.Routes()["GET /messenger/attachments/{item}/{message}/{n}"]
	mux := http.NewServeMux()
	mux.Handle("GET /messenger/attachments/{item}/{message}/{n}", h)

	helperTok, err := console.CreateToken(ctx, st, store.RoleHelper, "script")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := console.CreateToken(ctx, st, store.RoleSupervisor, "player")
	if err != nil {
		t.Fatal(err)
	}
	u, err := console.AddUser(ctx, st, "snegurochka", "Снегурочка", store.RoleSupervisor, "password-sn")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("cookie-secret"))
	if err := st.CreateSession(ctx, store.Session{Hash: sum[:], UserID: u.ID, CreatedAt: time.Now(),
		ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		set  func(r *http.Request)
		want int
	}{
		{"nothing", func(r *http.Request) {}, http.StatusUnauthorized},
		{"helper token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+helperTok) }, http.StatusForbidden},
		{"token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }, http.StatusNotFound},
		{"session", func(r *http.Request) {
			r.AddCookie(&http.Cookie{Name: console.CookieName, Value: "cookie-secret"})
		}, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/messenger/attachments/1/1/0", nil)
			tt.set(r)
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, r)
			if rec.Code != tt.want {
				t.Errorf("status %d, want %d (403: known but not theirs; 404: let in, no such attachment)", rec.Code, tt.want)
			}
		})
	}
}
