package broker

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSequenceNumbersAndOrdering(t *testing.T) {
	t.Parallel()
	_, q, _ := setup(t, QueueConfig{Name: "q"})
	require.Equal(t, []int64{1, 2, 3, 4}, send(t, q, "a", "b", "c", "d"))
	r1, r2, r3 := receive(t, q), receive(t, q), receive(t, q)
	require.Equal(t, []int64{1, 2, 3}, []int64{r1.SequenceNumber, r2.SequenceNumber, r3.SequenceNumber})
	require.NoError(t, q.Complete(r2.LockToken))
	// Returned messages go back in sequence order, ahead of 4.
	require.NoError(t, q.Release(r3.LockToken))
	require.NoError(t, q.Abandon(r1.LockToken, nil))
	assert.Equal(t, int64(1), receive(t, q).SequenceNumber)
	assert.Equal(t, int64(3), receive(t, q).SequenceNumber)
	assert.Equal(t, int64(4), receive(t, q).SequenceNumber)
	requireEmpty(t, q)
	// Numbers are never reused, even after everything was removed.
	assert.Equal(t, []int64{5}, send(t, q, "e"))
}

func TestReceiveAndDelete(t *testing.T) {
	t.Parallel()
	_, q, _ := setup(t, QueueConfig{Name: "q"})
	send(t, q, "a", "b")
	rec, ok := q.Receive(ReceiveAndDelete)
	require.True(t, ok)
	assert.Equal(t, int64(1), rec.SequenceNumber)
	assert.Equal(t, LockToken{}, rec.LockToken)
	assert.True(t, rec.LockedUntil.IsZero())
	assert.Equal(t, Stats{Active: 1}, q.Stats())
	assert.Len(t, q.Peek(0, 10), 1)
}

func TestLockedMessageIsNotHandedOutTwice(t *testing.T) {
	t.Parallel()
	_, q, _ := setup(t, QueueConfig{Name: "q"})
	send(t, q, "a")
	receive(t, q)
	requireEmpty(t, q)
	assert.Equal(t, Stats{Locked: 1}, q.Stats())
}

func TestAbandonUpToMaxDeliveryCountDeadLetters(t *testing.T) {
	t.Parallel()
	_, q, _ := setup(t, QueueConfig{Name: "q", MaxDeliveryCount: 3})
	send(t, q, "a")
	props := []Property{{Key: "attempt", Value: int64(0)}}
	for i := 0; i < 3; i++ {
		rec := receive(t, q)
		assert.Equal(t, uint32(i), rec.DeliveryCount, "delivery %d", i)
		if i > 0 {
			v, ok := prop(rec, "attempt")
			require.True(t, ok)
			assert.Equal(t, int64(i-1), v, "props from the previous abandon are kept")
		}
		props[0].Value = int64(i)
		require.NoError(t, q.Abandon(rec.LockToken, props))
		require.ErrorIs(t, q.Complete(rec.LockToken), ErrLockLost)
	}
	requireEmpty(t, q)
	assert.Equal(t, Stats{}, q.Stats())

	dlq := q.DeadLetterQueue()
	rec := receive(t, dlq)
	assert.Equal(t, int64(1), rec.SequenceNumber, "the DLQ numbers on its own")
	assert.Equal(t, "q", rec.DeadLetterSource)
	assert.Equal(t, "a", rec.MessageID)
	assert.Equal(t, "body-a", rec.Payload)
	assert.Equal(t, uint32(3), rec.DeliveryCount)
	assert.Equal(t, epoch, rec.EnqueuedTime)
	assert.True(t, rec.ExpiresAt.IsZero())
	assert.Equal(t, []Property{
		{Key: "attempt", Value: int64(2)},
		{Key: PropDeadLetterReason, Value: ReasonMaxDeliveryCountExceeded},
		{Key: PropDeadLetterErrorDescription, Value: "Message could not be consumed after 3 delivery attempts."},
	}, rec.Properties)
}

