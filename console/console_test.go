package console

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/logging"
	"github.com/morozhq/moroz/store"
)

type fixture struct {
	t       *testing.T
	srv     *httptest.Server
	store   store.Store
	console *Server
}

func newFixture(t *testing.T, opts ...func(*Options)) *fixture {
	t.Helper()
	var opt Options
	for _, o := range opts {
		o(&opt)
	}
	return newFixtureWith(t, opt)
}

// newFixtureWith runs a console with opt; Store and Logger are filled in.
func newFixtureWith(t *testing.T, opt Options) *fixture {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	opt.Store, opt.Logger = st, logging.Discard()
	s, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		s.Close()
		srv.Close()
	})
	return &fixture{t: t, srv: srv, store: st, console: s}
}

func (f *fixture) user(login string, role store.Role) store.User {
	f.t.Helper()
	u, err := AddUser(context.Background(), f.store, login, "", role, "password-"+login)
	if err != nil {
		f.t.Fatal(err)
	}
	return u
}

func (f *fixture) token(role store.Role) string {
	f.t.Helper()
	secret, err := CreateToken(context.Background(), f.store, role, "t-"+string(role))
	if err != nil {
		f.t.Fatal(err)
	}
	return secret
}

// browser returns a client with a cookie jar, logged in as login.
func (f *fixture) browser(login string) *http.Client {
	f.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	res := f.do(c, "POST", "/api/v1/session", `{"login":"`+login+`","password":"password-`+login+`"}`, nil)
	if res.StatusCode != http.StatusOK {
		f.t.Fatalf("login %s: status %d", login, res.StatusCode)
	}
	return c
}

func (f *fixture) do(c *http.Client, method, path, body string, hdr map[string]string) *http.Response {
	f.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, r)
	if err != nil {
		f.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { res.Body.Close() })
	return res
}

func decode[T any](t *testing.T, res *http.Response) T {
	t.Helper()
	var v T
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want JSON", ct)
	}
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return v
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("снег и лёд")
	if err != nil {
		t.Fatal(err)
	}
	if !CheckPassword(h, "снег и лёд") {
		t.Error("the right password does not match")
	}
	for _, wrong := range []string{"", "снег и лед", "снег и лёд "} {
		if CheckPassword(h, wrong) {
			t.Errorf("%q matches", wrong)
		}
	}
	for _, bad := range []string{"", "$argon2id$", "$bcrypt$v=19$m=1,t=1,p=1$AA$AA", h + "$x"} {
		if CheckPassword(bad, "x") {
			t.Errorf("malformed hash %q matches", bad)
		}
	}
}

func TestLoginAndLogout(t *testing.T) {
	f := newFixture(t)
	f.user("ded", store.RoleSupervisor)
	c := f.browser("ded")
	me := decode[map[string]any](t, f.do(c, "GET", "/api/v1/me", "", nil))
	if me["login"] != "ded" || me["role"] != "supervisor" {
		t.Errorf("me = %v", me)
	}
	if res := f.do(c, "DELETE", "/api/v1/session", "", nil); res.StatusCode != http.StatusNoContent {
		t.Errorf("logout: status %d, want 204", res.StatusCode)
	}
	if res := f.do(c, "GET", "/api/v1/me", "", nil); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("after logout: status %d, want 401", res.StatusCode)
	}
}

func TestLoginRefusals(t *testing.T) {
	f := newFixture(t)
	f.user("ded", store.RoleHelper)
	tests := []struct {
		name string
		body string
		want int
	}{
		{"wrong password", `{"login":"ded","password":"nope"}`, 401},
		{"unknown login", `{"login":"koschei","password":"password-koschei"}`, 401},
		{"malformed JSON", `{"login":`, 400},
		{"unknown field", `{"login":"ded","password":"x","admin":true}`, 400},
		{"not an object", `"ded"`, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.do(http.DefaultClient, "POST", "/api/v1/session", tt.body, nil)
			if res.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.want)
			}
			if e := decode[map[string]string](t, res); e["error"] == "" {
				t.Errorf("no error message in %v", e)
			}
		})
	}
}

func TestLoginRateLimitPerAccount(t *testing.T) {
	// The clock stands still, so no attempt is refilled however slow the
	// password checks run.
	now := time.Now()
	f := newFixture(t, func(o *Options) { o.Now = func() time.Time { return now } })
	f.user("ded", store.RoleHelper)
	var got []int
	for range loginPerAccount + 2 {
		res := f.do(http.DefaultClient, "POST", "/api/v1/session", `{"login":"ded","password":"guess"}`, nil)
		got = append(got, res.StatusCode)
	}
	if got[loginPerAccount-1] != 401 || got[loginPerAccount] != 429 {
		t.Fatalf("statuses %v: want 401 up to the limit, then 429", got)
	}
}

