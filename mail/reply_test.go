package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/morozhq/moroz/store"
)

func TestReplierAnswersInThread(t *testing.T) {
	r := newRig(t, nil)
	r.mustSend("masha@example.ru", "plain-utf8.eml")
	it := r.onlyItem()

	s := newSink(t, nil, nil)
	relay, err := NewRelay(RelayConfig{Addr: s.addr})
	if err != nil {
		t.Fatal(err)
	}
	out := NewOutbox(relay, OutboxConfig{}, discard())
	runOutbox(t, out)
	helper, err := r.st.CreateUser(context.Background(), store.User{Login: "snegurochka", Role: store.RoleHelper})
	if err != nil {
		t.Fatal(err)
	}
	rep := &Replier{Store: r.st, Outbox: out, From: Address{Name: "Дед Мороз", Addr: "ded@moroz.test"}, Domain: "moroz.test"}
	msg, err := rep.Send(context.Background(), Answer{ItemID: it.ID, HelperID: helper.ID, Text: "Здравствуй, Маша! Велосипед будет."})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if msg.HelperID != helper.ID || msg.Direction != "out" || msg.ItemID != it.ID {
		t.Errorf("stored answer = %+v", msg)
	}

	got := <-s.got
	l, err := Parse(bytes.NewReader(got.data), "")
	if err != nil {
		t.Fatal(err)
	}
	gotHdr := []any{got.to, l.Subject, l.InReplyTo, l.References, l.MessageID, l.AutoSubmitted}
	wantHdr := []any{[]string{"Masha@Example.RU"}, "Re: Письмо Деду Морозу", []string{"plain-1@example.ru"},
		[]string{"plain-1@example.ru"}, msg.ExternalID, ""}
	if diff := cmp.Diff(wantHdr, gotHdr); diff != "" {
		t.Errorf("answer as delivered (-want +got):\n%s", diff)
	}

	back := fmt.Sprintf("From: masha@example.ru\r\nTo: ded@moroz.test\r\nSubject: Re: Re\r\n"+
		"Message-ID: <thanks-1@example.ru>\r\nIn-Reply-To: <%s>\r\n\r\nСпасибо!\r\n", msg.ExternalID)
	if err := r.send("masha@example.ru", []string{"ded@moroz.test"}, []byte(back)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"in", "out", "out", "in"}, directions(r.messages(r.onlyItem().ID))); diff != "" {
		t.Errorf("thread after the answer (-want +got):\n%s", diff)
	}
}

func TestReplierRefuses(t *testing.T) {
	r := newRig(t, nil)
	rep := &Replier{Store: r.st, Outbox: r.out, From: Address{Addr: "ded@moroz.test"}, Domain: "moroz.test"}
	if _, err := rep.Send(context.Background(), Answer{ItemID: 1, Text: " "}); err == nil {
		t.Error("Send with empty text: got nil error")
	}
	if _, err := rep.Send(context.Background(), Answer{ItemID: 999, Text: "hi"}); !errors.Is(err, ErrNoLetter) {
		t.Errorf("Send to an item without letters = %v, want ErrNoLetter", err)
	}
}

func TestReplyAddress(t *testing.T) {
	tests := []struct {
		name, replyTo, from string
		want                Address
		wantErr             bool
	}{
		{"from", "", "Маша <masha@example.ru>", Address{Name: "Маша", Addr: "masha@example.ru"}, false},
		{"reply-to wins", "Mum <mum@example.ru>", "masha@example.ru", Address{Name: "Mum", Addr: "mum@example.ru"}, false},
		{"unquoted comma", "", "Ivanova, Masha <masha@example.ru>", Address{Name: "Ivanova, Masha", Addr: "masha@example.ru"}, false},
		{"nothing", "", "", Address{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := replyAddress(tt.replyTo, tt.from)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("replyAddress = %+v, %v; want %+v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
