package acd_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/morozhq/moroz/acd"
)

func TestVoiceFirst(t *testing.T) {
	tests := []struct {
		name string
		run  func(f *fixture)
	}{{
		name: "a helper busy with letters is offered a call",
		run: func(f *fixture) {
			f.login(1, []string{"q"}, nil)
			for id := int64(10); id < 12; id++ {
				f.enqueue(acd.Item{ID: id, Channel: acd.Email, Queue: "q"})
				f.accept(id, 1)
			}
			f.enqueue(acd.Item{ID: 20, Channel: acd.Voice, Queue: "q"})
			f.wantOffer(20, 1)
		},
	}, {
		name: "a helper on a call is offered nothing else",
		run: func(f *fixture) {
			f.login(1, []string{"q"}, nil)
			f.enqueue(acd.Item{ID: 20, Channel: acd.Voice, Queue: "q"})
			f.accept(20, 1)
			f.enqueue(acd.Item{ID: 10, Channel: acd.Email, Queue: "q"})
			f.wantOffer(10, 0)
			f.must(f.r.Complete(20, ""))
			f.wantOffer(10, 1)
		},
	}, {
		name: "a freed helper gets the call before an older, higher letter",
		run: func(f *fixture) {
			f.login(1, []string{"q"}, nil)
			f.must(f.r.SetStatus(1, acd.StatusAway, "lunch"))
			f.enqueue(acd.Item{ID: 10, Channel: acd.Email, Queue: "q", Priority: 9, Created: epoch})
			f.enqueue(acd.Item{ID: 20, Channel: acd.Voice, Queue: "q", Created: epoch.Add(time.Hour)})
			f.must(f.r.SetStatus(1, acd.StatusAvailable, ""))
			f.wantOffer(20, 1)
			f.wantOffer(10, 0)
		},
	}, {
		name: "a call displaces a pending letter offer",
		run: func(f *fixture) {
			f.login(1, []string{"q"}, nil)
			f.enqueue(acd.Item{ID: 10, Channel: acd.Email, Queue: "q"})
			f.wantOffer(10, 1)
			evs := f.enqueue(acd.Item{ID: 20, Channel: acd.Voice, Queue: "q"})
			f.wantOffer(20, 1)
			f.wantOffer(10, 0)
			if !hasEvent(evs, acd.EventWithdrawn, 10, 1) {
				t.Errorf("events %v lack the letter's withdrawal", types(evs))
			}
		},
	}, {
		name: "a call goes to a free helper before displacing a letter",
		run: func(f *fixture) {
			f.login(1, []string{"q"}, nil)
			f.enqueue(acd.Item{ID: 10, Channel: acd.Email, Queue: "q"})
			f.login(2, []string{"q"}, nil)
			f.enqueue(acd.Item{ID: 20, Channel: acd.Voice, Queue: "q"})
			f.wantOffer(20, 2)
			f.wantOffer(10, 1)
		},
	}, {
		name: "a letter goes to the helper not ringing",
		run: func(f *fixture) {
			f.login(1, []string{"q"}, nil)
			f.login(2, []string{"q"}, nil)
			f.enqueue(acd.Item{ID: 20, Channel: acd.Voice, Queue: "q"})
			f.wantOffer(20, 1)
			f.enqueue(acd.Item{ID: 10, Channel: acd.Email, Queue: "q"})
			f.wantOffer(10, 2)
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFixture(t, queues("q"))
				tt.run(f)
				f.check()
			})
		})
	}
}

func hasEvent(evs []acd.Event, typ acd.EventType, item, helper int64) bool {
	for _, e := range evs {
		if e.Type == typ && e.ItemID == item && e.HelperID == helper {
			return true
		}
	}
	return false
}

func types(evs []acd.Event) []acd.EventType {
	var ts []acd.EventType
	for _, e := range evs {
		ts = append(ts, e.Type)
	}
	return ts
}