func TestMaxDeliveryCountOne(t *testing.T) {
	t.Parallel()
	_, q, _ := setup(t, QueueConfig{Name: "q", MaxDeliveryCount: 1})
	send(t, q, "a")
	require.NoError(t, q.Abandon(receive(t, q).LockToken, nil))
	requireEmpty(t, q)
	assert.Equal(t, Stats{Active: 1}, q.DeadLetterQueue().Stats())
}

func TestLockExpiryRedeliversWithNewToken(t *testing.T) {
	t.Parallel()
	_, q, clk := setup(t, QueueConfig{Name: "q", LockDuration: 10 * time.Second})
	send(t, q, "a")
	first := receive(t, q)
	assert.Equal(t, epoch.Add(10*time.Second), first.LockedUntil)

	clk.Advance(10*time.Second - 1)
	requireEmpty(t, q)
	clk.Advance(1) // now == LockedUntil: the lock is gone without any Sweep
	assert.ErrorIs(t, q.Complete(first.LockToken), ErrLockLost)

	second := receive(t, q)
	assert.Equal(t, first.SequenceNumber, second.SequenceNumber)
	assert.Equal(t, uint32(1), second.DeliveryCount)
	assert.NotEqual(t, first.LockToken, second.LockToken)
	assert.Equal(t, clk.Now().Add(10*time.Second), second.LockedUntil)
	for name, op := range map[string]func() error{
		"complete":    func() error { return q.Complete(first.LockToken) },
		"abandon":     func() error { return q.Abandon(first.LockToken, nil) },
		"release":     func() error { return q.Release(first.LockToken) },
		"defer":       func() error { return q.Defer(first.LockToken, nil) },
		"dead-letter": func() error { return q.DeadLetter(first.LockToken, "r", "d", nil) },
		"renew":       func() error { _, err := q.RenewLock(first.LockToken); return err },
	} {
		assert.ErrorIs(t, op(), ErrLockLost, name)
	}
	require.NoError(t, q.Complete(second.LockToken))
}

func TestLockExpiryCountsTowardsMaxDeliveryCount(t *testing.T) {
	t.Parallel()
	b, q, clk := setup(t, QueueConfig{Name: "q", LockDuration: time.Second, MaxDeliveryCount: 2})
	send(t, q, "a")
	receive(t, q)
	clk.Advance(time.Second)
	receive(t, q)
	clk.Advance(time.Second)
	b.Sweep()
	assert.Equal(t, Stats{}, q.Stats())
	rec := receive(t, q.DeadLetterQueue())
	v, _ := prop(rec, PropDeadLetterReason)
	assert.Equal(t, ReasonMaxDeliveryCountExceeded, v)
	assert.Equal(t, uint32(2), rec.DeliveryCount)
}

func TestExpireLockHook(t *testing.T) {
	t.Parallel()
	_, q, _ := setup(t, QueueConfig{Name: "q"})
	send(t, q, "a")
	first := receive(t, q)
	require.NoError(t, q.ExpireLock(first.LockToken))
	assert.ErrorIs(t, q.Complete(first.LockToken), ErrLockLost)
	assert.ErrorIs(t, q.ExpireLock(first.LockToken), ErrLockLost)
	second := receive(t, q)
	assert.Equal(t, uint32(1), second.DeliveryCount)
	assert.NotEqual(t, first.LockToken, second.LockToken)
}

func TestRenewLockExtends(t *testing.T) {
	t.Parallel()
	b, q, clk := setup(t, QueueConfig{Name: "q", LockDuration: 10 * time.Second})
	send(t, q, "a")
	rec := receive(t, q)
	clk.Advance(8 * time.Second)
	until, err := q.RenewLock(rec.LockToken)
	require.NoError(t, err)
	assert.Equal(t, clk.Now().Add(10*time.Second), until)
	assert.Equal(t, until, b.Sweep(), "the deadline moved with the renewal")
	clk.Advance(8 * time.Second) // past the original expiry
	requireEmpty(t, q)
	require.NoError(t, q.Complete(rec.LockToken))
}

