package console

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/morozhq/moroz/store"
)

func TestMailingProgressReachesSupervisors(t *testing.T) {
	f := newDeskFixture(t)
	f.user("boss", store.RoleSupervisor)
	sup := f.ws("boss", nil)
	sup.readType(msgSnapshot) // registered

	f.console.PublishMailing(store.Mailing{ID: 3, Name: "new year", State: "running", Total: 14000, Sent: 700})
	got := sup.readType(msgMailing)["data"].(map[string]any)
	want := map[string]any{"id": 3.0, "name": "new year", "state": "running", "total": 14000.0, "sent": 700.0}
	for k, v := range want {
		if diff := cmp.Diff(got[k], v); diff != "" {
			t.Errorf("progress %s (-got +want):\n%s", k, diff)
		}
	}
}

func TestMailingsAPIWithoutMailer(t *testing.T) {
	f := newFixture(t)
	super, helper := f.token(store.RoleSupervisor), f.token(store.RoleHelper)
	tests := []struct {
		name, tok, method, path, body string
		want                          int
	}{
		{"helper cannot list", helper, "GET", "/api/v1/mailings", "", http.StatusForbidden},
		{"supervisor lists", super, "GET", "/api/v1/mailings", "", http.StatusOK},
		{"missing one", super, "GET", "/api/v1/mailings/9", "", http.StatusNotFound},
		{"bad id", super, "GET", "/api/v1/mailings/x", "", http.StatusBadRequest},
		{"create needs a relay", super, "POST", "/api/v1/mailings", `{"name":"x","template_id":1}`, http.StatusServiceUnavailable},
		{"start needs a relay", super, "POST", "/api/v1/mailings/1/start", "", http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if res := f.do(http.DefaultClient, tt.method, tt.path, tt.body, bearer(tt.tok)); res.StatusCode != tt.want {
				t.Errorf("status %d, want %d", res.StatusCode, tt.want)
			}
		})
	}
}
