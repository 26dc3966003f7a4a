package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/smtp"
	"strings"
	"testing"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/console"
	"github.com/morozhq/moroz/store"
)

// Three letters asking for the same thing are grouped, answered with one
// template by a helper who held none of them, and each gets its own reply
// in its own thread through the relay; every item ends replied.
func TestBatchAnswerThroughTheNode(t *testing.T) {
	ctx := context.Background()
	relay := newRelaySink(t)
	cfg := testConfig(t)
	cfg.Mail.Domains = []string{"ded-moroz.test"}
	cfg.Mail.Relay.Addr = relay.addr
	r := runNode(t, cfg)
	defer r.close(t)
	n := r.n

	names := []string{"Маша", "Петя", "Оля"}
	for i, name := range names {
		letter := fmt.Sprintf("From: %s <kid%d@example.org>\r\nTo: ded@ded-moroz.test\r\nSubject: Hochu sanki\r\n"+
			"Message-ID: <sanki-%d@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nХочу санки.\r\n", name, i, i)
		if err := smtp.SendMail(n.Addr("smtp"), nil, fmt.Sprintf("kid%d@example.org", i),
			[]string{"ded@ded-moroz.test"}, []byte(letter)); err != nil {
			t.Fatalf("send letter %d: %v", i, err)
		}
	}
	hash, err := console.HashPassword("secret")
	if err != nil {
		t.Fatal(err)
	}
	elf, err := n.Store().CreateUser(ctx, store.User{Login: "elf", Name: "Снегурочка", Role: store.RoleHelper, PasswordHash: hash})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Work().SetStatus(ctx, elf.ID, acd.StatusAvailable, ""); err != nil {
		t.Fatal(err)
	}
	tp, err := n.Store().PutTemplate(ctx, store.Template{Name: "sanki", Lang: "ru", Body: "{{name}}, будут санки! {{helper}}"})
	if err != nil {
		t.Fatal(err)
	}

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	base := "http://" + n.Addr("http")
	post(t, client, base+"/api/v1/session", `{"login":"elf","password":"secret"}`, nil)
	var batches struct {
		Batches []struct {
			Key     string
			ItemIDs []int64 `json:"item_ids"`
		}
	}
	get(t, client, base+"/api/v1/batches", &batches)
	if len(batches.Batches) != 1 || len(batches.Batches[0].ItemIDs) != 3 {
		t.Fatalf("batches: %+v, want one of three letters", batches.Batches)
	}
	body, _ := json.Marshal(map[string]any{"item_ids": batches.Batches[0].ItemIDs, "template_id": tp.ID})
	var answered struct {
		Results []struct {
			ItemID int64 `json:"item_id"`
			OK     bool
			Error  string
		}
	}
	post(t, client, base+"/api/v1/batches/answer", string(body), &answered)
	for _, res := range answered.Results {
		if !res.OK {
			t.Errorf("item %d: %s", res.ItemID, res.Error)
		}
	}

	replies := map[string]string{}
	for range names {
		raw := string(relay.next(t))
		for i := range names {
			if strings.Contains(raw, fmt.Sprintf("In-Reply-To: <sanki-%d@example.org>", i)) {
				replies[names[i]] = raw
			}
		}
	}
	for _, name := range names {
		raw, ok := replies[name]
		if !ok {
			t.Errorf("%s got no reply in their thread", name)
			continue
		}
		if !strings.Contains(raw, "=D0") { // the personalised Cyrillic body, quoted-printable
			t.Errorf("%s's reply has no personalised body:\n%s", name, raw)
		}
	}
	for _, id := range batches.Batches[0].ItemIDs {
		ms, err := n.Store().Messages(ctx, id)
		if err != nil || len(ms) < 2 {
			t.Fatalf("messages of item %d: %d, %v", id, len(ms), err)
		}
		var want string
		for i, name := range names {
			if strings.Contains(ms[0].From, fmt.Sprintf("kid%d@", i)) {
				want = name + ", будут санки! Снегурочка"
			}
		}
		out := ms[len(ms)-1]
		if out.Direction != "out" || out.TemplateID != tp.ID || out.Text != want {
			t.Errorf("item %d's answer: %q from template %d, want %q from %d", id, out.Text, out.TemplateID, want, tp.ID)
		}
	}
}

func post(t *testing.T, c *http.Client, url, body string, out any) {
	t.Helper()
	res, err := c.Post(url, "application/json", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		t.Fatalf("POST %s: %d", url, res.StatusCode)
	}
	if out != nil {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}

func get(t *testing.T, c *http.Client, url string, out any) {
	t.Helper()
	res, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, res.StatusCode)
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}