func TestReleaseKeepsDeliveryCount(t *testing.T) {
	t.Parallel()
	_, q, _ := setup(t, QueueConfig{Name: "q", MaxDeliveryCount: 1})
	send(t, q, "a")
	for i := 0; i < 5; i++ {
		rec := receive(t, q)
		assert.Equal(t, uint32(0), rec.DeliveryCount)
		require.NoError(t, q.Release(rec.LockToken))
	}
	assert.Equal(t, Stats{Active: 1}, q.Stats())
}

func TestDeferReceiveDeferredComplete(t *testing.T) {
	t.Parallel()
	_, q, _ := setup(t, QueueConfig{Name: "q"})
	send(t, q, "a", "b", "c")
	a, b := receive(t, q), receive(t, q)
	require.NoError(t, q.Defer(a.LockToken, []Property{{Key: "why", Value: "later"}}))
	require.NoError(t, q.Defer(b.LockToken, nil))
	assert.ErrorIs(t, q.Complete(a.LockToken), ErrLockLost)

	// Deferred messages are invisible to Receive but visible to Peek.
	assert.Equal(t, int64(3), receive(t, q).SequenceNumber)
	requireEmpty(t, q)
	peeked := q.Peek(1, 10)
	require.Len(t, peeked, 3)
	assert.Equal(t, StateDeferred, peeked[0].State)
	assert.Equal(t, StateDeferred, peeked[1].State)
	assert.Equal(t, StateActive, peeked[2].State)
	assert.Equal(t, Stats{Locked: 1, Deferred: 2}, q.Stats())

	recs, err := q.ReceiveDeferred([]int64{2, 1}, PeekLock)
	require.NoError(t, err)
	require.Len(t, recs, 2)
	assert.Equal(t, int64(2), recs[0].SequenceNumber)
	assert.Equal(t, int64(1), recs[1].SequenceNumber)
	assert.Equal(t, StateDeferred, recs[1].State)
	assert.NotEqual(t, LockToken{}, recs[1].LockToken)
	v, _ := prop(recs[1], "why")
	assert.Equal(t, "later", v)
	assert.Equal(t, Stats{Locked: 3}, q.Stats())

	// Locked deferred messages cannot be received by number again.
	_, err = q.ReceiveDeferred([]int64{1}, PeekLock)
	assert.ErrorIs(t, err, ErrMessageNotFound)

	// Releasing or abandoning puts a deferred message back into deferral.
	require.NoError(t, q.Release(recs[0].LockToken))
	require.NoError(t, q.Abandon(recs[1].LockToken, nil))
	requireEmpty(t, q)
	assert.Equal(t, Stats{Locked: 1, Deferred: 2}, q.Stats())

	recs, err = q.ReceiveDeferred([]int64{1}, PeekLock)
	require.NoError(t, err)
	assert.Equal(t, uint32(1), recs[0].DeliveryCount)
	require.NoError(t, q.Complete(recs[0].LockToken))

	recs, err = q.ReceiveDeferred([]int64{2}, ReceiveAndDelete)
	require.NoError(t, err)
	assert.Equal(t, int64(2), recs[0].SequenceNumber)
	assert.Equal(t, LockToken{}, recs[0].LockToken)
	assert.Equal(t, Stats{Locked: 1}, q.Stats())
}

func TestReceiveDeferredIsAllOrNothing(t *testing.T) {
	t.Parallel()
	_, q, _ := setup(t, QueueConfig{Name: "q"})
	send(t, q, "a", "b")
	require.NoError(t, q.Defer(receive(t, q).LockToken, nil))
	tests := [][]int64{
		{1, 2},  // 2 is active
		{1, 99}, // 99 does not exist
		{1, 1},  // asked twice
		{0},
	}
	for _, seqs := range tests {
		recs, err := q.ReceiveDeferred(seqs, PeekLock)
		require.ErrorIs(t, err, ErrMessageNotFound, "%v", seqs)
		assert.Nil(t, recs)
		assert.Equal(t, Stats{Active: 1, Deferred: 1}, q.Stats(), "%v changed state", seqs)
	}
	recs, err := q.ReceiveDeferred(nil, PeekLock)
	require.NoError(t, err)
	assert.Empty(t, recs)
}

