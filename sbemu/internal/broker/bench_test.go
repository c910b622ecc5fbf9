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

// BenchmarkTopicFanOut measures one send to a topic with five subscriptions
// (one takes everything, four route through a Router that accepts half the
// messages), and receiving and completing every copy.
func BenchmarkTopicFanOut(b *testing.B) {
	half := routeFunc(func(m Message) ([]Message, error) {
		if m.Size%2 == 0 {
			return []Message{m}, nil
		}
		return nil, nil
	})
	subs := []SubscriptionConfig{{QueueConfig: QueueConfig{Name: "all"}}}
	for _, name := range []string{"r1", "r2", "r3", "r4"} {
		subs = append(subs, SubscriptionConfig{QueueConfig: QueueConfig{Name: name}, Router: half})
	}
	br, err := NewWithTopics(SystemClock{}, nil, []TopicConfig{{Name: "t", Subscriptions: subs}})
	if err != nil {
		b.Fatal(err)
	}
	topic, err := br.Entity("t")
	if err != nil {
		b.Fatal(err)
	}
	var queues []*Queue
	for _, s := range subs {
		q, err := br.Entity("t/Subscriptions/" + s.Name)
		if err != nil {
			b.Fatal(err)
		}
		queues = append(queues, q)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := topic.Send([]Message{{MessageID: "m", Size: i, Payload: []byte("payload")}}); err != nil {
			b.Fatal(err)
		}
		for _, q := range queues {
			for {
				rec, ok := q.Receive(PeekLock)
				if !ok {
					break
				}
				if err := q.Complete(rec.LockToken); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}
