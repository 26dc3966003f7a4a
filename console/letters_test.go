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

func TestTemplateRefusedAtSave(t *testing.T) {
	f := newFixture(t)
	super := f.token(store.RoleSupervisor)
	tests := []struct {
		name, body, wantIn string
	}{
		{"unknown variable", `{"name":"a","body":"Привет, {{nmae}}"}`, `unknown variable \"nmae\"`},
		{"unclosed", `{"name":"b","subject":"{{name","body":"x"}`, "subject:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.do(http.DefaultClient, "POST", "/api/v1/templates", tt.body, bearer(super))
			got := decode[map[string]string](t, res)
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(got["error"], strings.ReplaceAll(tt.wantIn, `\"`, `"`)) {
				t.Errorf("status %d error %q, want 400 saying %s", res.StatusCode, got["error"], tt.wantIn)
			}
		})
	}
}

func TestTemplatePreview(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.user("elf", store.RoleHelper)
	c, err := f.store.ResolveContact(ctx, store.Identity{Kind: "email", Value: "masha@example.ru"}, "Маша")
	if err != nil {
		t.Fatal(err)
	}
	c.Fields = map[string]string{"city": "Гомель"}
	if err := f.store.UpdateContact(ctx, c); err != nil {
		t.Fatal(err)
	}
	it, _, err := f.store.CreateItem(ctx, store.Item{Channel: acd.Form, Queue: "letters", ContactID: c.ID, ExternalID: "k1",
		Data: []byte(`{"fields":{"wish":"коньки"}}`)}, store.Event{Type: "created"})
	if err != nil {
		t.Fatal(err)
	}
	tp, err := f.store.PutTemplate(ctx, store.Template{Name: "t", Subject: "Для {{name}}",
		Body: "{{name}} из {{city}} хочет {{wish}}. {{helper}}"})
	if err != nil {
		t.Fatal(err)
	}
	res := f.do(f.browser("elf"), "POST", "/api/v1/templates/"+itoa64(tp.ID)+"/preview", `{"item_id":`+itoa64(it.ID)+`}`, nil)
	got := decode[map[string]string](t, res)
	want := map[string]string{"subject": "Для Маша", "body": "Маша из Гомель хочет коньки. elf"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("preview (-got +want):\n%s", diff)
	}
	if res := f.do(f.browser("elf"), "POST", "/api/v1/templates/"+itoa64(tp.ID)+"/preview", `{"item_id":999}`, nil); res.StatusCode != 404 {
		t.Errorf("preview of a missing item: %d, want 404", res.StatusCode)
	}
}

func TestTemplateStats(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	elf := f.user("elf", store.RoleHelper)
	tp, err := f.store.PutTemplate(ctx, store.Template{Name: "t", Body: "x"})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 20, 10, 0, 0, 0, time.UTC)
	answers := []struct {
		after    time.Duration
		template int64
	}{{10 * time.Minute, 0}, {8 * time.Minute, 0}, {time.Minute, tp.ID}, {0, -1}} // -1: never answered
	for i, a := range answers {
		it, _, err := f.store.CreateItem(ctx, store.Item{Channel: acd.Email, Queue: "letters", ExternalID: itoa64(int64(i)),
			CreatedAt: t0}, store.Event{Type: "created", At: t0})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.store.AppendEvent(ctx, store.Event{ItemID: it.ID, Type: "accepted", HelperID: elf.ID, At: t0}); err != nil {
			t.Fatal(err)
		}
		if a.template < 0 {
			continue
		}
		if _, _, err := f.store.AddMessage(ctx, store.Message{ItemID: it.ID, Direction: "out", HelperID: elf.ID,
			TemplateID: a.template, Text: "ответ", CreatedAt: t0.Add(a.after)}); err != nil {
			t.Fatal(err)
		}
	}
	got := decode[map[string]any](t, f.do(http.DefaultClient, "GET", "/api/v1/stats/templates", "", bearer(f.token(store.RoleSupervisor))))
	want := map[string]any{
		"with_template":    map[string]any{"items": 1.0, "avg_seconds": 60.0},
		"without_template": map[string]any{"items": 2.0, "avg_seconds": 540.0},
		"saved_seconds":    480.0,
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("stats (-got +want):\n%s", diff)
	}
}

func TestBatches(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.user("elf", store.RoleHelper)
	items := []struct {
		ch      acd.Channel
		subject string
		data    string
	}{
		{acd.Email, "Хочу санки!", ""},
		{acd.Email, "Re: санки хочу", ""},
		{acd.Email, "Про собаку", ""},
		{acd.Form, "Письмо", `{"fields":{"wish":"Конструктор"}}`},
		{acd.Form, "Письмо", `{"fields":{"wish":"конструктор!"}}`},
		{acd.Form, "Письмо", `{"fields":{"wish":"конструктор"}}`},
	}
	for i, it := range items {
		var data []byte
		if it.data != "" {
			data = []byte(it.data)
		}
		if _, _, err := f.store.CreateItem(ctx, store.Item{Channel: it.ch, Queue: "letters", Subject: it.subject,
			ExternalID: itoa64(int64(i)), Data: data}, store.Event{Type: "created"}); err != nil {
			t.Fatal(err)
		}
	}
	got := decode[struct{ Batches []batchJSON }](t, f.do(f.browser("elf"), "GET", "/api/v1/batches", "", nil))
	want := []batchJSON{
		{Key: "wish:конструктор", Count: 3, ItemIDs: []int64{4, 5, 6}},
		{Key: "subject:санки хочу", Count: 2, ItemIDs: []int64{1, 2}},
	}
	if diff := cmp.Diff(got.Batches, want); diff != "" {
		t.Errorf("batches (-got +want):\n%s", diff)
	}
}