func TestDeferredMessageLockExpiryReturnsToDeferred(t *testing.T) {
	t.Parallel()
	_, q, clk := setup(t, QueueConfig{Name: "q", LockDuration: time.Second, MaxDeliveryCount: 2})
	send(t, q, "a")
	require.NoError(t, q.Defer(receive(t, q).LockToken, nil))
	_, err := q.ReceiveDeferred([]int64{1}, PeekLock)
	require.NoError(t, err)
	clk.Advance(time.Second)
	assert.Equal(t, Stats{Deferred: 1}, q.Stats())
	_, err = q.ReceiveDeferred([]int64{1}, PeekLock)
	require.NoError(t, err)
	clk.Advance(time.Second)
	assert.Equal(t, Stats{}, q.Stats(), "second failed delivery reaches MaxDeliveryCount")
	assert.Equal(t, Stats{Active: 1}, q.DeadLetterQueue().Stats())
}

func TestDeadLetterExplicit(t *testing.T) {
	t.Parallel()
	_, q, _ := setup(t, QueueConfig{Name: "q"})
	send(t, q, "a", "b")
	a := receive(t, q)
	require.NoError(t, q.DeadLetter(a.LockToken, "BadInput", "user id missing", []Property{{Key: "extra", Value: int32(7)}}))
	assert.ErrorIs(t, q.Complete(a.LockToken), ErrLockLost)
	assert.Equal(t, Stats{Active: 1}, q.Stats())

	rec := receive(t, q.DeadLetterQueue())
	assert.Equal(t, int64(1), rec.SequenceNumber)
	assert.Equal(t, "q", rec.DeadLetterSource)
	assert.Equal(t, "a", rec.MessageID)
	assert.Equal(t, uint32(0), rec.DeliveryCount)
	assert.Equal(t, []Property{
		{Key: PropDeadLetterReason, Value: "BadInput"},
		{Key: PropDeadLetterErrorDescription, Value: "user id missing"},
		{Key: "extra", Value: int32(7)},
	}, rec.Properties)

	// Empty reason and description are not set.
	b := receive(t, q)
	require.NoError(t, q.DeadLetter(b.LockToken, "", "", nil))
	peeked := q.DeadLetterQueue().Peek(2, 1)
	require.Len(t, peeked, 1)
	assert.Empty(t, peeked[0].Properties)
}

func TestDeadLetterQueueIsNeverAutoDeadLettered(t *testing.T) {
	t.Parallel()
	_, q, clk := setup(t, QueueConfig{Name: "q", MaxDeliveryCount: 1, LockDuration: time.Second,
		DefaultMessageTimeToLive: time.Minute, DeadLetteringOnExpiration: true})
	dlq := q.DeadLetterQueue()
	send(t, q, "a")
	require.NoError(t, q.Abandon(receive(t, q).LockToken, nil))

	// Abandon far past MaxDeliveryCount: stays in the DLQ.
	for i := 0; i < 5; i++ {
		rec := receive(t, dlq)
		assert.Equal(t, uint32(1+i), rec.DeliveryCount)
		require.NoError(t, dlq.Abandon(rec.LockToken, nil))
	}
	// Lock expiry: stays too.
	receive(t, dlq)
	clk.Advance(time.Second)
	// TTL: the message was sent with a one-minute TTL, long gone.
	clk.Advance(time.Hour)
	rec := receive(t, dlq)
	assert.Equal(t, uint32(7), rec.DeliveryCount)
	assert.Equal(t, int64(1), rec.SequenceNumber)

	// An explicit dead-letter keeps it in the DLQ, unlocked, with the new reason.
	require.NoError(t, dlq.DeadLetter(rec.LockToken, "Again", "", []Property{{Key: "k", Value: "v"}}))
	assert.ErrorIs(t, dlq.Complete(rec.LockToken), ErrLockLost)
	assert.Equal(t, Stats{Active: 1}, dlq.Stats())
	rec = receive(t, dlq)
	v, _ := prop(rec, PropDeadLetterReason)
	assert.Equal(t, "Again", v)
	v, _ = prop(rec, "k")
	assert.Equal(t, "v", v)
	assert.Equal(t, "q", rec.DeadLetterSource)
	require.NoError(t, dlq.Complete(rec.LockToken))
	assert.Equal(t, Stats{}, dlq.Stats())
}

