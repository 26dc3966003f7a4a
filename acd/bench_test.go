package acd_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/morozhq/moroz/acd"
)

var benchLangs = []string{"ru", "be", "en", "de"}

// benchCenter is a router with queues and helpers with skills, for the
// benchmarks. Helpers take one call, one letter and one chat at once.
type benchCenter struct {
	b      *testing.B
	r      *acd.Router
	rnd    *rand.Rand
	queues []string
	nextID int64
}

func newBenchCenter(b *testing.B, nQueues, nHelpers int) *benchCenter {
	c := &benchCenter{b: b, rnd: rand.New(rand.NewPCG(1, 1))}
	var cfg acd.Config
	for i := range nQueues {
		name := fmt.Sprintf("q%02d", i)
		c.queues = append(c.queues, name)
		cfg.Queues = append(cfg.Queues, acd.QueueConfig{Name: name})
	}
	r, err := acd.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	c.r = r
	for id := int64(1); id <= int64(nHelpers); id++ {
		hc := acd.HelperConfig{ID: id, Skills: map[string]int{},
			Capacity: map[acd.Channel]int{acd.Voice: 1, acd.Email: 1, acd.Chat: 1, acd.Telegram: 0,
				acd.Form: 0, acd.Voicemail: 0, acd.Callback: 0}}
		for _, q := range c.rnd.Perm(nQueues)[:3] {
			hc.Queues = append(hc.Queues, c.queues[q])
		}
		for _, l := range benchLangs {
			hc.Skills[l] = 1 + c.rnd.IntN(5)
		}
		c.must(r.SetHelper(hc))
		c.must(r.SetStatus(id, acd.StatusAvailable, ""))
	}
	return c
}

func (c *benchCenter) must(evs []acd.Event, err error) []acd.Event {
	if err != nil {
		c.b.Fatal(err)
	}
	return evs
}

// enqueue adds an item of channel ch (random when empty) with a random
// queue and skill, and accepts the offer if one was made at once.
func (c *benchCenter) enqueue(ch acd.Channel) {
	if ch == "" {
		ch = []acd.Channel{acd.Voice, acd.Email, acd.Email, acd.Chat}[c.rnd.IntN(4)]
	}
	c.nextID++
	it := acd.Item{
		ID:       c.nextID,
		Channel:  ch,
		Queue:    c.queues[c.rnd.IntN(len(c.queues))],
		Priority: c.rnd.IntN(3),
	}
	if c.rnd.IntN(2) == 0 {
		it.Skills = []acd.Skill{{Name: benchLangs[c.rnd.IntN(len(benchLangs))], Level: 1 + c.rnd.IntN(3)}}
	}
	c.acceptOffers(c.must(c.r.Enqueue(it)))
}

func (c *benchCenter) acceptOffers(evs []acd.Event) {
	for _, e := range evs {
		if e.Type == acd.EventOffered {
			c.acceptOffers(c.must(c.r.Accept(e.ItemID, e.HelperID)))
		}
	}
}

// fill enqueues until n items wait.
func (c *benchCenter) fill(n int) {
	for c.waiting() < n {
		c.enqueue("")
	}
}

func (c *benchCenter) waiting() int {
	n := 0
	for _, q := range c.r.Queues() {
		n += q.Waiting
	}
	return n
}

// BenchmarkRouterOffer: 10,000 waiting items, 1,000 helpers in 20 queues
// with skills; one operation is a helper completing an item, which frees
// them, and the router choosing and offering their next item. Only that
// call is timed; the accept and the replacement item are not.
func BenchmarkRouterOffer(b *testing.B) {
	c := newBenchCenter(b, 20, 1000)
	c.fill(10_000)
	lat := make([]time.Duration, 0, b.N)
	offers := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		id, ch := c.busyItem()
		start := time.Now()
		evs, err := c.r.Complete(id, "")
		lat = append(lat, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range evs {
			if e.Type == acd.EventOffered {
				offers++
			}
		}
		c.acceptOffers(evs)
		c.enqueue(ch) // keeps the channel mix of the waiting items
	}
	b.StopTimer()
	reportLatency(b, lat)
	b.ReportMetric(float64(offers)/float64(len(lat)), "offers/op")
}

// busyItem returns an item held by a random busy helper: their call if
// they are on one (completing a letter would not free them).
func (c *benchCenter) busyItem() (int64, acd.Channel) {
	for {
		h, ok := c.r.Helper(int64(1 + c.rnd.IntN(1000)))
		if !ok || len(h.Active) == 0 {
			continue
		}
		var ch acd.Channel
		for _, id := range h.Active {
			if it, _ := c.r.Item(id); it.Channel == acd.Voice {
				return id, it.Channel
			} else if id == h.Active[0] {
				ch = it.Channel
			}
		}
		return h.Active[0], ch
	}
}

func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	b.ReportMetric(float64(sum.Nanoseconds())/float64(len(lat)), "ns/op")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns/op")
}

// BenchmarkRouterThroughput: sustained cycles of enqueue, offer, accept and
// complete, with 200 helpers taking letters and chats in 5 queues and a
// backlog of 1,000 items. One operation is a cycle of three router calls,
// each a decision: complete (which offers the freed helper their next item),
// accept, and enqueue (the backlog's replacement).
func BenchmarkRouterThroughput(b *testing.B) {
	var cfg acd.Config
	qs := []string{"a", "b", "c", "d", "e"}
	for _, q := range qs {
		cfg.Queues = append(cfg.Queues, acd.QueueConfig{Name: q})
	}
	r, err := acd.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	c := &benchCenter{b: b, r: r, rnd: rand.New(rand.NewPCG(2, 2)), queues: qs}
	for id := int64(1); id <= 200; id++ {
		c.must(r.SetHelper(acd.HelperConfig{ID: id, Queues: qs,
			Capacity: map[acd.Channel]int{acd.Voice: 0, acd.Email: 2, acd.Chat: 1}}))
		c.must(r.SetStatus(id, acd.StatusAvailable, ""))
	}
	channels := []acd.Channel{acd.Email, acd.Chat}
	add := func(ch acd.Channel) []acd.Event {
		c.nextID++
		return c.must(r.Enqueue(acd.Item{ID: c.nextID, Channel: ch, Queue: qs[c.rnd.IntN(len(qs))]}))
	}
	var held []int64
	for c.waiting() < 1000 {
		for _, e := range add(channels[c.rnd.IntN(2)]) {
			if e.Type == acd.EventOffered {
				c.must(r.Accept(e.ItemID, e.HelperID))
				held = append(held, e.ItemID)
			}
		}
	}
	kind := map[int64]acd.Channel{}
	for _, id := range held {
		it, _ := r.Item(id)
		kind[id] = it.Channel
	}
	b.ResetTimer()
	start := time.Now()
	n := 0
	for b.Loop() {
		i := n % len(held)
		ch := kind[held[i]]
		evs, err := r.Complete(held[i], "")
		if err != nil {
			b.Fatal(err)
		}
		delete(kind, held[i])
		held[i] = c.acceptNext(evs)
		kind[held[i]] = ch
		add(ch)
		n++
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(3*n)/elapsed.Seconds(), "decisions/s")
}

// acceptNext accepts the offer among evs and returns its item.
func (c *benchCenter) acceptNext(evs []acd.Event) int64 {
	for _, e := range evs {
		if e.Type == acd.EventOffered {
			c.must(c.r.Accept(e.ItemID, e.HelperID))
			return e.ItemID
		}
	}
	c.b.Fatal("a freed helper got no offer")
	return 0
}
