package messenger

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func defaultBot(t *testing.T) (*Bot, BotConfig) {
	t.Helper()
	c, err := DefaultBot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBot(c)
	if err != nil {
		t.Fatal(err)
	}
	return b, c
}

// step is one visitor message and what the bot should do with it.
type step struct {
	text        string
	env         Env
	wantReplies []string // texts, or "@key" for a configured text in the conversation's language
	wantHandoff bool
	wantLive    bool
}

var onDuty = Env{Open: true, OnDuty: true}

func TestBotFlows(t *testing.T) {
	b, c := defaultBot(t)
	texts := func(lang, key string) string {
		switch key {
		case "@greeting":
			return c.Greeting[lang]
		case "@handoff":
			return c.HandoffReply[lang]
		case "@nobody":
			return c.NobodyOnDuty[lang]
		case "@hours":
			return c.OutOfHours[lang]
		case "@huh":
			return c.NotUnderstood[lang]
		case "@gifts":
			return c.FAQ[0].Answer[lang]
		case "@open":
			return c.FAQ[1].Answer[lang]
		case "@visit":
			return c.FAQ[2].Answer[lang]
		case "@name", "@age", "@city", "@wish", "@badage":
			for _, s := range c.Letter.Steps {
				if "@"+s.Field == key {
					return s.Ask[lang]
				}
				if key == "@badage" && s.Field == "age" {
					return s.Invalid[lang]
				}
			}
		}
		return key
	}
	tests := []struct {
		name  string
		lang  string
		steps []step
	}{
		{"greeting only", "ru", []step{{text: "Привет!", env: onDuty, wantReplies: []string{"@greeting"}}}},
		{"start command", "ru", []step{{text: "/start", env: onDuty, wantReplies: []string{"@greeting"}}}},
		{"question answered after the greeting", "ru", []step{
			{text: "Когда придут подарки?", env: onDuty, wantReplies: []string{"@greeting", "@gifts"}},
			{text: "Когда работаете?", env: onDuty, wantReplies: []string{"@open"}},
		}},
		{"hours asked in everyday words", "ru", []step{
			{text: "Когда вы работаете?", env: onDuty, wantReplies: []string{"@greeting", "@open"}},
			{text: "Во сколько можно позвонить?", env: onDuty, wantReplies: []string{"@open"}},
		}},
		{"hours asked in belarusian", "be", []step{
			{text: "Калі вы працуеце?", env: onDuty, wantReplies: []string{"@greeting", "@open"}},
		}},
		{"belarusian", "be", []step{
			{text: "Вітаю", env: onDuty, wantReplies: []string{"@greeting"}},
			{text: "Хачу прыехаць у госці", env: onDuty, wantReplies: []string{"@visit"}},
		}},
		{"english", "en", []step{
			{text: "hello", env: onDuty, wantReplies: []string{"@greeting"}},
			{text: "What are your opening hours?", env: onDuty, wantReplies: []string{"@open"}},
		}},
		{"asks for a person", "ru", []step{
			{text: "здравствуйте", env: onDuty, wantReplies: []string{"@greeting"}},
			{text: "Позовите оператора", env: onDuty, wantReplies: []string{"@handoff"}, wantHandoff: true, wantLive: true},
			{text: "ау?", env: onDuty}, // the bot is quiet once a helper has the chat
		}},
		{"asks for a human in english", "en", []step{
			{text: "hi", env: onDuty, wantReplies: []string{"@greeting"}},
			{text: "I want to talk to a human", env: onDuty, wantReplies: []string{"@handoff"}, wantHandoff: true, wantLive: true},
		}},
		{"belarusian person asked out of hours", "be", []step{
			{text: "Вітаю", env: onDuty, wantReplies: []string{"@greeting"}},
			{text: "Паклічце чалавека", env: Env{}, wantReplies: []string{"@hours"}, wantHandoff: true, wantLive: true},
		}},
		{"nobody on duty", "ru", []step{
			{text: "привет", env: onDuty, wantReplies: []string{"@greeting"}},
			{text: "нужен живой человек", env: Env{Open: true}, wantReplies: []string{"@nobody"}, wantHandoff: true, wantLive: true},
		}},
		{"not understood twice", "ru", []step{
			{text: "привет", env: onDuty, wantReplies: []string{"@greeting"}},
			{text: "абракадабра", env: onDuty, wantReplies: []string{"@huh"}},
			{text: "шмяк", env: onDuty, wantReplies: []string{"@handoff"}, wantHandoff: true, wantLive: true},
		}},
		{"understood in between resets the count", "ru", []step{
			{text: "абракадабра", env: onDuty, wantReplies: []string{"@greeting", "@huh"}},
			{text: "а подарки?", env: onDuty, wantReplies: []string{"@gifts"}},
			{text: "шмяк", env: onDuty, wantReplies: []string{"@huh"}},
		}},
		{"letter collected", "ru", []step{
			{text: "Хочу написать письмо", env: onDuty, wantReplies: []string{"@greeting", "@name"}},
			{text: "Оля", env: onDuty, wantReplies: []string{"@age"}},
			{text: "семь", env: onDuty, wantReplies: []string{"@badage"}},
			{text: "7", env: onDuty, wantReplies: []string{"@city"}},
			{text: "Гомель", env: onDuty, wantReplies: []string{"@wish"}},
			{text: "Хочу  санки", env: Env{}, wantReplies: []string{
				"Спасибо, Оля! Твоё письмо из города Гомель записано: «Хочу санки». Помощники Деда Мороза прочитают его и ответят здесь."},
				wantHandoff: true},
		}},
		{"letter in english", "en", []step{
			{text: "I want to write a letter", env: onDuty, wantReplies: []string{"@greeting", "@name"}},
			{text: "Sam", env: onDuty, wantReplies: []string{"@age"}},
			{text: "9", env: onDuty, wantReplies: []string{"@city"}},
			{text: "Минск", env: onDuty, wantReplies: []string{"@wish"}}, // a Cyrillic answer keeps the language
			{text: "a bike", env: onDuty, wantReplies: []string{
				"Thank you, Sam! Your letter from Минск is saved: “a bike”. Ded Moroz's helpers will read it and answer here."},
				wantHandoff: true},
		}},
		{"person asked while collecting", "ru", []step{
			{text: "письмо", env: onDuty, wantReplies: []string{"@greeting", "@name"}},
			{text: "оператор", env: onDuty, wantReplies: []string{"@handoff"}, wantHandoff: true, wantLive: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s BotState
			for i, st := range tt.steps {
				turn := b.Respond(&s, st.text, st.env)
				var want []string
				for _, r := range st.wantReplies {
					want = append(want, texts(tt.lang, r))
				}
				if diff := cmp.Diff(turn.Replies, want); diff != "" {
					t.Errorf("step %d %q: replies (-got +want):\n%s", i+1, st.text, diff)
				}
				if turn.Handoff != st.wantHandoff || turn.Live != st.wantLive {
					t.Errorf("step %d %q: handoff %v live %v, want %v %v", i+1, st.text,
						turn.Handoff, turn.Live, st.wantHandoff, st.wantLive)
				}
			}
		})
	}
}

func TestBotCollectedFields(t *testing.T) {
	b, _ := defaultBot(t)
	var s BotState
	var got []map[string]string
	for _, text := range []string{"письмо", "Оля", "7", "Гомель", "санки"} {
		if f := b.Respond(&s, text, onDuty).Fields; f != nil {
			got = append(got, f)
		}
	}
	want := []map[string]string{{"name": "Оля"}, {"age": "7"}, {"city": "Гомель"}, {"wish": "санки"}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("fields per turn (-got +want):\n%s", diff)
	}
}

func TestBotRefusesBrokenFlows(t *testing.T) {
	tests := []struct {
		name, yaml, wantErr string
	}{
		{"unknown key", "lang: ru\ngreting: {ru: x}\n", "greting"},
		{"not yaml", "lang: [", "bot flows"},
		{"no greeting", "lang: ru\nhandoff: [human]\n", "bot.greeting"},
		{"broken template", "lang: ru\ngreeting: {ru: a}\nhandoff_reply: {ru: a}\nnobody_on_duty: {ru: a}\nout_of_hours: {ru: a}\nnot_understood: {ru: a}\nhandoff: [human]\nletter: {done: {ru: '{{.name'}}\n", "bot.letter.done.ru"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseBot([]byte(tt.yaml))
			if err == nil {
				_, err = NewBot(c)
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one naming %s", err, tt.wantErr)
			}
		})
	}
}

func TestSampleBotIsTheDefault(t *testing.T) {
	sample, err := os.ReadFile(filepath.Join("..", "configs", "bot.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sample, defaultBotYAML) {
		t.Error("configs/bot.yaml differs from messenger/bot.yaml; copy one over the other")
	}
}

func TestDetectLang(t *testing.T) {
	tests := []struct{ text, want string }{
		{"Прывітанне, я з Мінска", "be"},
		{"Привет из Минска", "ru"},
		{"Hello from Minsk", "en"},
		{"42 !", ""},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			if got := detectLang(tt.text); got != tt.want {
				t.Errorf("detectLang(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}
