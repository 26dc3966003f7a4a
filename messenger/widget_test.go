package messenger

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/internal/chrometest"
	"github.com/morozhq/moroz/store"
)

// These tests drive Debian's Chromium (headless, through chromedp) on a
// page the test serves from another origin, which embeds the widget with a
// script tag as Ded Moroz's site does.

// browser starts headless Chromium, or skips when it is not installed
// (a failure with MOROZ_REQUIRE_PEERS=1).
func browser(t *testing.T) context.Context { return chrometest.Start(t, 1000, 760) }

// widgetPage is a browser tab on the site's page.
type widgetPage struct {
	t   *testing.T
	ctx context.Context
	dir string
}

func artifactsDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("MOROZ_ARTIFACTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

func (p *widgetPage) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.shot("failed-" + step)
		p.t.Fatalf("%s: %v", step, err)
	}
}

// until waits for a JavaScript expression to become true.
func (p *widgetPage) until(step, js string) {
	p.t.Helper()
	wait := chromedp.Poll[bool](js, chromedp.WithPollingInterval(50*time.Millisecond))
	if _, err := chromedp.Run(p.ctx, wait); err != nil {
		p.shot("failed-" + step)
		p.t.Fatalf("%s: %v", step, err)
	}
}

func (p *widgetPage) shot(name string) {
	p.t.Helper()
	buf, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(filepath.Join(p.dir, "widget-"+name+".png"), buf, 0o644)
	}
	if err != nil {
		p.t.Errorf("screenshot %s: %v", name, err)
	}
}

// say types a line into the chat and sends it.
func (p *widgetPage) say(text string) {
	p.t.Helper()
	p.do("say "+text, chromedp.SendKeys(chromedp.CSS(`.moroz-chat input[name=text]`), text),
		chromedp.Click(chromedp.CSS(`.moroz-chat .moroz-input button`)))
}

// hasMessage is JavaScript: a chat line from `from` with exactly text.
func hasMessage(from, text string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('.moroz-chat .moroz-msg[data-from=%q]')].some(e => e.textContent === %q)`, from, text)
}

// siteEnv serves the site's page on its own origin and Moroz on another,
// with the page's origin allowed.
func siteEnv(t *testing.T) (*env, string) {
	t.Helper()
	var morozURL string
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>Вотчина Деда Мороза</title>
<script src="%s/chat/widget.js" defer></script></head>
<body><h1>Вотчина Деда Мороза</h1><p>Напишите нам в чат внизу страницы.</p></body></html>`, morozURL)
	}))
	t.Cleanup(site.Close)
	e := newEnv(t, func(o *Options) { o.Config.AllowedOrigins = []string{site.URL} })
	morozURL = e.srv.URL
	return e, site.URL
}

func TestWidgetChatWithBotThenHelper(t *testing.T) {
	ctx := context.Background()
	e, siteURL := siteEnv(t)
	elf := e.helper(t, "elf")
	if err := e.work.SetStatus(ctx, elf.ID, acd.StatusAway, "чай"); err != nil { // on duty, not free
		t.Fatal(err)
	}
	root := browser(t)
	p := &widgetPage{t: t, ctx: root, dir: artifactsDir(t)}
	p.do("open the site", chromedp.Navigate(siteURL), chromedp.WaitVisible(chromedp.CSS(`.moroz-chat input[name=text]`)))
	p.until("socket open", `document.querySelector('.moroz-chat .moroz-status').textContent === ''`)

	p.say("Привет! Когда придут подарки?")
	bot, _ := DefaultBot()
	p.until("the bot answers", hasMessage(botName, bot.FAQ[0].Answer["ru"]))
	p.say("Позовите человека")
	p.until("in the queue", `document.querySelector('.moroz-chat').dataset.position === '1'`)
	p.shot("queued")

	items := e.items(t, acd.Chat)
	if len(items) != 1 || items[0].State != acd.StateQueued {
		t.Fatalf("chat items %+v, want one queued", items)
	}
	it := items[0]
	if err := e.work.SetStatus(ctx, elf.ID, acd.StatusAvailable, ""); err != nil {
		t.Fatal(err)
	}
	e.waitEvent(t, acd.EventOffered, it.ID)
	if err := e.work.Accept(ctx, it.ID, elf.ID); err != nil {
		t.Fatal(err)
	}
	reply := "Здравствуй! Подарки придут в новогоднюю ночь."
	if _, err := e.work.Reply(ctx, it.ID, elf.ID, store.Message{Text: reply}); err != nil {
		t.Fatal(err)
	}
	p.until("the helper's reply shows", hasMessage("helper", reply))
	p.shot("answered")

	p.do("reload", chromedp.Reload())
	p.until("the chat is replayed after a reload", hasMessage("helper", reply)+` && `+hasMessage("visitor", "Позовите человека"))
	if got := len(e.items(t, acd.Chat)); got != 1 {
		t.Errorf("%d chat items after the reload, want 1 (the cookie kept the visitor)", got)
	}
}

func TestWidgetLetterFormWhenNobodyOnDuty(t *testing.T) {
	e, siteURL := siteEnv(t)
	root := browser(t)
	p := &widgetPage{t: t, ctx: root, dir: artifactsDir(t)}
	p.do("open the site", chromedp.Navigate(siteURL))
	p.until("the letter form shows", `(() => { const f = document.querySelector('.moroz-chat form.moroz-letter');
		return f && !f.classList.contains('moroz-hidden'); })()`)
	form := `.moroz-chat form.moroz-letter `
	p.do("fill the letter",
		chromedp.SendKeys(chromedp.CSS(form+`input[name=name]`), "Оля"),
		chromedp.SendKeys(chromedp.CSS(form+`input[name=age]`), "7"),
		chromedp.SendKeys(chromedp.CSS(form+`input[name=city]`), "Гомель"),
		chromedp.SendKeys(chromedp.CSS(form+`textarea[name=wish]`), "Хочу санки"))
	p.shot("letter-form")
	p.do("send the letter", chromedp.Click(chromedp.CSS(form+`button[type=submit]`)))
	p.until("the letter is acknowledged", `[...document.querySelectorAll('.moroz-chat .moroz-msg')].some(e => e.textContent.startsWith('Письмо получено'))`)
	p.shot("letter-sent")

	items := e.items(t, acd.Form)
	if len(items) != 1 || items[0].Subject != "Хочу санки" {
		t.Fatalf("form items %+v, want the letter", items)
	}
	var data struct{ Fields map[string]string }
	json.Unmarshal(items[0].Data, &data)
	if data.Fields["city"] != "Гомель" || data.Fields["age"] != "7" || data.Fields["name"] != "Оля" {
		t.Errorf("letter fields %v", data.Fields)
	}
}
