package broker

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeClock is a Clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newFakeClock() *fakeClock { return &fakeClock{now: epoch} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// setup builds a broker on a fake clock from cfgs and returns it with the
// first queue.
func setup(t testing.TB, cfgs ...QueueConfig) (*Broker, *Queue, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	b, err := New(clk, cfgs)
	require.NoError(t, err)
	t.Cleanup(func() { checkInvariants(t, b) })
	return b, b.Queues()[0], clk
}

// send sends one message per id and returns the sequence numbers.
func send(t testing.TB, q *Queue, ids ...string) []int64 {
	t.Helper()
	msgs := make([]Message, len(ids))
	for i, id := range ids {
		msgs[i] = Message{MessageID: id, Payload: "body-" + id}
	}
	seqs, err := q.Send(msgs)
	require.NoError(t, err)
	return seqs
}

// receive takes one message in peek-lock mode, failing if none is there.
func receive(t testing.TB, q *Queue) Record {
	t.Helper()
	rec, ok := q.Receive(PeekLock)
	require.True(t, ok, "expected a message in %s", q.Name())
	return rec
}

// requireEmpty asserts that nothing is available in q.
func requireEmpty(t testing.TB, q *Queue) {
	t.Helper()
	rec, ok := q.Receive(PeekLock)
	require.False(t, ok, "unexpected message %d in %s", rec.SequenceNumber, q.Name())
}

// prop looks up a property by key.
func prop(rec Record, key string) (any, bool) {
	for _, p := range rec.Properties {
		if p.Key == key {
			return p.Value, true
		}
	}
	return nil, false
}

// checkInvariants verifies the internal bookkeeping of every queue of b:
// each entry sits in exactly one place, heaps and indexes agree, counters
// match, and sequence numbers are unique and below the counter.
func checkInvariants(t testing.TB, b *Broker) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, q := range b.all {
		avail, locked, deferred, scheduled := 0, 0, 0, 0
		for seq, e := range q.entries {
			require.Equal(t, seq, e.seq, "%s: entry key", q.name)
			require.Less(t, seq, q.nextSeq, "%s: seq below counter", q.name)
			require.Positive(t, seq)
			places := 0
			if e.availIdx >= 0 {
				places++
				avail++
				require.Same(t, e, q.avail[e.availIdx], "%s: avail index of %d", q.name, seq)
				require.Equal(t, StateActive, e.state)
				require.False(t, e.locked)
			}
			if e.locked {
				places++
				locked++
				require.Same(t, e, q.locks[e.token], "%s: lock map of %d", q.name, seq)
				require.NotEqual(t, StateScheduled, e.state)
			}
			if !e.locked && e.state == StateDeferred {
				places++
				deferred++
			}
			if e.state == StateScheduled {
				places++
				scheduled++
			}
			require.Equal(t, 1, places, "%s: entry %d is in %d places", q.name, seq, places)
			d := q.deadline(e)
			if d.IsZero() {
				require.Equal(t, -1, e.dueIdx, "%s: %d has no deadline but is in due heap", q.name, seq)
			} else {
				require.GreaterOrEqual(t, e.dueIdx, 0, "%s: %d missing from due heap", q.name, seq)
				require.Same(t, e, q.due[e.dueIdx])
				require.True(t, d.Equal(e.due), "%s: %d due key stale", q.name, seq)
			}
			if q.isDLQ {
				require.Equal(t, q.parent.name, e.dlSource)
			}
		}
		require.Len(t, q.avail, avail, "%s: avail heap has strays", q.name)
		require.Len(t, q.locks, locked, "%s: lock map has strays", q.name)
		require.Equal(t, deferred, q.nDeferred, "%s: deferred count", q.name)
		require.Equal(t, scheduled, q.nScheduled, "%s: scheduled count", q.name)
		for i, e := range q.due {
			require.Equal(t, i, e.dueIdx)
			require.Same(t, e, q.entries[e.seq], "%s: due heap holds removed %d", q.name, e.seq)
		}
		for i := 1; i < len(q.order); i++ {
			require.Less(t, q.order[i-1], q.order[i], "%s: order not increasing", q.name)
		}
		inOrder := 0
		for _, s := range q.order {
			if _, ok := q.entries[s]; ok {
				inOrder++
			}
		}
		require.Equal(t, len(q.entries), inOrder, "%s: order misses entries", q.name)
	}
}
