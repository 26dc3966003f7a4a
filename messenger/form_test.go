package messenger

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
)

const siteOrigin = "https://dedmoroz.example"

func formEnv(t *testing.T) *env {
	t.Helper()
	return newEnv(t, func(o *Options) {
		o.Config.AllowedOrigins = []string{siteOrigin}
		o.Config.RatePerMinute, o.Config.RateBurst = 60, 1000 // tests that need the limit set their own
	})
}

func multipartBody(t *testing.T, fields map[string]string, file bool) (string, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	if file {
		fw, _ := w.CreateFormFile("photo", "a.jpg")
		fw.Write([]byte("jpeg"))
	}
	w.Close()
	return w.FormDataContentType(), b.String()
}

func TestFormBecomesItemWithFields(t *testing.T) {
	mpType, mpBody := multipartBody(t, map[string]string{"name": "Оля", "age": "7", "city": "Гомель",
		"wish": "Хочу санки", "email": "Olya@Example.org"}, false)
	tests := []struct {
		name, ctype, body string
	}{
		{"json", "application/json", `{"name":"Оля","age":7,"city":"Гомель","wish":"Хочу санки","email":"Olya@Example.org"}`},
		{"urlencoded", "application/x-www-form-urlencoded",
			"name=%D0%9E%D0%BB%D1%8F&age=7&city=%D0%93%D0%BE%D0%BC%D0%B5%D0%BB%D1%8C&wish=%D0%A5%D0%BE%D1%87%D1%83+%D1%81%D0%B0%D0%BD%D0%BA%D0%B8&email=Olya%40Example.org"},
		{"multipart", mpType, mpBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := formEnv(t)
			status, _, body := e.do(t, "POST", "/api/v1/forms/letter", tt.ctype, tt.body, nil)
			if status != http.StatusCreated {
				t.Fatalf("status %d %s, want 201", status, body)
			}
			var a formAnswer
			if err := json.Unmarshal([]byte(body), &a); err != nil || a.ID == 0 || a.Position != 1 {
				t.Fatalf("answer %s (%v): want an id and position 1", body, err)
			}
			it, err := e.st.Item(context.Background(), a.ID)
			if err != nil {
				t.Fatal(err)
			}
			if it.Channel != acd.Form || it.Subject != "Хочу санки" || it.State != acd.StateQueued {
				t.Errorf("item: channel %s subject %q state %s", it.Channel, it.Subject, it.State)
			}
			var data struct {
				Form   string            `json:"form"`
				Fields map[string]string `json:"fields"`
			}
			json.Unmarshal(it.Data, &data)
			wantFields := map[string]string{"name": "Оля", "age": "7", "city": "Гомель", "wish": "Хочу санки", "email": "olya@example.org"}
			if diff := cmp.Diff(data.Fields, wantFields); data.Form != "letter" || diff != "" {
				t.Errorf("item data form %q fields (-got +want):\n%s", data.Form, diff)
			}
			c, err := e.st.Contact(context.Background(), it.ContactID)
			if err != nil {
				t.Fatal(err)
			}
			if c.Name != "Оля" || c.Fields["city"] != "Гомель" || c.Fields["age"] != "7" {
				t.Errorf("contact %+v: want name Оля, city Гомель, age 7", c)
			}
			if diff := cmp.Diff(c.Identities, []store.Identity{{Kind: "email", Value: "olya@example.org"}}); diff != "" {
				t.Errorf("contact identities (-got +want):\n%s", diff)
			}
		})
	}
}

func TestFormIdempotencyKeyMakesOneItem(t *testing.T) {
	e := formEnv(t)
	body := `{"name":"Петя","wish":"Конструктор"}`
	key := map[string]string{"Idempotency-Key": "letter-42"}
	s1, _, b1 := e.do(t, "POST", "/api/v1/forms/letter", "application/json", body, key)
	s2, _, b2 := e.do(t, "POST", "/api/v1/forms/letter", "application/json", body, key)
	if s1 != http.StatusCreated || s2 != http.StatusOK {
		t.Fatalf("statuses %d, %d; want 201 then 200", s1, s2)
	}
	var a1, a2 formAnswer
	json.Unmarshal([]byte(b1), &a1)
	json.Unmarshal([]byte(b2), &a2)
	if a1.ID == 0 || a1.ID != a2.ID {
		t.Errorf("ids %d and %d; want one item", a1.ID, a2.ID)
	}
	s3, _, _ := e.do(t, "POST", "/api/v1/forms/letter", "application/json", body, nil)
	if got := len(e.items(t, acd.Form)); s3 != http.StatusCreated || got != 2 {
		t.Errorf("after a post without a key: status %d, %d items; want 201 and 2", s3, got)
	}
}