func TestPropertiesReplaceByKey(t *testing.T) {
	t.Parallel()
	_, q, _ := setup(t, QueueConfig{Name: "q"})
	send(t, q, "a")
	rec := receive(t, q)
	require.NoError(t, q.Abandon(rec.LockToken, []Property{{Key: "a", Value: 1}, {Key: "b", Value: 2}}))
	rec = receive(t, q)
	held := rec.Properties
	require.NoError(t, q.Abandon(rec.LockToken, []Property{{Key: "b", Value: 3}, {Key: "c", Value: 4}}))
	rec = receive(t, q)
	assert.Equal(t, []Property{{Key: "a", Value: 1}, {Key: "b", Value: 3}, {Key: "c", Value: 4}}, rec.Properties)
	assert.Equal(t, []Property{{Key: "a", Value: 1}, {Key: "b", Value: 2}}, held, "an earlier record is not changed")
	rec.Properties[0].Value = "mutated"
	assert.Equal(t, 1, q.Peek(1, 1)[0].Properties[0].Value, "records do not alias broker state")
}

func TestPeek(t *testing.T) {
	t.Parallel()
	_, q, _ := setup(t, QueueConfig{Name: "q"})
	send(t, q, "1", "2", "3", "4", "5")
	_, err := q.Schedule([]Message{{MessageID: "6", ScheduledEnqueueTime: epoch.Add(time.Hour)}})
	require.NoError(t, err)
	r1 := receive(t, q)
	require.NoError(t, q.Defer(receive(t, q).LockToken, nil))
	require.NoError(t, q.Complete(receive(t, q).LockToken)) // 3 is gone

	seqs := func(recs []Record) []int64 {
		var out []int64
		for _, r := range recs {
			out = append(out, r.SequenceNumber)
			assert.Equal(t, LockToken{}, r.LockToken, "peek never shows a token")
			assert.True(t, r.LockedUntil.IsZero())
		}
		return out
	}
	assert.Equal(t, []int64{1, 2, 4, 5, 6}, seqs(q.Peek(0, 100)))
	assert.Equal(t, []int64{1, 2}, seqs(q.Peek(1, 2)))
	assert.Equal(t, []int64{4, 5}, seqs(q.Peek(3, 2)))
	assert.Equal(t, []int64{6}, seqs(q.Peek(6, 2)))
	assert.Empty(t, q.Peek(7, 10), "past the end")
	assert.Empty(t, q.Peek(1, 0))
	all := q.Peek(1, 10)
	assert.Equal(t, []MessageState{StateActive, StateDeferred, StateActive, StateActive, StateScheduled},
		[]MessageState{all[0].State, all[1].State, all[2].State, all[3].State, all[4].State})
	assert.Equal(t, epoch.Add(time.Hour), all[4].ScheduledEnqueueTime)
	// Peeking does not lock.
	assert.Equal(t, Stats{Active: 2, Locked: 1, Deferred: 1, Scheduled: 1}, q.Stats())
	require.NoError(t, q.Complete(r1.LockToken))
}

func TestPeekAfterManyRemovals(t *testing.T) {
	t.Parallel()
	_, q, _ := setup(t, QueueConfig{Name: "q"})
	for i := 0; i < 500; i++ {
		send(t, q, fmt.Sprint(i))
	}
	for i := 0; i < 490; i++ {
		_, ok := q.Receive(ReceiveAndDelete)
		require.True(t, ok)
	}
	recs := q.Peek(0, 100)
	require.Len(t, recs, 10)
	assert.Equal(t, int64(491), recs[0].SequenceNumber)
	assert.Equal(t, int64(500), recs[9].SequenceNumber)
}
