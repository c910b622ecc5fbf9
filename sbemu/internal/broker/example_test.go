package broker_test

import (
	"fmt"
	"time"

	"github.com/licensefix/licensefix/sbemu/internal/broker"
)

// fixedClock is a Clock stopped at one instant, so examples are deterministic.
type fixedClock struct{ t time.Time }

func (c *fixedClock) Now() time.Time { return c.t }

func Example() {
	clock := &fixedClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b, err := broker.New(clock, []broker.QueueConfig{{Name: "licenses", MaxDeliveryCount: 2}})
	if err != nil {
		panic(err)
	}
	q, _ := b.Entity("licenses")
	seqs, _ := q.Send([]broker.Message{{MessageID: "user-1", Payload: "fixed"}})
	fmt.Println("sent", seqs)

	// Two failed deliveries reach MaxDeliveryCount.
	for range 2 {
		rec, _ := q.Receive(broker.PeekLock)
		fmt.Println("delivery count", rec.DeliveryCount)
		_ = q.Abandon(rec.LockToken, nil)
	}

	dlq, _ := b.Entity("licenses/$DeadLetterQueue")
	rec, _ := dlq.Receive(broker.PeekLock)
	fmt.Println(rec.MessageID, "from", rec.DeadLetterSource)
	for _, p := range rec.Properties {
		fmt.Printf("%s=%v\n", p.Key, p.Value)
	}
	// Output:
	// sent [1]
	// delivery count 0
	// delivery count 1
	// user-1 from licenses
	// DeadLetterReason=MaxDeliveryCountExceeded
	// DeadLetterErrorDescription=Message could not be consumed after 2 delivery attempts.
}

func ExampleQueue_Changed() {
	b, _ := broker.New(broker.SystemClock{}, []broker.QueueConfig{{Name: "q"}})
	q := b.Queues()[0]

	wake := q.Changed() // ask before looking, so no send is missed
	if _, ok := q.Receive(broker.PeekLock); !ok {
		_, _ = q.Send([]broker.Message{{MessageID: "a"}}) // another goroutine, in real life
		<-wake
		rec, ok := q.Receive(broker.PeekLock)
		fmt.Println(ok, rec.MessageID)
	}
	// Output: true a
}

func ExampleQueue_ReceiveDeferred() {
	clock := &fixedClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b, _ := broker.New(clock, []broker.QueueConfig{{Name: "q"}})
	q := b.Queues()[0]
	_, _ = q.Send([]broker.Message{{MessageID: "later"}})
	rec, _ := q.Receive(broker.PeekLock)
	_ = q.Defer(rec.LockToken, nil)

	_, ok := q.Receive(broker.PeekLock)
	fmt.Println("visible to Receive:", ok)
	fmt.Printf("%+v\n", q.Stats())

	recs, _ := q.ReceiveDeferred([]int64{rec.SequenceNumber}, broker.PeekLock)
	fmt.Println(recs[0].MessageID, q.Complete(recs[0].LockToken))
	// Output:
	// visible to Receive: false
	// {Active:0 Locked:0 Deferred:1 Scheduled:0}
	// later <nil>
}

func ExampleBroker_Sweep() {
	clock := &fixedClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b, _ := broker.New(clock, []broker.QueueConfig{{Name: "q", LockDuration: 30 * time.Second}})
	q := b.Queues()[0]
	_, _ = q.Schedule([]broker.Message{{MessageID: "s", ScheduledEnqueueTime: clock.t.Add(time.Hour)}})
	_, _ = q.Send([]broker.Message{{MessageID: "a"}})
	_, _ = q.Receive(broker.PeekLock)
	// The server sleeps until the returned time, or until Changed fires.
	fmt.Println(b.Sweep().Format(time.TimeOnly))
	// Output: 00:00:30
}
