package ari_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/morozhq/moroz/sip/ari"
	"github.com/morozhq/moroz/sip/ari/aritest"
)

// Every request the client can make is one the documents allow: the fake
// fails the test otherwise. Those it does not simulate answer 501.
func TestClientRequestsMatchTheDocuments(t *testing.T) {
	fake := aritest.New(t, aritest.Options{})
	user, pass := fake.Credentials()
	c, err := ari.NewClient(ari.ClientConfig{URL: fake.URL(), User: user, Password: pass, App: "moroz"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	caller := fake.NewCall("+375291234567", "100")
	tests := []struct {
		name string
		call func() error
		want int // HTTP status of the answer; 0 for success
	}{
		{"list channels", func() error { _, err := c.Channels(ctx); return err }, 0},
		{"get channel", func() error { _, err := c.Channel(ctx, caller); return err }, 0},
		{"get missing channel", func() error { _, err := c.Channel(ctx, "nope"); return err }, http.StatusNotFound},
		{"answer", func() error { return c.Answer(ctx, caller) }, 0},
		{"originate", func() error {
			_, err := c.Originate(ctx, ari.OriginateParams{Endpoint: "PJSIP/helper7", ChannelID: "moroz-helper-t",
				AppArgs: []string{ari.HelperArg, caller}, CallerID: "+375291234567", Timeout: 20})
			return err
		}, 0},
		{"external media", func() error {
			_, err := c.ExternalMedia(ctx, ari.ExternalMediaParams{ChannelID: "moroz-media-t", ExternalHost: "127.0.0.1:9", Format: "ulaw"})
			return err
		}, 0},
		{"create bridge", func() error { _, err := c.CreateBridge(ctx, "moroz-bridge-t", "test"); return err }, 0},
		{"add channels", func() error { return c.AddChannel(ctx, "moroz-bridge-t", caller, "moroz-media-t") }, 0},
		{"remove channel", func() error { return c.RemoveChannel(ctx, "moroz-bridge-t", "moroz-media-t") }, 0},
		{"list bridges", func() error { _, err := c.Bridges(ctx); return err }, 0},
		{"destroy bridge", func() error { return c.DestroyBridge(ctx, "moroz-bridge-t") }, 0},
		{"dial", func() error { return c.Dial(ctx, "moroz-helper-t", caller, 20) }, http.StatusNotImplemented},
		{"get variable", func() error { _, err := c.Variable(ctx, caller, "CDR(src)"); return err }, http.StatusNotImplemented},
		{"set variable", func() error { return c.SetVariable(ctx, caller, "MOROZ_ITEM", "7") }, http.StatusNotImplemented},
		{"play", func() error { _, err := c.Play(ctx, caller, "moroz-pb-t", "sound:hello-world"); return err }, 0},
		{"stop playback", func() error { return c.StopPlayback(ctx, "moroz-pb-t") }, http.StatusNotImplemented},
		{"record", func() error { _, err := c.Record(ctx, caller, "moroz-rec-t", "wav", 60); return err }, 0},
		{"stop recording", func() error { return c.StopRecording(ctx, "moroz-rec-t") }, 0},
		{"stop recording again", func() error { return c.StopRecording(ctx, "moroz-rec-t") }, http.StatusNotFound},
		{"hang up", func() error { return c.Hangup(ctx, caller, ari.ReasonCongestion) }, 0},
		{"hang up again", func() error { return c.Hangup(ctx, caller, "") }, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var e *ari.Error
			switch {
			case tt.want == 0 && err != nil:
				t.Errorf("error %v, want none", err)
			case tt.want != 0 && !errors.As(err, &e):
				t.Errorf("error %v, want an *ari.Error with status %d", err, tt.want)
			case tt.want != 0 && e.Status != tt.want:
				t.Errorf("status %d, want %d", e.Status, tt.want)
			}
		})
	}
}

func TestClientErrorCarriesStatusAndMessage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusConflict)
		w.Write([]byte(`{"message": "Channel not in Stasis application"}`))
	}))
	defer srv.Close()
	c, err := ari.NewClient(ari.ClientConfig{URL: srv.URL + "/ari", App: "moroz"})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Answer(context.Background(), "1.2")
	var e *ari.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v, want an *ari.Error", err)
	}
	want := ari.Error{Method: "POST", Path: "/channels/1.2/answer", Status: http.StatusConflict, Message: "Channel not in Stasis application"}
	if diff := cmp.Diff(*e, want); diff != "" {
		t.Errorf("error (-got +want):\n%s", diff)
	}
	if ari.IsNotFound(err) {
		t.Error("a 409 reported as not found")
	}
}

func TestNewClientRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  ari.ClientConfig
	}{
		{"no app", ari.ClientConfig{URL: "http://127.0.0.1:8088/ari"}},
		{"no scheme", ari.ClientConfig{URL: "127.0.0.1:8088/ari", App: "moroz"}},
		{"not http", ari.ClientConfig{URL: "ftp://pbx/ari", App: "moroz"}},
		{"no host", ari.ClientConfig{URL: "http:///ari", App: "moroz"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ari.NewClient(tt.cfg); err == nil {
				t.Error("no error")
			}
		})
	}
}

// A server that accepts the connection but never answers the handshake
// does not hold ConnectEvents past its context.
func TestConnectEventsEndsWithContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ari.NewClient(ari.ClientConfig{URL: "http://" + ln.Addr().String() + "/ari", App: "moroz"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var held net.Conn
	wg.Go(func() {
		held, _ = ln.Accept() // the handshake is on its way; give up on it
		cancel()
	})
	_, err = c.ConnectEvents(ctx)
	ln.Close()
	wg.Wait()
	if held != nil {
		held.Close()
	}
	if err == nil {
		t.Fatal("connected to a server that never answered")
	}
}

func TestEndpoint(t *testing.T) {
	tests := []struct{ in, want string }{
		{"PJSIP/helper7", "PJSIP/helper7"},
		{"SIP/desk-3", "SIP/desk-3"},
		{"helper7", "PJSIP/helper7"},
		{" helper8 ", "PJSIP/helper8"},
		{"sip:helper7@pbx.example", "PJSIP/helper7"},
		{"sips:helper9@pbx.example:5061", "PJSIP/helper9"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := ari.Endpoint(tt.in); got != tt.want {
				t.Errorf("Endpoint(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// Events arrive typed, in order; types Moroz does not read are counted.
func TestEventsDecoded(t *testing.T) {
	fake := aritest.New(t, aritest.Options{})
	user, pass := fake.Credentials()
	c, err := ari.NewClient(ari.ClientConfig{URL: fake.URL(), User: user, Password: pass, App: "moroz"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, connected := fake.Connections()
	conn, err := c.ConnectEvents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	guard := time.AfterFunc(awaitTimeout, func() { conn.Close() }) // a missing event fails Read
	defer guard.Stop()
	<-connected

	id := fake.NewCall("+375291234567", "100")
	fake.Press(id, '#')
	if _, err := c.Play(ctx, id, "moroz-pb-1", "sound:hello-world"); err != nil {
		t.Fatal(err)
	}
	fake.Hangup(id, ari.CauseNormal)

	type seen struct{ Type, Channel, Digit, Exten, Number, Playback string }
	var got []seen
	for len(got) < 6 {
		ev, err := conn.Read()
		if err != nil {
			t.Fatal(err)
		}
		s := seen{Type: ev.Type, Digit: ev.Digit}
		if ev.Channel != nil {
			s.Channel, s.Exten, s.Number = ev.Channel.ID, ev.Channel.Dialplan.Exten, ev.Channel.Caller.Number
		}
		if ev.Playback != nil {
			s.Playback = ev.Playback.State
		}
		got = append(got, s)
	}
	ch := seen{Channel: id, Exten: "100", Number: "+375291234567"}
	with := func(typ string, f func(*seen)) seen {
		s := ch
		s.Type = typ
		if f != nil {
			f(&s)
		}
		return s
	}
	want := []seen{
		with(ari.EventStasisStart, nil),
		with(ari.EventChannelDtmfReceived, func(s *seen) { s.Digit = "#" }),
		{Type: ari.EventPlaybackFinished, Playback: "done"},
		with(ari.EventChannelHangup, nil),
		with(ari.EventStasisEnd, nil),
		with(ari.EventChannelDestroyed, nil),
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("events (-got +want):\n%s", diff)
	}
	if n := c.UnknownEvents(); n != 1 {
		t.Errorf("unknown events %d, want 1 (PlaybackStarted)", n)
	}
}
