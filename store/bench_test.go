package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
	"github.com/morozhq/moroz/store/pgtest"
)

// BenchmarkIntake measures durable intake: CreateItem with its first event,
// committed, from 1 and from 32 concurrent writers, as items per second.
func BenchmarkIntake(b *testing.B) {
	backends := []struct {
		name string
		cfg  func(b *testing.B) store.Config
	}{
		{"sqlite", func(b *testing.B) store.Config { return store.Config{DataDir: b.TempDir()} }},
		{"postgres", func(b *testing.B) store.Config {
			u, err := url.Parse(pgtest.URL(b))
			if err != nil {
				b.Fatal(err)
			}
			q := u.Query()
			q.Set("pool_max_conns", "32")
			u.RawQuery = q.Encode()
			return store.Config{DB: u.String()}
		}},
	}
	for _, be := range backends {
		for _, writers := range []int{1, 32} {
			b.Run(fmt.Sprintf("%s/writers=%d", be.name, writers), func(b *testing.B) {
				s, err := store.Open(b.Context(), be.cfg(b))
				if err != nil {
					b.Fatalf("open: %v", err)
				}
				defer s.Close()
				intake(b, s, writers)
			})
		}
	}
}

// intake creates b.N items from writers goroutines.
func intake(b *testing.B, s store.Store, writers int) {
	ctx := context.Background()
	data := json.RawMessage(`{"from":"child@example.by","city":"Minsk","age":7}`)
	var (
		next     atomic.Int64
		failOnce sync.Once
		failed   error // set once through failOnce
		wg       sync.WaitGroup
	)
	b.ResetTimer()
	for range writers {
		wg.Go(func() {
			for {
				n := next.Add(1)
				if n > int64(b.N) {
					return
				}
				it := store.Item{Channel: acd.Email, ExternalID: "<" + strconv.FormatInt(n, 10) + "@bench>",
					Queue: "letters", State: acd.StateQueued, Subject: "Письмо Деду Морозу", Data: data}
				_, _, err := s.CreateItem(ctx, it, store.Event{Type: "enqueued"})
				if err != nil {
					failOnce.Do(func() { failed = err })
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if failed != nil {
		b.Fatalf("create item: %v", failed)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "items/s")
}
