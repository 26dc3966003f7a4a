package console

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/logging"
)

func TestPresence(t *testing.T) {
	const id = 7
	tests := []struct {
		name  string
		start acd.Status
		steps func(p *presence, ctx context.Context)
		want  []string
	}{
		{
			name:  "last socket gone: away at once, offline after the grace period",
			start: acd.StatusAvailable,
			steps: func(p *presence, ctx context.Context) {
				p.connect(ctx, id)
				p.disconnect(ctx, id)
				time.Sleep(DefaultGrace - time.Second)
				synctest.Wait()
			},
			want: []string{"status 7 away disconnected"},
		},
		{
			name:  "grace period passes",
			start: acd.StatusAvailable,
			steps: func(p *presence, ctx context.Context) {
				p.connect(ctx, id)
				p.disconnect(ctx, id)
				time.Sleep(DefaultGrace + time.Second)
				synctest.Wait()
			},
			want: []string{"status 7 away disconnected", "status 7 offline disconnected"},
		},
		{
			name:  "back within the grace period",
			start: acd.StatusAvailable,
			steps: func(p *presence, ctx context.Context) {
				p.connect(ctx, id)
				p.disconnect(ctx, id)
				time.Sleep(10 * time.Second)
				p.connect(ctx, id)
				time.Sleep(time.Minute)
				synctest.Wait()
			},
			want: []string{"status 7 away disconnected", "status 7 available "},
		},
		{
			name:  "another tab still open",
			start: acd.StatusAvailable,
			steps: func(p *presence, ctx context.Context) {
				p.connect(ctx, id)
				p.connect(ctx, id)
				p.disconnect(ctx, id)
				time.Sleep(time.Minute)
				synctest.Wait()
			},
			want: nil,
		},
		{
			name:  "away helper keeps the reason on return",
			start: acd.StatusAway,
			steps: func(p *presence, ctx context.Context) {
				p.connect(ctx, id)
				p.disconnect(ctx, id)
				p.connect(ctx, id)
			},
			want: []string{"status 7 away disconnected", "status 7 away lunch"},
		},
		{
			name:  "offline helper is left alone",
			start: acd.StatusOffline,
			steps: func(p *presence, ctx context.Context) {
				p.connect(ctx, id)
				p.disconnect(ctx, id)
				time.Sleep(time.Minute)
				synctest.Wait()
			},
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d := newFakeDesk()
				reason := ""
				if tt.start == acd.StatusAway {
					reason = "lunch"
				}
				d.helpers[id] = acd.HelperInfo{ID: id, Status: tt.start, Reason: reason}
				p := newPresence(d, 0, logging.Discard())
				tt.steps(p, context.Background())
				p.close()
				if diff := cmp.Diff(d.Calls(), tt.want); diff != "" {
					t.Errorf("status changes (-got +want):\n%s", diff)
				}
			})
		})
	}
}

func TestThrottle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var runs []time.Duration
		start := time.Now()
		th := newThrottle(500*time.Millisecond, func() { runs = append(runs, time.Since(start)) })
		for range 10 { // a burst: one run at once, one after the interval
			th.kick()
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(2 * time.Second)
		th.kick() // quiet for long: at once again
		synctest.Wait()
		th.close()
		th.close()
		want := []time.Duration{0, 500 * time.Millisecond, 2100 * time.Millisecond}
		if diff := cmp.Diff(runs, want); diff != "" {
			t.Errorf("runs (-got +want):\n%s", diff)
		}
	})
}
