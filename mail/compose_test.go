package mail

import (
	"regexp"
	"testing"
	"time"
)

func TestNewMessageIDOrdered(t *testing.T) {
	form := regexp.MustCompile(`^[0-9a-f]{32}@moroz\.test$`)
	seen := make(map[string]bool)
	prev := NewMessageID("moroz.test")
	for i := range 3 {
		time.Sleep(2 * time.Millisecond) // the next millisecond
		for range 100 {
			id := NewMessageID("moroz.test")
			if !form.MatchString(id) {
				t.Fatalf("id %q: not 32 hex digits on the domain", id)
			}
			if seen[id] {
				t.Fatalf("id %q made twice", id)
			}
			seen[id] = true
		}
		id := NewMessageID("moroz.test")
		if id <= prev {
			t.Errorf("round %d: id %q made after %q sorts before it", i, id, prev)
		}
		prev = id
	}
}
