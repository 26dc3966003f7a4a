package browsertest

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/console"
	"github.com/morozhq/moroz/store"
)

// TestHelperWorksALetterWhileTheWallboardWatches is the console's
// acceptance scenario: a helper logs in, goes available, a letter
// submitted to the work service appears as an offer, is accepted,
// answered from a template and wrapped up, while a supervisor's wallboard
// counts it; the helper's page cannot reach supervisor actions.
func TestHelperWorksALetterWhileTheWallboardWatches(t *testing.T) {
	root := browser(t)
	s := newSite(t)
	ctx := context.Background()
	s.user(t, "snegurochka", "Снегурочка", store.RoleHelper)
	s.user(t, "ded", "Дед Мороз", store.RoleSupervisor)
	tpl, err := s.store.PutTemplate(ctx, store.Template{Name: "Спасибо за письмо", Lang: "ru",
		Subject: "Ответ Деда Мороза", Body: "Здравствуй, {{name}}!\n\nСпасибо за письмо из города {{city}}. Подарок уже в пути.\n\n{{helper}}"})
	if err != nil {
		t.Fatal(err)
	}
	contact := s.contact(t)

	boss := newPage(t, root, "supervisor")
	boss.login(s.url, "ded")
	boss.until("wallboard", `document.querySelectorAll('[data-count]').length === 7`)
	boss.shot("01-wallboard-before")

	elf := newPage(t, root, "helper")
	elf.run("open", chromedp.Navigate(s.url), chromedp.WaitVisible(css(`#login-submit`)))
	elf.shot("02-login")
	elf.login(s.url, "snegurochka")
	if eval[bool](elf, `!!document.querySelector('#tab-board') || !!document.querySelector('#tab-admin')`) {
		t.Error("the helper's page shows the supervisor tabs")
	}
	elf.run("go available", choose(`#status`, "available"))
	elf.until("available", `document.querySelector('.offer.empty') && document.querySelector('#status').value === 'available'`)
	elf.shot("03-desk-available")

	it := s.letter(t, contact)
	elf.until("offer shown", `!!document.querySelector('#offer')`)
	if got := eval[string](elf, `document.querySelector('#offer').textContent`); !strings.Contains(got, "Хочу санки") {
		t.Errorf("offer card %q lacks the letter's subject", got)
	}
	elf.shot("04-offer")

	elf.run("accept with Alt+A", chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierAlt)))
	elf.until("item open", `!!document.querySelector('#item-view .msg.in') && !!document.querySelector('#contact')`)
	elf.until("templates loaded", `document.querySelectorAll('#template option').length > 1`)
	elf.run("insert the template", choose(`#template`, itoa(tpl.ID)))
	reply := eval[string](elf, `document.querySelector('#reply-text').value`)
	for _, want := range []string{"Здравствуй, Маша!", "из города Вологда", "Снегурочка"} {
		if !strings.Contains(reply, want) {
			t.Errorf("reply %q lacks %q: the template's variables were not filled", reply, want)
		}
	}
	// Any event on the item reloads it (a letter joining the thread, a
	// history line): what the helper is writing, the template chosen and
	// the focus must survive that.
	elf.run("focus the reply", chromedp.Evaluate[chromedp.Void](`(() => {
		const e = document.querySelector('#reply-text');
		e.focus(); e.setSelectionRange(5, 5);
		window.before = {editor: e, history: document.querySelector('#item-history'), text: e.value};
		window.moroz.state.changed('items'); })()`))
	elf.until("item reloaded", `!!document.querySelector('#item-history') && document.querySelector('#item-history') !== window.before.history`)
	if !eval[bool](elf, `(() => { const e = document.querySelector('#reply-text');
		return e === window.before.editor && e.value === window.before.text && document.activeElement === e &&
			e.selectionStart === 5; })()`) {
		t.Error("reloading the item lost the reply being written, its caret or its focus")
	}
	elf.run("edit the reply", chromedp.Evaluate[chromedp.Void](`document.querySelector('#reply-text').setSelectionRange(1e6, 1e6)`),
		chromedp.SendKeys(css(`#reply-text`), " С Новым годом!"))
	elf.shot("05-reply")
	elf.run("send with Ctrl+Enter", chromedp.Click(css(`#reply-text`)),
		chromedp.KeyEvent("\r", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	elf.until("reply in the thread", `!!document.querySelector('#item-view .msg.out')`)

	boss.until("answered counted", `document.querySelector('[data-count=answered] .tile-num').textContent === '1'`)
	boss.until("helper busy on the item", `document.querySelector('#helpers [data-helper]') !== null &&
		document.querySelector('#helpers').textContent.includes('#`+itoa(it.ID)+`')`)
	boss.until("volume chart", `[...document.querySelectorAll('.chart rect.s1')].some((r) => r.getAttribute('height') > 0)`)
	boss.shot("06-wallboard-during")

	elf.run("wrap up", choose(`#outcome`, "replied"), chromedp.SendKeys(css(`#note`), "Санки заказаны"),
		chromedp.Click(css(`#finish`)))
	elf.until("wrap-up", `!!document.querySelector('.pill.wrapup')`)
	elf.shot("07-wrapup")
	elf.run("end wrap-up", chromedp.Click(css(`#end-wrapup`)))
	elf.until("item gone", `!document.querySelector('#my-items') && !document.querySelector('.pill.wrapup')`)

	s.checkStored(t, it.ID, tpl.ID)
	checkHelperRefused(t, elf)

	boss.run("settings", chromedp.Click(css(`#tab-admin`)))
	boss.until("templates listed", `document.querySelector('#templates').textContent.includes('Спасибо за письмо')`)
	boss.shot("08-settings")
	boss.run("to the wallboard", chromedp.Click(css(`#tab-board`)))
	boss.until("helper listed", `!!document.querySelector('#helpers [data-helper] button')`)
	boss.run("force the helper away", press(`#helpers [data-helper] button`))
	elf.until("helper sees the forced away", `document.querySelector('#status').value === 'away'`)
	boss.until("wallboard shows away", `document.querySelector('#helpers [data-helper]').textContent.includes('Отошёл')`)
	boss.shot("09-wallboard-forced-away")

	elf.run("english", choose(`#lang`, "en"))
	elf.until("english", `document.querySelector('#logout').textContent === 'Sign out'`)
	elf.shot("10-desk-en")
	elf.run("belarusian", choose(`#lang`, "be"))
	elf.until("belarusian", `document.querySelector('#logout').textContent === 'Выйсці'`)
	elf.shot("11-desk-be")

	s.disable(t, "snegurochka")
	elf.until("disabled helper is logged out", `!!document.querySelector('#login-submit') &&
		document.querySelector('.login-error').textContent !== ''`)
	elf.shot("12-disabled")
}

// disable turns an account off through the admin API, as an admin would.
func (s *site) disable(t *testing.T, login string) {
	t.Helper()
	ctx := context.Background()
	u, err := s.store.UserByLogin(ctx, login)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := console.CreateToken(ctx, s.store, store.RoleAdmin, "test-admin")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("PATCH", s.url+"/api/v1/users/"+itoa(u.ID), strings.NewReader(`{"disabled":true}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("disable %s: status %d", login, res.StatusCode)
	}
}

// checkHelperRefused tries supervisor actions from the helper's page: the
// server must refuse both the API call and the websocket request.
func checkHelperRefused(t *testing.T, elf *page) {
	t.Helper()
	if got := eval[int](elf, `fetch('/api/v1/calls').then((r) => r.status)`); got != 403 {
		t.Errorf("helper GET /api/v1/calls: status %d, want 403", got)
	}
	if got := eval[int](elf, `fetch('/api/v1/templates', {method: 'POST', headers: {'Content-Type': 'application/json'},
		body: JSON.stringify({name: 'x', body: 'y'})}).then((r) => r.status)`); got != 403 {
		t.Errorf("helper POST /api/v1/templates: status %d, want 403", got)
	}
	got := eval[string](elf, `window.moroz.socket.request('force_status', {helper_id: 1, status: 'offline'})
		.then(() => 'done', (e) => e.message)`)
	if got != "forbidden" {
		t.Errorf("helper force_status over the websocket: %q, want forbidden", got)
	}
}

func (s *site) contact(t *testing.T) store.Contact {
	t.Helper()
	ctx := context.Background()
	c, err := s.store.ResolveContact(ctx, store.Identity{Kind: "email", Value: "masha@example.ru"}, "Маша")
	if err != nil {
		t.Fatal(err)
	}
	c.Fields = map[string]string{"city": "Вологда", "age": "7"}
	if err := s.store.UpdateContact(ctx, c); err != nil {
		t.Fatal(err)
	}
	return c
}

// letter submits a letter from the contact, as the mail intake would.
func (s *site) letter(t *testing.T, c store.Contact) store.Item {
	t.Helper()
	ctx := context.Background()
	it, _, err := s.work.Submit(ctx, store.Item{Channel: acd.Email, ExternalID: "<wish-1@example.ru>",
		Subject: "Хочу санки и книжку", ContactID: c.ID}, store.Event{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = s.store.AddMessage(ctx, store.Message{ItemID: it.ID, Direction: "in", ExternalID: "<wish-1@example.ru>",
		From: "Маша <masha@example.ru>", To: "ded@moroz.example", Subject: it.Subject,
		Text: "Дедушка Мороз!\nЯ весь год слушалась маму. Хочу санки и книжку про зверей.\nМаша, 7 лет", CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return it
}

// checkStored reads what the scenario left in the store.
func (s *site) checkStored(t *testing.T, itemID, templateID int64) {
	t.Helper()
	ctx := context.Background()
	msgs, err := s.store.Messages(ctx, itemID)
	if err != nil {
		t.Fatal(err)
	}
	var out *store.Message
	for i := range msgs {
		if msgs[i].Direction == "out" {
			out = &msgs[i]
		}
	}
	if out == nil || out.TemplateID != templateID || !strings.HasSuffix(out.Text, "С Новым годом!") {
		t.Errorf("stored reply %+v: want the edited template text with its template id", out)
	}
	tpl, err := s.store.Template(ctx, templateID)
	if err != nil || tpl.Uses != 1 {
		t.Errorf("template uses %d (%v), want 1", tpl.Uses, err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestClosedTabGetsNoOffers closes a helper's tab: the wallboard shows
// them away at once (they get no offer), with the reason.
func TestClosedTabGetsNoOffers(t *testing.T) {
	root := browser(t)
	s := newSite(t)
	s.user(t, "elf", "Эльф", store.RoleHelper)
	s.user(t, "ded", "Дед Мороз", store.RoleSupervisor)
	boss := newPage(t, root, "supervisor")
	boss.login(s.url, "ded")
	elf := newPage(t, root, "helper")
	elf.login(s.url, "elf")
	elf.run("go available", choose(`#status`, "available"))
	boss.until("helper available", `!!document.querySelector('#helpers [data-helper] .dot.available')`)

	elf.cancel() // the tab closes
	boss.until("helper away", `!!document.querySelector('#helpers [data-helper] .dot.away') &&
		document.querySelector('#helpers').textContent.includes('закрыл вкладку')`)
	boss.shot("13-wallboard-tab-closed")
	it := s.letter(t, s.contact(t))
	if info, ok := s.work.Router().Item(it.ID); !ok || len(info.OfferedTo) != 0 {
		t.Errorf("the letter was offered to %v with the helper's tab closed", info.OfferedTo)
	}
}

// TestChannelViews offers a web form, a chat and a voicemail in turn and
// checks that each opens in its own view.
func TestChannelViews(t *testing.T) {
	root := browser(t)
	s := newSite(t)
	ctx := context.Background()
	s.user(t, "elf", "Эльф", store.RoleHelper)
	c := s.contact(t)
	elf := newPage(t, root, "helper")
	elf.login(s.url, "elf")
	elf.run("go available", choose(`#status`, "available"))
	elf.until("available", `!!document.querySelector('.offer.empty') && document.querySelector('#status').value === 'available'`)

	views := []struct {
		name string
		item store.Item
		msgs []store.Message
		want string // a selector the view must show
		text string // and a text in it
	}{
		{"form", store.Item{Channel: acd.Form, ExternalID: "form-1", Subject: "Письмо с сайта", ContactID: c.ID,
			Data: []byte(`{"name":"Маша","age":"7","city":"Вологда","wish":"санки"}`)}, nil, `.form-fields`, "санки"},
		{"chat", store.Item{Channel: acd.Chat, ExternalID: "chat-1", Subject: "Чат", ContactID: c.ID},
			[]store.Message{{Direction: "in", From: "Маша", Text: "Дедушка, ты настоящий?"}}, `.thread.chat .msg.in`, "настоящий"},
		{"voicemail", store.Item{Channel: acd.Voicemail, ExternalID: "vm-1", Subject: "Голосовое сообщение",
			Data: []byte(`{"from":"+375291234567","duration_ms":12000}`)}, nil, `.call-panel`, "+375291234567"},
	}
	for i, v := range views {
		it, _, err := s.work.Submit(ctx, v.item, store.Event{})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range v.msgs {
			m.ItemID, m.CreatedAt = it.ID, time.Now()
			if _, _, err := s.store.AddMessage(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		elf.until(v.name+" offered", `!!document.querySelector('#offer')`)
		elf.run("accept the "+v.name, chromedp.Click(css(`#accept`)))
		elf.until(v.name+" view", `!!document.querySelector('#item-view[data-channel=`+string(v.item.Channel)+`] `+v.want+`') &&
			document.querySelector('#item-view').textContent.includes('`+v.text+`')`)
		elf.shot(fmt.Sprintf("2%d-view-%s", i, v.name))
		elf.run("finish the "+v.name, chromedp.Click(css(`#finish`)))
		elf.until(v.name+" closed", `!document.querySelector('#item-view')`)
	}
}
