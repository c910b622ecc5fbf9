package broker

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCompetingReceivers runs senders and peek-lock receivers on one queue
// at once and checks that no message is ever held by two receivers and that
// every message is completed exactly once.
func TestCompetingReceivers(t *testing.T) {
	t.Parallel()
	const (
		senders    = 4
		perSender  = 300
		receivers  = 6
		total      = senders * perSender
		maxWaiting = 20 * time.Second
	)
	// Real time, with a long lock so nothing expires during the test.
	b, err := New(SystemClock{}, []QueueConfig{{Name: "q", LockDuration: 5 * time.Minute, MaxDeliveryCount: 1000}})
	require.NoError(t, err)
	q := b.Queues()[0]

	var (
		held      sync.Map // seq -> receiver currently holding it
		completed sync.Map // seq -> true
		done      atomic.Int64
		twice     atomic.Int64
		wg        sync.WaitGroup
	)
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perSender; i++ {
				if _, err := q.Send([]Message{{MessageID: fmt.Sprintf("%d-%d", s, i)}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	deadline := time.Now().Add(maxWaiting)
	for r := 0; r < receivers; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; done.Load() < total && time.Now().Before(deadline); n++ {
				wake := q.Changed()
				rec, ok := q.Receive(PeekLock)
				if !ok {
					select {
					case <-wake:
					case <-time.After(10 * time.Millisecond):
					}
					continue
				}
				if prev, loaded := held.LoadOrStore(rec.SequenceNumber, r); loaded {
					twice.Add(1)
					t.Errorf("message %d handed to receiver %d while %v holds it", rec.SequenceNumber, r, prev)
				}
				runtime.Gosched() // hold it a moment, giving a wrong second hand-out a chance to show
				held.Delete(rec.SequenceNumber)
				var err error
				switch n % 4 { // settle in different ways to stir the queue
				case 1:
					err = q.Abandon(rec.LockToken, nil)
				case 2:
					err = q.Release(rec.LockToken)
				default:
					if _, dup := completed.LoadOrStore(rec.SequenceNumber, true); dup {
						twice.Add(1)
					}
					err = q.Complete(rec.LockToken)
					done.Add(1)
				}
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, twice.Load())
	assert.Equal(t, int64(total), done.Load())
	assert.Equal(t, Stats{}, q.Stats())
	checkInvariants(t, b)
}

// TestConcurrentMixedOperations exercises every operation from several
// goroutines under the race detector, then checks the bookkeeping.
func TestConcurrentMixedOperations(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	b, err := New(clk, []QueueConfig{
		{Name: "a", LockDuration: time.Second, MaxDeliveryCount: 2, DefaultMessageTimeToLive: 5 * time.Second,
			DeadLetteringOnExpiration: true, RequiresDuplicateDetection: true, DuplicateDetectionWindow: time.Second},
		{Name: "b", ForwardTo: "a", ForwardDeadLetteredMessagesTo: "a"},
	})
	require.NoError(t, err)
	qa, qb := b.Queues()[0], b.Queues()[1]
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				id := fmt.Sprint(i % 50)
				_, _ = qb.Send([]Message{{MessageID: id}})
				_, _ = qa.Schedule([]Message{{MessageID: "s" + id, ScheduledEnqueueTime: clk.Now().Add(time.Second)}})
				for _, q := range []*Queue{qa, qa.DeadLetterQueue()} {
					rec, ok := q.Receive(PeekLock)
					if !ok {
						continue
					}
					switch i % 5 {
					case 0:
						_ = q.Complete(rec.LockToken)
					case 1:
						_ = q.Abandon(rec.LockToken, []Property{{Key: "i", Value: i}})
					case 2:
						_ = q.Defer(rec.LockToken, nil)
						_, _ = q.ReceiveDeferred([]int64{rec.SequenceNumber}, ReceiveAndDelete)
					case 3:
						_ = q.DeadLetter(rec.LockToken, "r", "d", nil)
					case 4:
						_, _ = q.RenewLock(rec.LockToken)
					}
				}
				_ = qa.Peek(0, 5)
				_ = qa.Stats()
				if g == 0 && i%10 == 0 {
					clk.Advance(300 * time.Millisecond)
					b.Sweep()
				}
			}
		}()
	}
	wg.Wait()
	checkInvariants(t, b)
}
