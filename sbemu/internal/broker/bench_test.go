package broker

import (
	"testing"
	"time"
)

// BenchmarkSendReceiveComplete measures one message's round trip through a
// queue that already holds a backlog, as the emulator's hot path does it.
func BenchmarkSendReceiveComplete(b *testing.B) {
	br, err := New(SystemClock{}, []QueueConfig{{Name: "q", DefaultMessageTimeToLive: time.Hour}})
	if err != nil {
		b.Fatal(err)
	}
	q := br.Queues()[0]
	backlog := make([]Message, 10000)
	if _, err := q.Send(backlog); err != nil {
		b.Fatal(err)
	}
	msg := []Message{{MessageID: "m", Size: 512, Payload: []byte("payload")}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := q.Send(msg); err != nil {
			b.Fatal(err)
		}
		rec, ok := q.Receive(PeekLock)
		if !ok {
			b.Fatal("nothing to receive")
		}
		if err := q.Complete(rec.LockToken); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendReceiveCompleteParallel runs the round trip from several
// goroutines at once on one queue.
func BenchmarkSendReceiveCompleteParallel(b *testing.B) {
	br, err := New(SystemClock{}, []QueueConfig{{Name: "q"}})
	if err != nil {
		b.Fatal(err)
	}
	q := br.Queues()[0]
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		msg := []Message{{MessageID: "m"}}
		for pb.Next() {
			if _, err := q.Send(msg); err != nil {
				b.Error(err)
				return
			}
			if rec, ok := q.Receive(PeekLock); ok {
				if err := q.Complete(rec.LockToken); err != nil {
					b.Error(err)
					return
				}
			}
		}
	})
}

// BenchmarkPeek measures peeking a page from the middle of a large queue.
func BenchmarkPeek(b *testing.B) {
	br, err := New(SystemClock{}, []QueueConfig{{Name: "q"}})
	if err != nil {
		b.Fatal(err)
	}
	q := br.Queues()[0]
	if _, err := q.Send(make([]Message, 100000)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if len(q.Peek(50000, 32)) != 32 {
			b.Fatal("short page")
		}
	}
}