func TestRoles(t *testing.T) {
	f := newFixture(t)
	helper, super, admin := f.token(store.RoleHelper), f.token(store.RoleSupervisor), f.token(store.RoleAdmin)
	newUser := `{"login":"elf","role":"helper","password":"long-enough"}`
	tests := []struct {
		name         string
		tok          string
		method, path string
		body         string
		want         int
	}{
		{"no credentials", "", "GET", "/api/v1/stats/live", "", 401},
		{"forged token", "mz_forged", "GET", "/api/v1/stats/live", "", 401},
		{"helper reads live stats", helper, "GET", "/api/v1/stats/live", "", 200},
		{"helper lists calls", helper, "GET", "/api/v1/calls", "", 403},
		{"supervisor lists calls", super, "GET", "/api/v1/calls", "", 200},
		{"helper creates a user", helper, "POST", "/api/v1/users", newUser, 403},
		{"supervisor creates a user", super, "POST", "/api/v1/users", newUser, 403},
		{"admin creates a user", admin, "POST", "/api/v1/users", newUser, 201},
		{"admin creates it again", admin, "POST", "/api/v1/users", newUser, 409},
		{"unknown endpoint", admin, "GET", "/api/v1/nothing", "", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr map[string]string
			if tt.tok != "" {
				hdr = bearer(tt.tok)
			}
			res := f.do(http.DefaultClient, tt.method, tt.path, tt.body, hdr)
			if res.StatusCode != tt.want {
				t.Errorf("status %d, want %d", res.StatusCode, tt.want)
			}
		})
	}
}

func TestCrossOriginRequestRefused(t *testing.T) {
	f := newFixture(t)
	f.user("root", store.RoleAdmin)
	c := f.browser("root")
	body := `{"login":"elf","role":"helper","password":"long-enough"}`
	res := f.do(c, "POST", "/api/v1/users", body, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site POST: status %d, want 403", res.StatusCode)
	}
	if _, err := f.store.UserByLogin(context.Background(), "elf"); err == nil {
		t.Error("the cross-site request created the user")
	}
	res = f.do(c, "POST", "/api/v1/users", body, map[string]string{"Sec-Fetch-Site": "same-origin"})
	if res.StatusCode != http.StatusCreated {
		t.Errorf("same-origin POST: status %d, want 201", res.StatusCode)
	}
}

func TestDisabledAccountLosesItsSession(t *testing.T) {
	f := newFixture(t)
	elf := f.user("elf", store.RoleHelper)
	c := f.browser("elf")
	admin := f.token(store.RoleAdmin)
	path := "/api/v1/users/" + itoa64(elf.ID)
	if res := f.do(http.DefaultClient, "PATCH", path, `{"disabled":true}`, bearer(admin)); res.StatusCode != 200 {
		t.Fatalf("disable: status %d", res.StatusCode)
	}
	if res := f.do(c, "GET", "/api/v1/me", "", nil); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("disabled user's session: status %d, want 401", res.StatusCode)
	}
}

func TestHelperSeesOnlyTheirItems(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	elf := f.user("elf", store.RoleHelper)
	other := f.user("other", store.RoleHelper)
	if err := f.store.PutHelper(ctx, store.Helper{UserID: elf.ID, Queues: []string{"letters"}}); err != nil {
		t.Fatal(err)
	}
	mk := func(queue string, state acd.State, helper int64, ext string) int64 {
		it, _, err := f.store.CreateItem(ctx, store.Item{Channel: acd.Email, ExternalID: ext, Queue: queue, State: state,
			HelperID: helper, CreatedAt: time.Now()}, store.Event{Type: "enqueued", At: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return it.ID
	}
	waitingMine := mk("letters", acd.StateQueued, 0, "a")
	mk("calls", acd.StateQueued, 0, "b") // another queue
	assigned := mk("calls", acd.StateActive, elf.ID, "c")
	othersItem := mk("letters", acd.StateActive, other.ID, "d")

	c := f.browser("elf")
	got := decode[struct {
		Items []itemJSON `json:"items"`
	}](t, f.do(c, "GET", "/api/v1/items", "", nil))
	var ids []int64
	for _, it := range got.Items {
		ids = append(ids, it.ID)
	}
	if diff := cmp.Diff(ids, []int64{waitingMine, assigned}); diff != "" {
		t.Errorf("helper's items (-got +want):\n%s", diff)
	}
	if res := f.do(c, "GET", "/api/v1/items/"+itoa64(othersItem), "", nil); res.StatusCode != 404 {
		t.Errorf("another helper's item: status %d, want 404", res.StatusCode)
	}
	if res := f.do(c, "GET", "/api/v1/items?channel=fax", "", nil); res.StatusCode != 400 {
		t.Errorf("unknown channel: status %d, want 400", res.StatusCode)
	}
}

func TestHealth(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		if res := f.do(http.DefaultClient, "GET", path, "", nil); res.StatusCode != 200 {
			t.Errorf("%s: status %d", path, res.StatusCode)
		}
	}
	f.store.Close()
	if res := f.do(http.DefaultClient, "GET", "/readyz", "", nil); res.StatusCode != 503 {
		t.Errorf("/readyz with the store closed: status %d, want 503", res.StatusCode)
	}
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
