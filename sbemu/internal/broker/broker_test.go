package broker

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewValidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfgs    []QueueConfig
		wantErr string
	}{
		{"empty name", []QueueConfig{{Name: ""}}, `queue "": Name must not be empty`},
		{"duplicate name", []QueueConfig{{Name: "a"}, {Name: "A"}}, `queue "A": Name is used by another queue`},
		{"dlq suffix in name", []QueueConfig{{Name: "a/$deadletterqueue"}}, `queue "a/$deadletterqueue": Name must not end in /$DeadLetterQueue`},
		{"negative lock", []QueueConfig{{Name: "a", LockDuration: -time.Second}}, `queue "a": LockDuration must be more than 0 and at most 5m0s, not -1s`},
		{"lock too long", []QueueConfig{{Name: "a", LockDuration: 5*time.Minute + 1}}, `queue "a": LockDuration must be`},
		{"max delivery", []QueueConfig{{Name: "a", MaxDeliveryCount: -1}}, `queue "a": MaxDeliveryCount must be at least 1, not -1`},
		{"negative ttl", []QueueConfig{{Name: "a", DefaultMessageTimeToLive: -1}}, `queue "a": DefaultMessageTimeToLive must not be negative`},
		{"negative window", []QueueConfig{{Name: "a", DuplicateDetectionWindow: -1}}, `queue "a": DuplicateDetectionWindow must not be negative`},
		{"forward unknown", []QueueConfig{{Name: "a", ForwardTo: "nope"}}, `queue "a": ForwardTo "nope" names no configured queue`},
		{"forward self", []QueueConfig{{Name: "a", ForwardTo: "A"}}, `queue "a": ForwardTo must not name the queue itself`},
		{"dl forward unknown", []QueueConfig{{Name: "a", ForwardDeadLetteredMessagesTo: "x"}}, `queue "a": ForwardDeadLetteredMessagesTo "x" names no configured queue`},
		{"dl forward self", []QueueConfig{{Name: "a", ForwardDeadLetteredMessagesTo: "a"}}, `queue "a": ForwardDeadLetteredMessagesTo must not name the queue itself`},
		{"forward cycle", []QueueConfig{{Name: "a", ForwardTo: "b"}, {Name: "b", ForwardTo: "c"}, {Name: "c", ForwardTo: "a"}}, `queue "a": ForwardTo chain loops back`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := New(newFakeClock(), tt.cfgs)
			require.Error(t, err)
			assert.Nil(t, b)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestNewAppliesDefaults(t *testing.T) {
	t.Parallel()
	b, err := New(nil, []QueueConfig{
		{Name: "plain"},
		{Name: "dedup", RequiresDuplicateDetection: true},
		{Name: "custom", LockDuration: 5 * time.Minute, MaxDeliveryCount: 1, RequiresDuplicateDetection: true, DuplicateDetectionWindow: time.Second},
	})
	require.NoError(t, err)
	qs := b.Queues()
	require.Len(t, qs, 3)
	assert.Equal(t, QueueConfig{Name: "plain", LockDuration: time.Minute, MaxDeliveryCount: 10}, qs[0].Config())
	assert.Equal(t, 10*time.Minute, qs[1].Config().DuplicateDetectionWindow)
	assert.Equal(t, QueueConfig{Name: "custom", LockDuration: 5 * time.Minute, MaxDeliveryCount: 1,
		RequiresDuplicateDetection: true, DuplicateDetectionWindow: time.Second}, qs[2].Config())
	assert.Equal(t, "plain/$DeadLetterQueue", qs[0].DeadLetterQueue().Config().Name)
	// A nil clock means the wall clock.
	_, err = qs[0].Send([]Message{{MessageID: "x"}})
	require.NoError(t, err)
	rec := receive(t, qs[0])
	assert.WithinDuration(t, time.Now(), rec.EnqueuedTime, time.Minute)
	require.NoError(t, qs[0].Complete(rec.LockToken))
}

func TestEntity(t *testing.T) {
	t.Parallel()
	b, q, _ := setup(t, QueueConfig{Name: "Orders"}, QueueConfig{Name: "other"})
	tests := []struct {
		path string
		want *Queue
	}{
		{"Orders", q},
		{"orders", q},
		{"Orders/$DeadLetterQueue", q.DeadLetterQueue()},
		{"Orders/$deadletterqueue", q.DeadLetterQueue()},
		{"other", b.Queues()[1]},
	}
	for _, tt := range tests {
		got, err := b.Entity(tt.path)
		require.NoError(t, err, tt.path)
		assert.Same(t, tt.want, got, tt.path)
	}
	for _, path := range []string{"", "nope", "/$DeadLetterQueue", "Orders/", "Orders/$DeadLetterQueue/$DeadLetterQueue", "Orders/x"} {
		_, err := b.Entity(path)
		assert.ErrorIs(t, err, ErrEntityNotFound, path)
	}
	assert.Equal(t, "Orders", q.Name())
	assert.Equal(t, "Orders/$DeadLetterQueue", q.DeadLetterQueue().Name())
	assert.Nil(t, q.DeadLetterQueue().DeadLetterQueue())
}

func TestQueuesReturnsCopyInConfigOrder(t *testing.T) {
	t.Parallel()
	b, _, _ := setup(t, QueueConfig{Name: "c"}, QueueConfig{Name: "a"}, QueueConfig{Name: "b"})
	qs := b.Queues()
	require.Equal(t, []string{"c", "a", "b"}, []string{qs[0].Name(), qs[1].Name(), qs[2].Name()})
	qs[0] = nil
	assert.NotNil(t, b.Queues()[0])
}

func TestSendToDeadLetterQueueIsNotSupported(t *testing.T) {
	t.Parallel()
	_, q, _ := setup(t, QueueConfig{Name: "q"})
	_, err := q.DeadLetterQueue().Send([]Message{{MessageID: "x"}})
	require.ErrorIs(t, err, ErrNotSupported)
	_, err = q.DeadLetterQueue().Schedule([]Message{{MessageID: "x"}})
	require.ErrorIs(t, err, ErrNotSupported)
}

func TestSweepReturnsNextDeadline(t *testing.T) {
	t.Parallel()
	b, q, clk := setup(t,
		QueueConfig{Name: "q", LockDuration: 30 * time.Second, DefaultMessageTimeToLive: time.Hour},
		QueueConfig{Name: "r"})
	r := b.Queues()[1]
	assert.True(t, b.Sweep().IsZero(), "empty broker has nothing due")

	send(t, r, "plain") // no TTL, nothing due
	assert.True(t, b.Sweep().IsZero())

	send(t, q, "a")
	assert.Equal(t, epoch.Add(time.Hour), b.Sweep(), "TTL expiry")

	_, err := r.Schedule([]Message{{MessageID: "s", ScheduledEnqueueTime: epoch.Add(10 * time.Minute)}})
	require.NoError(t, err)
	assert.Equal(t, epoch.Add(10*time.Minute), b.Sweep(), "scheduled in another queue")

	rec := receive(t, q)
	assert.Equal(t, epoch.Add(30*time.Second), b.Sweep(), "lock expiry")

	clk.Advance(30 * time.Second)
	assert.Equal(t, epoch.Add(10*time.Minute), b.Sweep(), "lock expired, the TTL deadline is later")
	assert.ErrorIs(t, q.Complete(rec.LockToken), ErrLockLost)
	assert.Equal(t, Stats{Active: 1}, q.Stats())
}

func TestSweepPrunesDuplicateHistory(t *testing.T) {
	t.Parallel()
	b, q, clk := setup(t, QueueConfig{Name: "q", RequiresDuplicateDetection: true, DuplicateDetectionWindow: time.Minute})
	send(t, q, "a", "b")
	clk.Advance(30 * time.Second)
	send(t, q, "c")
	clk.Advance(30 * time.Second)
	assert.True(t, b.Sweep().IsZero(), "pruning never sets a deadline")
	b.mu.Lock()
	assert.Len(t, q.seen, 1)
	assert.Contains(t, q.seen, "c")
	assert.Len(t, q.seenLog[q.seenHead:], 1)
	b.mu.Unlock()
}

func TestDuplicateHistoryPruningKeepsLiveIDs(t *testing.T) {
	t.Parallel()
	b, q, clk := setup(t, QueueConfig{Name: "q", RequiresDuplicateDetection: true, DuplicateDetectionWindow: time.Minute})
	for i := 0; i < 300; i++ {
		send(t, q, fmt.Sprint(i))
	}
	clk.Advance(time.Minute)
	// "7" is accepted again after its window; its old history record must not
	// erase the new one when it is pruned.
	assert.Equal(t, []int64{301}, send(t, q, "7"))
	clk.Advance(time.Second)
	send(t, q, "late")
	b.Sweep()
	b.mu.Lock()
	assert.Len(t, q.seen, 2)
	assert.Len(t, q.seenLog, 2, "the log was compacted")
	assert.Zero(t, q.seenHead)
	b.mu.Unlock()
	assert.Equal(t, []int64{0, 0, 303}, send(t, q, "7", "late", "8"))
}

func TestLockTokensAreVersion4UUIDs(t *testing.T) {
	t.Parallel()
	_, q, _ := setup(t, QueueConfig{Name: "q"})
	seen := map[LockToken]bool{}
	for i := 0; i < 200; i++ {
		send(t, q, "")
		rec := receive(t, q)
		tok := rec.LockToken
		assert.Equal(t, byte(0x40), tok[6]&0xf0, "version nibble")
		assert.Equal(t, byte(0x80), tok[8]&0xc0, "variant bits")
		assert.False(t, seen[tok], "token reused")
		seen[tok] = true
		require.NoError(t, q.Complete(tok))
	}
}

func TestErrorsAreClassifiable(t *testing.T) {
	t.Parallel()
	b, q, _ := setup(t, QueueConfig{Name: "q"})
	_, err := b.Entity("x")
	assert.True(t, errors.Is(err, ErrEntityNotFound))
	assert.ErrorIs(t, q.Release(LockToken{1}), ErrLockLost)
	assert.ErrorIs(t, q.Abandon(LockToken{1}, nil), ErrLockLost)
	assert.ErrorIs(t, q.Defer(LockToken{1}, nil), ErrLockLost)
	assert.ErrorIs(t, q.DeadLetter(LockToken{1}, "r", "d", nil), ErrLockLost)
	assert.ErrorIs(t, q.ExpireLock(LockToken{1}), ErrLockLost)
	_, err = q.RenewLock(LockToken{1})
	assert.ErrorIs(t, err, ErrLockLost)
	_, err = q.ReceiveDeferred([]int64{1}, PeekLock)
	assert.ErrorIs(t, err, ErrMessageNotFound)
}
