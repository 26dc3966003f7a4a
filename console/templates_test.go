package console

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
)

func TestTemplatesAPI(t *testing.T) {
	f := newFixture(t)
	helper, super := f.token(store.RoleHelper), f.token(store.RoleSupervisor)
	body := `{"name":"Спасибо","lang":"ru","subject":"Ответ","body":"Здравствуй, {{name}}!"}`
	tests := []struct {
		name         string
		tok          string
		method, path string
		body         string
		want         int
	}{
		{"helper cannot create", helper, "POST", "/api/v1/templates", body, 403},
		{"supervisor creates", super, "POST", "/api/v1/templates", body, 201},
		{"helper lists", helper, "GET", "/api/v1/templates", "", 200},
		{"no name", super, "POST", "/api/v1/templates", `{"body":"x"}`, 400},
		{"unknown language", super, "POST", "/api/v1/templates", `{"name":"x","lang":"fr"}`, 400},
		{"supervisor edits", super, "PUT", "/api/v1/templates/1", `{"name":"Спасибо!","body":"Привет, {{name}}"}`, 200},
		{"edit a missing one", super, "PUT", "/api/v1/templates/99", `{"name":"x"}`, 404},
		{"helper cannot delete", helper, "DELETE", "/api/v1/templates/1", "", 403},
		{"supervisor deletes", super, "DELETE", "/api/v1/templates/1", "", 204},
		{"bad id", super, "DELETE", "/api/v1/templates/x", "", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if res := f.do(http.DefaultClient, tt.method, tt.path, tt.body, bearer(tt.tok)); res.StatusCode != tt.want {
				t.Errorf("status %d, want %d", res.StatusCode, tt.want)
			}
		})
	}
	var actions []string
	for _, e := range f.console.audit.latest() {
		actions = append(actions, e.Action)
	}
	want := []string{"template_delete", "template_put", "template_post"}
	if diff := cmp.Diff(actions, want); diff != "" {
		t.Errorf("audit (-got +want):\n%s", diff)
	}
}

func TestContactCard(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	elf := f.user("elf", store.RoleHelper)
	f.user("other", store.RoleHelper)
	c, err := f.store.ResolveContact(ctx, store.Identity{Kind: "email", Value: "masha@example.ru"}, "Маша")
	if err != nil {
		t.Fatal(err)
	}
	for i, ch := range []acd.Channel{acd.Voice, acd.Email} {
		helper := int64(0)
		if ch == acd.Email {
			helper = elf.ID
		}
		_, _, err := f.store.CreateItem(ctx, store.Item{Channel: ch, ExternalID: string(rune('a' + i)), Queue: "letters",
			State: acd.StateActive, HelperID: helper, ContactID: c.ID, CreatedAt: time.Now()},
			store.Event{Type: "enqueued", At: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
	}
	path := "/api/v1/contacts/" + itoa64(c.ID)
	got := decode[contactJSON](t, f.do(f.browser("elf"), "GET", path, "", nil))
	var chans []acd.Channel
	for _, it := range got.Items {
		chans = append(chans, it.Channel)
	}
	if diff := cmp.Diff(chans, []acd.Channel{acd.Voice, acd.Email}); diff != "" {
		t.Errorf("history across channels (-got +want):\n%s", diff)
	}
	if got.Name != "Маша" || len(got.Identities) != 1 {
		t.Errorf("card %+v", got)
	}
	if res := f.do(f.browser("other"), "GET", path, "", nil); res.StatusCode != 404 {
		t.Errorf("a helper with no item of the contact: status %d, want 404", res.StatusCode)
	}
}

func TestPatchMeLanguage(t *testing.T) {
	f := newFixture(t)
	f.user("elf", store.RoleHelper)
	c := f.browser("elf")
	tests := []struct {
		body string
		want int
	}{
		{`{"lang":"be"}`, 200},
		{`{"lang":"fr"}`, 400},
		{`{"lang":"en","role":"admin"}`, 400}, // nothing but the language
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			if res := f.do(c, "PATCH", "/api/v1/me", tt.body, nil); res.StatusCode != tt.want {
				t.Errorf("status %d, want %d", res.StatusCode, tt.want)
			}
		})
	}
	me := decode[map[string]any](t, f.do(c, "GET", "/api/v1/me", "", nil))
	if me["lang"] != "be" || me["role"] != "helper" {
		t.Errorf("me = %v, want lang be and role helper", me)
	}
}

func TestWebAppServed(t *testing.T) {
	f := newFixture(t)
	res := f.do(http.DefaultClient, "GET", "/", "", nil)
	if res.StatusCode != 200 {
		t.Fatalf("GET /: status %d", res.StatusCode)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") ||
		!strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	for path, want := range map[string]int{"/js/app.js": 200, "/i18n/ru.json": 200, "/nothing.js": 404} {
		if res := f.do(http.DefaultClient, "GET", path, "", nil); res.StatusCode != want {
			t.Errorf("GET %s: status %d, want %d", path, res.StatusCode, want)
		}
	}
	if res := f.do(http.DefaultClient, "POST", "/index.html", "", nil); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /index.html: status %d, want 405", res.StatusCode)
	}
}

func TestVoicemailItemNamesItsRecording(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	it, _, err := f.store.CreateItem(ctx, store.Item{Channel: acd.Voicemail, ExternalID: "call-1", Queue: "callbacks",
		State: acd.StateQueued, CreatedAt: time.Now()}, store.Event{Type: "recorded", At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	vm, err := f.store.CreateVoicemail(ctx, store.Voicemail{ItemID: it.ID, CallID: "call-1", From: "+375291234567",
		Path: "voicemail/call-1.wav", Duration: 12 * time.Second, CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	got := decode[map[string]any](t, f.do(http.DefaultClient, "GET", "/api/v1/items/"+itoa64(it.ID), "",
		bearer(f.token(store.RoleSupervisor))))
	if got["voicemail_id"] != float64(vm.ID) {
		t.Errorf("voicemail_id = %v, want %d", got["voicemail_id"], vm.ID)
	}
}
