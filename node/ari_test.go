package node

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/logging"
	"github.com/morozhq/moroz/sip/ari"
	"github.com/morozhq/moroz/sip/ari/aritest"
)

// A node with ari.url set runs Asterisk's callers through the flow: a
// caller who hangs up during the greeting is recorded and called back.
func TestAsteriskMode(t *testing.T) {
	fake := aritest.New(t, aritest.Options{})
	cfg := testConfig(t)
	cfg.SIP.Addr = "" // Asterisk mode alone
	cfg.ARI.URL = fake.URL()
	cfg.ARI.User, cfg.ARI.Password = fake.Credentials()
	n, err := New(context.Background(), cfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	callbacks := make(chan int64, 4)
	stop := n.Work().Listen(func(e acd.Event) {
		if e.Channel == acd.Callback && e.Type == acd.EventEnqueued {
			callbacks <- e.ItemID
		}
	})
	defer stop()
	_, connected := fake.Connections()
	done := make(chan error, 1)
	go func() { done <- n.Run(context.Background()) }()
	awaitClosed(t, connected, "the events websocket")

	bridged := fake.NextRequest("POST addChannel")
	id := fake.NewCall("+375 29 765-43-21", "100")
	awaitClosed(t, bridged, "the caller's media")
	fake.Hangup(id, ari.CauseNormal)
	select {
	case <-callbacks:
	case <-time.After(30 * time.Second):
		t.Fatal("no callback queued within 30s")
	}
	n.Drain()
	if err := <-done; err != nil {
		t.Errorf("run after drain: %v", err)
	}

	st, err := OpenStore(context.Background(), cfg, logging.Discard()) // Run closed the node's
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rec, err := st.Call(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if rec.From != "+375297654321" || rec.To != "100" || rec.Outcome != acd.OutcomeAbandoned || rec.EndedAt.IsZero() {
		t.Errorf("call record %+v; want an ended abandoned call from +375297654321 to 100", rec)
	}
}

func awaitClosed(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(30 * time.Second):
		t.Fatalf("no %s within 30s", what)
	}
}

// The unknown-event counter is exported on /metrics.
func TestAsteriskModeMetrics(t *testing.T) {
	fake := aritest.New(t, aritest.Options{})
	cfg := testConfig(t)
	cfg.ARI.URL = fake.URL()
	cfg.ARI.User, cfg.ARI.Password = fake.Credentials()
	n, err := New(context.Background(), cfg, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	res, err := http.Get("http://" + n.Addr("http") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), "moroz_ari_unknown_events_total") {
		t.Errorf("/metrics has no moroz_ari_unknown_events_total:\n%.500s", body)
	}
}
