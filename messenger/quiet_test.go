package messenger

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
)

func TestQuietBotChatClosesAndTheNextMessageStartsAnew(t *testing.T) {
	ctx := context.Background()
	e, _ := tgEnv(t, false)
	e.deliver(t, tgSecret, tgUpdate(600, 1, "когда вы работаете?")) // answered by the FAQ
	items := e.items(t, acd.Telegram)
	if len(items) != 1 || items[0].State != acd.StateNew {
		t.Fatalf("items %+v, want one kept by the bot", items)
	}
	first := items[0]

	steps := []struct {
		name    string
		advance time.Duration
		want    int
	}{
		{"not quiet long enough", DefaultBotQuiet - time.Minute, 0},
		{"quiet for the period", time.Minute, 1},
		{"closed already", time.Hour, 0},
	}
	for _, s := range steps {
		e.clock.advance(s.advance)
		n, err := e.m.closeQuiet(ctx)
		if err != nil || n != s.want {
			t.Fatalf("%s: closed %d (error %v), want %d", s.name, n, err, s.want)
		}
	}
	it, err := e.st.Item(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if it.State != acd.StateClosed || it.Outcome != acd.OutcomeAutoReplied || it.ClosedAt.IsZero() {
		t.Errorf("quiet chat: state %q outcome %q closed at %v, want closed auto-replied", it.State, it.Outcome, it.ClosedAt)
	}
	evs, err := e.st.Events(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	var d struct{ Outcome, Reason string }
	if json.Unmarshal(last.Data, &d); last.Type != string(acd.EventClosed) || d.Outcome != string(acd.OutcomeAutoReplied) || d.Reason == "" {
		t.Errorf("last event %s %s, want closed as auto-replied with a reason", last.Type, last.Data)
	}

	e.deliver(t, tgSecret, tgUpdate(601, 2, "позовите оператора"))
	items = e.items(t, acd.Telegram)
	if len(items) != 2 || items[1].State != acd.StateQueued {
		t.Fatalf("items after the visitor wrote again %+v, want the closed one and a new one queued", items)
	}
	if got := transcript(t, e, items[1].ID); len(got) != 3 || got[0][2] != "позовите оператора" {
		t.Errorf("new chat's transcript %q, want the message, a greeting and the handoff", got)
	}
	e.clock.advance(2 * DefaultBotQuiet)
	if n, err := e.m.closeQuiet(ctx); err != nil || n != 0 {
		t.Errorf("a chat with the helpers: closed %d (error %v), want none", n, err)
	}
}

func TestQuietChatThatAskedForAPersonOffDutyGoesToHelpers(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	v := visitor{ch: acd.Chat, id: store.Identity{Kind: "chat", Value: strings.Repeat("b", 32)}}
	out, err := e.m.receive(ctx, v, inbound{ExternalID: "chat:b:1", Text: "позовите человека", At: e.clock.now()})
	if err != nil || !out.Offline || out.Queued {
		t.Fatalf("asked for a person with nobody on duty: %+v, %v; want offline, kept", out, err)
	}
	e.clock.advance(DefaultBotQuiet)
	if n, err := e.m.closeQuiet(ctx); err != nil || n != 0 {
		t.Fatalf("closed %d (error %v), want none", n, err)
	}
	it, err := e.st.Item(ctx, out.Item.ID)
	if err != nil {
		t.Fatal(err)
	}
	if it.State != acd.StateQueued {
		t.Errorf("state %q, want queued for the helpers", it.State)
	}
}

func TestQuietCountsFromTheBotsClockWhenTheSendersRunsAhead(t *testing.T) {
	ctx := context.Background()
	e, _ := tgEnv(t, false)
	u := tgUpdate(700, 1, "привет")
	u.Message.Date = e.clock.now().Add(24 * time.Hour).Unix() // the sender's clock is a day ahead
	e.deliver(t, tgSecret, u)
	e.clock.advance(DefaultBotQuiet)
	if n, err := e.m.closeQuiet(ctx); err != nil || n != 1 {
		t.Errorf("closed %d (error %v), want the chat closed an hour after the bot's answer", n, err)
	}
}
