package storetest

import (
	"testing"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
)

// testOutboxChannels checks that each channel's sender pages through its
// own pending rows only, and that a Telegram row keeps its chat and
// payload across a reopen, its letter or reply in one commit.
func testOutboxChannels(t *testing.T, open Open) {
	ctx := t.Context()
	s := open(t)
	it := newItem(t, s, store.Item{Channel: acd.Telegram, ExternalID: "tg:7:1"})
	mail := must[store.OutLetter](t, "enqueue mail")(enqueue(t, s, store.OutLetter{
		MessageID: "m@moroz", To: []string{"kid@x"}, Raw: []byte("M\r\n")}, true))
	tg := store.OutLetter{Channel: acd.Telegram, ItemID: it.ID, MessageID: "tg-out:7:1:0",
		To: []string{"7"}, Raw: []byte(`{"chat_id":7,"text":"Здравствуй!"}`)}
	filed := must[store.FiledLetter](t, "file a turn")(s.FileLetter(ctx,
		[]store.Message{{ItemID: it.ID, Direction: "out", From: "bot", Text: "Здравствуй!"}},
		[]store.OutLetter{tg}))
	tgStored := filed.Out[0]
	if mail.Channel != acd.Email || tgStored.Channel != acd.Telegram {
		t.Errorf("channels: got mail %q, telegram %q, want email and telegram", mail.Channel, tgStored.Channel)
	}
	wantErr(t, "close", s.Close(), nil)

	s = open(t)
	tests := []struct {
		name    string
		channel acd.Channel
		want    []int64
	}{
		{"email", acd.Email, []int64{mail.ID}},
		{"empty is email", "", []int64{mail.ID}},
		{"telegram", acd.Telegram, []int64{tgStored.ID}},
		{"chat has none", acd.Chat, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := must[[]store.OutLetter](t, "pending")(s.PendingOut(ctx, tt.channel, 0, 0))
			var ids []int64
			for _, l := range got {
				ids = append(ids, l.ID)
			}
			diff(t, "pending ids", ids, tt.want)
		})
	}
	got := must[store.OutLetter](t, "telegram row")(s.OutLetter(ctx, tgStored.ID))
	diff(t, "telegram row after reopen", got, tgStored)
	_, _, err := s.EnqueueOut(ctx, store.OutLetter{Channel: "fax", MessageID: "f", To: []string{"1"}, Raw: []byte("x")})
	wantErr(t, "unknown channel", err, store.ErrInvalid)
}