func TestFormRefusesBadInput(t *testing.T) {
	mpType, mpBody := multipartBody(t, map[string]string{"name": "Оля", "wish": "санки"}, true)
	big := `{"name":"Оля","wish":"` + strings.Repeat("а", DefaultMaxBody) + `"}`
	tests := []struct {
		name, path, ctype, body string
		hdr                     map[string]string
		wantStatus              int
		wantFields              map[string]string
	}{
		{"unknown form", "/api/v1/forms/nope", "application/json", `{}`, nil, 404, nil},
		{"wrong content type", "/api/v1/forms/letter", "text/plain", "name=Оля", nil, 415, nil},
		{"no content type", "/api/v1/forms/letter", "", `{"name":"Оля"}`, nil, 415, nil},
		{"too large", "/api/v1/forms/letter", "application/json", big, nil, 413, nil},
		{"not json", "/api/v1/forms/letter", "application/json", `{"name":`, nil, 400, nil},
		{"json array", "/api/v1/forms/letter", "application/json", `["name"]`, nil, 400, nil},
		{"json nested", "/api/v1/forms/letter", "application/json", `{"name":{"a":1},"wish":"x"}`, nil, 400, nil},
		{"two json values", "/api/v1/forms/letter", "application/json", `{"name":"a","wish":"b"}{}`, nil, 400, nil},
		{"missing fields", "/api/v1/forms/letter", "application/json", `{"city":"Минск"}`, nil, 400,
			map[string]string{"name": "required", "wish": "required"}},
		{"invalid fields", "/api/v1/forms/letter", "application/json",
			`{"name":"Оля","wish":"санки","age":"семь","email":"not-an-address"}`, nil, 400,
			map[string]string{"age": "must be a whole number", "email": "must be an email address like name@example.org"}},
		{"age out of range", "/api/v1/forms/letter", "application/json", `{"name":"Оля","wish":"санки","age":300}`, nil, 400,
			map[string]string{"age": "must be between 1 and 120"}},
		{"unknown field", "/api/v1/forms/letter", "application/json", `{"name":"Оля","wish":"санки","admin":"1"}`, nil, 400,
			map[string]string{"admin": "unknown field"}},
		{"too long", "/api/v1/forms/letter", "application/json", `{"name":"` + strings.Repeat("я", 101) + `","wish":"санки"}`, nil, 400,
			map[string]string{"name": "at most 100 characters"}},
		{"field twice", "/api/v1/forms/letter", "application/x-www-form-urlencoded", "name=a&name=b&wish=c", nil, 400, nil},
		{"bad urlencoding", "/api/v1/forms/letter", "application/x-www-form-urlencoded", "name=%zz", nil, 400, nil},
		{"file in multipart", "/api/v1/forms/letter", mpType, mpBody, nil, 400, nil},
		{"multipart without boundary", "/api/v1/forms/letter", "multipart/form-data", "x", nil, 400, nil},
		{"origin not allowed", "/api/v1/forms/letter", "application/json", `{"name":"Оля","wish":"санки"}`,
			map[string]string{"Origin": "https://evil.example"}, 403, nil},
		{"idempotency key too long", "/api/v1/forms/letter", "application/json", `{"name":"Оля","wish":"санки"}`,
			map[string]string{"Idempotency-Key": strings.Repeat("k", 201)}, 400, nil},
	}
	e := formEnv(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, body := e.do(t, "POST", tt.path, tt.ctype, tt.body, tt.hdr)
			if status != tt.wantStatus {
				t.Fatalf("status %d (%s), want %d", status, body, tt.wantStatus)
			}
			if !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
				t.Errorf("content type %q, want JSON", hdr.Get("Content-Type"))
			}
			var eb errorBody
			if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.Error == "" {
				t.Fatalf("body %q (%v): want {\"error\": ...}", body, err)
			}
			if tt.wantFields != nil {
				if diff := cmp.Diff(eb.Fields, tt.wantFields); diff != "" {
					t.Errorf("fields (-got +want):\n%s", diff)
				}
			}
		})
	}
	if got := e.items(t, acd.Form); len(got) != 0 {
		t.Errorf("%d items stored from bad input, want none", len(got))
	}
}

