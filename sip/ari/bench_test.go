package ari_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/morozhq/moroz/sip/ari"
	"github.com/morozhq/moroz/sip/ari/aritest"
	"github.com/morozhq/moroz/sip/media"
	"github.com/morozhq/moroz/voice"
)

// BenchmarkCallSetup measures one call's ARI work against the fake on
// loopback: StasisStart, answer, external media, bridge, then hangup and
// teardown, as the app does them for every call.
func BenchmarkCallSetup(b *testing.B) {
	fake := aritest.New(b, aritest.Options{})
	user, pass := fake.Credentials()
	client, err := ari.NewClient(ari.ClientConfig{URL: fake.URL(), User: user, Password: pass, App: "moroz"})
	if err != nil {
		b.Fatal(err)
	}
	ports, err := media.NewPortRange(netip.MustParseAddr("127.0.0.1"), 30000, 39998)
	if err != nil {
		b.Fatal(err)
	}
	ended := make(chan string, 1)
	app, err := ari.New(ari.Options{Client: client, Ports: ports, ExternalHost: netip.MustParseAddr("127.0.0.1"),
		Handler: func(ctx context.Context, c voice.Call) {
			if err := c.Answer(); err != nil {
				b.Error(err)
			}
		},
		CallEnded: func(id string) { ended <- id }})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	_, connected := fake.Connections()
	wg.Go(func() { app.Run(ctx) })
	defer func() {
		cancel()
		wg.Wait()
	}()
	select {
	case <-connected:
	case <-time.After(awaitTimeout):
		b.Fatal("no events websocket")
	}

	b.ResetTimer()
	for range b.N {
		fake.NewCall("+375291234567", "100")
		<-ended
	}
}
