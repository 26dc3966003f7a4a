package store_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/morozhq/moroz/acd"
	"github.com/morozhq/moroz/store"
)

// BenchmarkLetterFiling stores what the mail intake stores for a new
// sender's letter with its auto-reply — the contact, the item with its
// first event, the letter and the auto-reply as messages, the auto-reply
// in the outbox — from 32 goroutines on SQLite: as three writes one
// after another (ResolveContact, CreateItem, FileLetter: how the intake
// filed a letter before FileItem) and as one FileItem.
//
//	go test -run '^$' -bench LetterFiling -benchtime 20000x ./store/
func BenchmarkLetterFiling(b *testing.B) {
	ways := []struct {
		name string
		file func(ctx context.Context, s store.Store, a store.Arrival) error
	}{
		{"writes=3", fileInThree},
		{"writes=1", func(ctx context.Context, s store.Store, a store.Arrival) error {
			_, err := s.FileItem(ctx, a)
			return err
		}},
	}
	for _, w := range ways {
		b.Run(w.name, func(b *testing.B) {
			s, err := store.Open(b.Context(), store.Config{DataDir: b.TempDir()})
			if err != nil {
				b.Fatalf("open: %v", err)
			}
			defer s.Close()
			fileLetters(b, s, w.file)
		})
	}
}

func fileInThree(ctx context.Context, s store.Store, a store.Arrival) error {
	c, err := s.ResolveContact(ctx, a.Contact, a.ContactName)
	if err != nil {
		return err
	}
	a.Item.ContactID = c.ID
	it, _, err := s.CreateItem(ctx, a.Item, a.First)
	if err != nil {
		return err
	}
	for i := range a.Messages {
		a.Messages[i].ItemID = it.ID
	}
	a.Out[0].ItemID = it.ID
	_, err = s.FileLetter(ctx, a.Messages, a.Out)
	return err
}

func fileLetters(b *testing.B, s store.Store, file func(context.Context, store.Store, store.Arrival) error) {
	const writers = 32
	ctx := context.Background()
	text := strings.Repeat("Дорогой Дедушка Мороз, я весь год слушался маму. ", 20)
	raw := []byte(strings.Repeat("X-Line: автоответ\r\n", 60))
	var (
		next     atomic.Int64
		failOnce sync.Once
		failed   error // set once through failOnce
		wg       sync.WaitGroup
	)
	cpu0 := processCPU(b)
	b.ResetTimer()
	for range writers {
		wg.Go(func() {
			for {
				n := next.Add(1)
				if n > int64(b.N) {
					return
				}
				id := strconv.FormatInt(n, 10)
				from := "child" + id + "@example.by"
				a := store.Arrival{
					Item: store.Item{Channel: acd.Email, ExternalID: id + "@example.by", Queue: "letters",
						State: acd.StateQueued, Subject: "Письмо Деду Морозу"},
					First:   store.Event{Type: "received"},
					Contact: store.Identity{Kind: "email", Value: from}, ContactName: "Ребёнок " + id,
					Messages: []store.Message{
						{Direction: "in", ExternalID: id + "@example.by", From: from, Text: text},
						{Direction: "out", ExternalID: "auto-" + id + "@moroz", To: from, Text: "Жди ответа"},
					},
					Out:         []store.OutLetter{{MessageID: "auto-" + id + "@moroz", To: []string{from}, Raw: raw}},
					AutoReplied: from,
				}
				if err := file(ctx, s, a); err != nil {
					failOnce.Do(func() { failed = err })
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if failed != nil {
		b.Fatalf("file letter: %v", failed)
	}
	cpu := processCPU(b) - cpu0
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "letters/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/letter")
}

// processCPU is the CPU time the process used so far, user and system.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(fmt.Errorf("getrusage: %w", err))
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