func TestFormHoneypotStoresNothing(t *testing.T) {
	e := formEnv(t)
	status, _, _ := e.do(t, "POST", "/api/v1/forms/letter", "application/json",
		`{"name":"Бот","wish":"купите","website":"http://spam.example"}`, nil)
	if status != http.StatusCreated {
		t.Errorf("status %d, want 201 (spam is not told it was caught)", status)
	}
	if got := e.items(t, acd.Form); len(got) != 0 {
		t.Errorf("%d items stored from spam, want none", len(got))
	}
}

func TestFormRateLimitPerAddress(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Config.RatePerMinute, o.Config.RateBurst = 6, 2 })
	post := func() (int, http.Header) {
		s, h, _ := e.do(t, "POST", "/api/v1/forms/letter", "application/json", `{"name":"Оля","wish":"санки"}`, nil)
		return s, h
	}
	for i := range 2 {
		if s, _ := post(); s != http.StatusCreated {
			t.Fatalf("post %d: status %d, want 201", i+1, s)
		}
	}
	s, h := post()
	if s != http.StatusTooManyRequests {
		t.Fatalf("third post: status %d, want 429", s)
	}
	if ra, err := strconv.Atoi(h.Get("Retry-After")); err != nil || ra < 1 || ra > 11 {
		t.Errorf("Retry-After %q, want 1 to 11 seconds (one post per 10s)", h.Get("Retry-After"))
	}
	e.clock.advance(10 * time.Second)
	if s, _ := post(); s != http.StatusCreated {
		t.Errorf("post after the wait: status %d, want 201", s)
	}
	if got := len(e.items(t, acd.Form)); got != 3 {
		t.Errorf("%d items, want 3 (the refused post made none)", got)
	}
}

func TestFormCORS(t *testing.T) {
	e := formEnv(t)
	status, hdr, _ := e.do(t, "OPTIONS", "/api/v1/forms/letter", "", "", map[string]string{
		"Origin": siteOrigin, "Access-Control-Request-Method": "POST",
		"Access-Control-Request-Headers": "content-type, idempotency-key"})
	if status != http.StatusNoContent {
		t.Fatalf("preflight status %d, want 204", status)
	}
	got := map[string]string{"origin": hdr.Get("Access-Control-Allow-Origin"),
		"methods": hdr.Get("Access-Control-Allow-Methods"), "headers": hdr.Get("Access-Control-Allow-Headers")}
	want := map[string]string{"origin": siteOrigin, "methods": "POST", "headers": "Content-Type, Idempotency-Key"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("preflight headers (-got +want):\n%s", diff)
	}
	status, hdr, _ = e.do(t, "POST", "/api/v1/forms/letter", "application/json", `{"name":"Оля","wish":"санки"}`,
		map[string]string{"Origin": siteOrigin})
	if status != http.StatusCreated || hdr.Get("Access-Control-Allow-Origin") != siteOrigin {
		t.Errorf("post from the site: %d, allow-origin %q", status, hdr.Get("Access-Control-Allow-Origin"))
	}
	if status, _, _ := e.do(t, "OPTIONS", "/api/v1/forms/letter", "", "", map[string]string{"Origin": "https://evil.example"}); status != http.StatusForbidden {
		t.Errorf("preflight from another site: %d, want 403", status)
	}
}

func TestAddrLimiterRefills(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newAddrLimiter(60, 2)
		var got []bool
		for range 3 {
			_, ok := l.allow("192.0.2.1", time.Now())
			got = append(got, ok)
		}
		if _, ok := l.allow("192.0.2.2", time.Now()); !ok {
			t.Error("another address was limited")
		}
		time.Sleep(time.Second) // fake time: one token back
		_, ok := l.allow("192.0.2.1", time.Now())
		got = append(got, ok)
		if diff := cmp.Diff(got, []bool{true, true, false, true}); diff != "" {
			t.Errorf("allowed (-got +want):\n%s", diff)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"default", Config{}, ""},
		{"bad form name", Config{Forms: []Form{{Name: "Bad Name"}}}, "messenger.forms[0].name"},
		{"subject not a field", Config{Forms: []Form{{Name: "f", Subject: "x"}}}, "messenger.forms[0].subject"},
		{"bad kind", Config{Forms: []Form{{Name: "f", Fields: []Field{{Name: "a", Kind: "date"}}}}}, "kind"},
		{"bad origin", Config{AllowedOrigins: []string{"dedmoroz.example"}}, "allowed_origins[0]"},
		{"webhook without secret", Config{Telegram: Telegram{Token: "1:x"}}, "webhook_secret"},
		{"bot quiet too short", Config{BotQuiet: time.Second}, "messenger.bot_quiet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.WithDefaults().Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate: %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate: %v, want an error naming %s", err, tt.wantErr)
			}
		})
	}
}
