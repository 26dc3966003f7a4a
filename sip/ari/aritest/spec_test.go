package aritest

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

func loadSpec(t *testing.T) *Spec {
	t.Helper()
	return needSpec(t)
}

func TestSpecChecksRequests(t *testing.T) {
	spec := loadSpec(t)
	tests := []struct {
		name     string
		method   string
		target   string // path and query below /ari
		wantOp   string // nickname; "" when no operation matches
		wantFlaw string // part of the complaint; "" for none
	}{
		{"answer", "POST", "/channels/1.2/answer", "answer", ""},
		{"literal beats parameter", "POST", "/channels/externalMedia?app=m&external_host=127.0.0.1:4000&format=ulaw", "externalMedia", ""},
		{"required missing", "POST", "/channels/externalMedia?app=m&external_host=127.0.0.1:4000", "externalMedia", "format is required"},
		{"value not allowed", "POST", "/channels/externalMedia?app=m&format=ulaw&encapsulation=sctp", "externalMedia", "not one of"},
		{"hangup reason not allowed", "DELETE", "/channels/1.2?reason=bored", "hangup", "not one of"},
		{"integer", "POST", "/channels?endpoint=PJSIP/x&timeout=soon", "originate", "not an integer"},
		{"boolean", "POST", "/bridges/b/addChannel?channel=c&absorbDTMF=yes", "addChannel", "not a boolean"},
		{"undocumented parameter", "POST", "/channels/1.2/answer?force=1", "answer", "force is not documented"},
		{"repeated parameter", "DELETE", "/channels/1.2?reason=normal&reason=busy", "hangup", "given 2 times"},
		{"undocumented path", "POST", "/channels/1.2/teleport", "", ""},
		{"undocumented method", "PUT", "/channels", "", ""},
		{"empty path parameter", "POST", "/channels//answer", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.target)
			if err != nil {
				t.Fatal(err)
			}
			op, _, err := spec.match(tt.method, u.Path)
			if tt.wantOp == "" {
				if err == nil {
					t.Fatalf("matched %s, want no operation", op.nickname)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if op.nickname != tt.wantOp {
				t.Errorf("operation %s, want %s", op.nickname, tt.wantOp)
			}
			flaws := strings.Join(op.check(u.Query(), false), "; ")
			if tt.wantFlaw == "" && flaws != "" || !strings.Contains(flaws, tt.wantFlaw) {
				t.Errorf("flaws %q, want %q", flaws, tt.wantFlaw)
			}
		})
	}
}

func TestSpecBuildsEveryEvent(t *testing.T) {
	spec := loadSpec(t)
	types := spec.EventTypes()
	if len(types) < 40 {
		t.Fatalf("%d event types, want the documents' 40 and more", len(types))
	}
	for _, typ := range types {
		ev, err := spec.BuildEvent(typ, "moroz", nil)
		if err != nil {
			t.Errorf("build %s: %v", typ, err)
			continue
		}
		if ev["type"] != typ || ev["application"] != "moroz" || ev["timestamp"] == "" {
			t.Errorf("%s built as %v", typ, ev)
		}
	}
}

func TestSpecValidatesEvents(t *testing.T) {
	spec := loadSpec(t)
	tests := []struct {
		name   string
		typ    string
		fields map[string]any
		want   string // part of the error; "" for none
	}{
		{"dtmf", "ChannelDtmfReceived", map[string]any{"digit": "1", "duration_ms": 100}, ""},
		{"digit of the wrong type", "ChannelDtmfReceived", map[string]any{"digit": 1}, "not a string"},
		{"channel without id", "StasisStart", map[string]any{"channel": map[string]any{"name": "x"}}, "required property"},
		{"args not a list", "StasisStart", map[string]any{"args": "a,b"}, "not a list"},
		{"not an event", "Channel", nil, "not an event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := spec.BuildEvent(tt.typ, "moroz", tt.fields)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("build: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("build error %v, want one with %q", err, tt.want)
			}
		})
	}
}

// complaints records a fake server's test failures instead of failing.
type complaints struct {
	testing.TB
	mu   sync.Mutex
	errs []string // guarded by mu
}

func (c *complaints) Errorf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, format)
}

func (c *complaints) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.errs)
}

func TestServerFailsTheTestOnBadRequests(t *testing.T) {
	tests := []struct {
		name, method, target string
		auth                 bool
		wantStatus           int
		wantComplaint        bool
	}{
		{"documented", "GET", "/ari/channels", true, http.StatusOK, false},
		{"no auth", "GET", "/ari/channels", false, http.StatusUnauthorized, true},
		{"undocumented", "POST", "/ari/channels/x/teleport", true, http.StatusNotFound, true},
		{"missing parameter", "POST", "/ari/bridges/b/addChannel", true, http.StatusBadRequest, true},
		{"not simulated", "POST", "/ari/channels/x/ring", true, http.StatusNotImplemented, false},
		{"unknown channel", "POST", "/ari/channels/x/answer", true, http.StatusNotFound, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &complaints{TB: t}
			s := New(rec, Options{})
			req, err := http.NewRequest(tt.method, s.http.URL+tt.target, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.auth {
				req.SetBasicAuth(s.Credentials())
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", res.StatusCode, tt.wantStatus)
			}
			if got := rec.count() > 0; got != tt.wantComplaint {
				t.Errorf("test failed %t, want %t (%v)", got, tt.wantComplaint, rec.errs)
			}
		})
	}
}
