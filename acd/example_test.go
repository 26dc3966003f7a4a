package acd_test

import (
	"context"
	"fmt"

	"github.com/morozhq/moroz/acd"
)

// A voice flow subscribes to its item before it enqueues it, then waits for
// the accept (or the end); a console learns of its offers from the sink.
func Example() {
	console := acd.SinkFunc(func(e acd.Event) {
		if e.Type == acd.EventOffered {
			fmt.Printf("console: offer item %d to helper %d\n", e.ItemID, e.HelperID)
		}
	})
	r, err := acd.New(acd.Config{Sink: console, Queues: []acd.QueueConfig{{Name: "main"}}})
	if err != nil {
		panic(err)
	}
	defer r.Close()
	r.SetHelper(acd.HelperConfig{ID: 7, Queues: []string{"main"}})
	r.SetStatus(7, acd.StatusAvailable, "")

	sub := r.Subscribe(1)
	defer sub.Close()
	r.Enqueue(acd.Item{ID: 1, Channel: acd.Voice, Queue: "main"})
	r.Accept(1, 7) // the helper answers in the console

	e, err := sub.Wait(context.Background(), acd.Is(acd.EventAccepted, acd.EventClosed))
	if err != nil {
		panic(err)
	}
	fmt.Printf("call flow: item %d %s by helper %d\n", e.ItemID, e.Type, e.HelperID)
	// Output:
	// console: offer item 1 to helper 7
	// call flow: item 1 accepted by helper 7
}