func TestOrder(t *testing.T) {
	tests := []struct {
		name  string
		items []acd.Item
		want  int64 // offered first when the helper comes back
	}{{
		name: "priority first across queues",
		items: []acd.Item{
			{ID: 1, Channel: acd.Email, Queue: "a", Created: epoch},
			{ID: 2, Channel: acd.Email, Queue: "b", Priority: 5, Created: epoch.Add(time.Hour)},
		},
		want: 2,
	}, {
		name: "then age across queues",
		items: []acd.Item{
			{ID: 1, Channel: acd.Chat, Queue: "a", Created: epoch.Add(time.Minute)},
			{ID: 2, Channel: acd.Email, Queue: "b", Created: epoch},
		},
		want: 2,
	}, {
		name: "age within a queue whatever the arrival order",
		items: []acd.Item{
			{ID: 1, Channel: acd.Email, Queue: "a", Created: epoch.Add(time.Minute)},
			{ID: 2, Channel: acd.Email, Queue: "a", Created: epoch.Add(time.Second)},
			{ID: 3, Channel: acd.Email, Queue: "a", Created: epoch.Add(time.Hour)},
		},
		want: 2,
	}, {
		name: "a call before any letter",
		items: []acd.Item{
			{ID: 1, Channel: acd.Email, Queue: "a", Priority: 10, Created: epoch},
			{ID: 2, Channel: acd.Voice, Queue: "b", Created: epoch.Add(time.Hour)},
		},
		want: 2,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFixture(t, queues("a", "b"))
				f.must(f.r.SetHelper(acd.HelperConfig{ID: 1, Queues: []string{"a", "b"}}))
				for _, it := range tt.items {
					f.enqueue(it)
				}
				f.must(f.r.SetStatus(1, acd.StatusAvailable, ""))
				f.wantOffer(tt.want, 1)
				f.check()
			})
		})
	}
}

func TestSkillsAndCapacity(t *testing.T) {
	tests := []struct {
		name   string
		helper acd.HelperConfig
		item   acd.Item
		offer  bool
	}{
		{"level too low", acd.HelperConfig{Skills: map[string]int{"ru": 2}},
			acd.Item{Channel: acd.Chat, Skills: []acd.Skill{{Name: "ru", Level: 3}}}, false},
		{"level enough", acd.HelperConfig{Skills: map[string]int{"ru": 3}},
			acd.Item{Channel: acd.Chat, Skills: []acd.Skill{{Name: "ru", Level: 3}}}, true},
		{"one of two skills missing", acd.HelperConfig{Skills: map[string]int{"ru": 9}},
			acd.Item{Channel: acd.Chat, Skills: []acd.Skill{{Name: "ru", Level: 1}, {Name: "be", Level: 1}}}, false},
		{"no capacity for the channel", acd.HelperConfig{Capacity: map[acd.Channel]int{acd.Telegram: 0}},
			acd.Item{Channel: acd.Telegram}, false},
		{"other queue", acd.HelperConfig{Queues: []string{"b"}}, acd.Item{Channel: acd.Email}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFixture(t, queues("a", "b"))
				tt.helper.ID = 1
				if tt.helper.Queues == nil {
					tt.helper.Queues = []string{"a"}
				}
				f.must(f.r.SetHelper(tt.helper))
				f.must(f.r.SetStatus(1, acd.StatusAvailable, ""))
				tt.item.ID, tt.item.Queue = 10, "a"
				f.enqueue(tt.item)
				want := int64(0)
				if tt.offer {
					want = 1
				}
				f.wantOffer(10, want)
				f.check()
			})
		})
	}
}

func TestDefaultCapacity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, queues("q"))
		f.login(1, []string{"q"}, nil)
		for id := int64(1); id <= 4; id++ {
			f.enqueue(acd.Item{ID: id, Channel: acd.Chat, Queue: "q"})
			if id <= 3 {
				f.accept(id, 1)
			}
		}
		f.wantOffer(4, 0)
		f.must(f.r.Complete(1, ""))
		f.wantOffer(4, 1)
		info, _ := f.r.Helper(1)
		if got := info.Capacity[acd.Email]; got != 5 {
			t.Errorf("email capacity %d, want 5", got)
		}
		f.check()
	})
}
