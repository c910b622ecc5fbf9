package broker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEffectiveTTL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		queueTTL     time.Duration
		msgTTL       time.Duration
		wantLifetime time.Duration // 0 = never expires
	}{
		{"none", 0, 0, 0},
		{"queue only", time.Hour, 0, time.Hour},
		{"message only", 0, time.Minute, time.Minute},
		{"message shorter", time.Hour, time.Minute, time.Minute},
		{"queue shorter caps message", time.Minute, time.Hour, time.Minute},
		{"negative message ttl ignored", time.Minute, -time.Second, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, q, _ := setup(t, QueueConfig{Name: "q", DefaultMessageTimeToLive: tt.queueTTL})
			_, err := q.Send([]Message{{MessageID: "a", TimeToLive: tt.msgTTL}})
			require.NoError(t, err)
			rec := q.Peek(1, 1)[0]
			if tt.wantLifetime == 0 {
				assert.True(t, rec.ExpiresAt.IsZero(), "got %v", rec.ExpiresAt)
			} else {
				assert.Equal(t, epoch.Add(tt.wantLifetime), rec.ExpiresAt)
			}
		})
	}
}

func TestTTLExpiry(t *testing.T) {
	t.Parallel()
	for _, deadLetter := range []bool{false, true} {
		t.Run(map[bool]string{false: "dropped", true: "dead-lettered"}[deadLetter], func(t *testing.T) {
			t.Parallel()
			b, q, clk := setup(t, QueueConfig{Name: "q", DeadLetteringOnExpiration: deadLetter})
			_, err := q.Send([]Message{
				{MessageID: "short", TimeToLive: time.Minute},
				{MessageID: "long", TimeToLive: time.Hour},
			})
			require.NoError(t, err)
			assert.Equal(t, epoch.Add(time.Minute), b.Sweep())
			clk.Advance(time.Minute) // expired exactly at ExpiresAt, without a Sweep
			rec := receive(t, q)
			assert.Equal(t, "long", rec.MessageID, "expired messages are never delivered")
			require.NoError(t, q.Complete(rec.LockToken))

			dlq := q.DeadLetterQueue()
			if !deadLetter {
				assert.Equal(t, Stats{}, dlq.Stats())
				return
			}
			d := receive(t, dlq)
			assert.Equal(t, "short", d.MessageID)
			assert.Equal(t, "q", d.DeadLetterSource)
			assert.Equal(t, []Property{
				{Key: PropDeadLetterReason, Value: ReasonTTLExpired},
				{Key: PropDeadLetterErrorDescription, Value: "The message expired and was dead lettered."},
			}, d.Properties)
		})
	}
}

func TestTTLExpiryByQueueDefaultViaSweep(t *testing.T) {
	t.Parallel()
	b, q, clk := setup(t, QueueConfig{Name: "q", DefaultMessageTimeToLive: time.Second, DeadLetteringOnExpiration: true})
	send(t, q, "a", "b")
	clk.Advance(time.Second)
	assert.True(t, b.Sweep().IsZero())
	assert.Equal(t, Stats{}, q.Stats())
	assert.Equal(t, Stats{Active: 2}, q.DeadLetterQueue().Stats())
	assert.Equal(t, []int64{1, 2}, []int64{q.DeadLetterQueue().Peek(0, 5)[0].SequenceNumber, q.DeadLetterQueue().Peek(0, 5)[1].SequenceNumber})
}

func TestLockedMessageExpiresWhenLockEnds(t *testing.T) {
	t.Parallel()
	ends := map[string]func(q *Queue, tok LockToken) error{
		"abandon": func(q *Queue, tok LockToken) error { return q.Abandon(tok, nil) },
		"release": func(q *Queue, tok LockToken) error { return q.Release(tok) },
		"expiry":  nil,
	}
	for name, end := range ends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, q, clk := setup(t, QueueConfig{Name: "q", LockDuration: time.Minute, DeadLetteringOnExpiration: true})
			_, err := q.Send([]Message{{MessageID: "a", TimeToLive: 10 * time.Second}})
			require.NoError(t, err)
			rec := receive(t, q)
			clk.Advance(30 * time.Second)
			// Still locked and still ours although its TTL has passed.
			assert.Equal(t, Stats{Locked: 1}, q.Stats())
			if end == nil {
				clk.Advance(30 * time.Second)
			} else {
				require.NoError(t, end(q, rec.LockToken))
			}
			assert.Equal(t, Stats{}, q.Stats())
			d := receive(t, q.DeadLetterQueue())
			v, _ := prop(d, PropDeadLetterReason)
			assert.Equal(t, ReasonTTLExpired, v)
		})
	}
}

func TestLockedMessageCanCompleteAfterTTL(t *testing.T) {
	t.Parallel()
	_, q, clk := setup(t, QueueConfig{Name: "q", DefaultMessageTimeToLive: time.Second})
	send(t, q, "a")
	rec := receive(t, q)
	clk.Advance(2 * time.Second)
	require.NoError(t, q.Complete(rec.LockToken))
	assert.Equal(t, Stats{}, q.DeadLetterQueue().Stats())
}

func TestDeferredMessageExpires(t *testing.T) {
	t.Parallel()
	_, q, clk := setup(t, QueueConfig{Name: "q", DefaultMessageTimeToLive: time.Minute, DeadLetteringOnExpiration: true})
	send(t, q, "a")
	require.NoError(t, q.Defer(receive(t, q).LockToken, nil))
	clk.Advance(time.Minute)
	_, err := q.ReceiveDeferred([]int64{1}, PeekLock)
	assert.ErrorIs(t, err, ErrMessageNotFound)
	assert.Equal(t, Stats{Active: 1}, q.DeadLetterQueue().Stats())
}

func TestScheduledMessages(t *testing.T) {
	t.Parallel()
	b, q, clk := setup(t, QueueConfig{Name: "q", DefaultMessageTimeToLive: time.Hour})
	due := epoch.Add(time.Minute)
	seqs, err := q.Schedule([]Message{{MessageID: "s", ScheduledEnqueueTime: due}})
	require.NoError(t, err)
	require.Equal(t, []int64{1}, seqs, "a scheduled message takes its number when scheduled")
	assert.Equal(t, []int64{2}, send(t, q, "now"))

	rec := receive(t, q)
	assert.Equal(t, "now", rec.MessageID, "scheduled messages are invisible until due")
	require.NoError(t, q.Complete(rec.LockToken))
	requireEmpty(t, q)
	peeked := q.Peek(0, 5)
	require.Len(t, peeked, 1)
	assert.Equal(t, StateScheduled, peeked[0].State)
	assert.Equal(t, due, peeked[0].ScheduledEnqueueTime)
	assert.Equal(t, due, peeked[0].EnqueuedTime)
	assert.Equal(t, due.Add(time.Hour), peeked[0].ExpiresAt, "TTL counts from the scheduled time")
	assert.Equal(t, Stats{Scheduled: 1}, q.Stats())
	assert.Equal(t, due, b.Sweep())

	ch := q.Changed()
	clk.Advance(time.Minute + 5*time.Second) // the broker notices late
	b.Sweep()
	requireClosed(t, ch)
	rec = receive(t, q)
	assert.Equal(t, int64(1), rec.SequenceNumber)
	assert.Equal(t, StateActive, rec.State)
	assert.Equal(t, due, rec.EnqueuedTime, "enqueued at the scheduled time")
	assert.Equal(t, due, rec.ScheduledEnqueueTime)
	require.NoError(t, q.Complete(rec.LockToken))
}

func TestSendWithScheduledTime(t *testing.T) {
	t.Parallel()
	_, q, clk := setup(t, QueueConfig{Name: "q"})
	_, err := q.Send([]Message{
		{MessageID: "future", ScheduledEnqueueTime: epoch.Add(time.Second)},
		{MessageID: "past", ScheduledEnqueueTime: epoch.Add(-time.Second)},
		{MessageID: "now", ScheduledEnqueueTime: epoch},
	})
	require.NoError(t, err)
	assert.Equal(t, Stats{Active: 2, Scheduled: 1}, q.Stats())
	assert.Equal(t, "past", receive(t, q).MessageID)
	r := receive(t, q)
	assert.Equal(t, "now", r.MessageID)
	assert.Equal(t, epoch, r.EnqueuedTime)
	requireEmpty(t, q)
	clk.Advance(time.Second) // due exactly now, no Sweep needed
	assert.Equal(t, "future", receive(t, q).MessageID)
}

func TestScheduledPastTTLExpiresOnActivation(t *testing.T) {
	t.Parallel()
	_, q, clk := setup(t, QueueConfig{Name: "q", DeadLetteringOnExpiration: true})
	_, err := q.Schedule([]Message{{MessageID: "s", TimeToLive: time.Second, ScheduledEnqueueTime: epoch.Add(time.Minute)}})
	require.NoError(t, err)
	clk.Advance(time.Hour) // due long ago and expired one second after it became due
	requireEmpty(t, q)
	assert.Equal(t, Stats{Active: 1}, q.DeadLetterQueue().Stats())
}

func TestCancelScheduled(t *testing.T) {
	t.Parallel()
	_, q, clk := setup(t, QueueConfig{Name: "q"})
	seqs, err := q.Schedule([]Message{
		{MessageID: "a", ScheduledEnqueueTime: epoch.Add(time.Minute)},
		{MessageID: "b", ScheduledEnqueueTime: epoch.Add(time.Minute)},
	})
	require.NoError(t, err)
	send(t, q, "active")
	require.NoError(t, q.CancelScheduled([]int64{seqs[0], 3, 42}), "unknown and non-scheduled numbers are ignored")
	assert.Equal(t, Stats{Active: 1, Scheduled: 1}, q.Stats())
	clk.Advance(time.Minute)
	assert.Equal(t, "b", receive(t, q).MessageID)
	assert.Equal(t, "active", receive(t, q).MessageID)
	requireEmpty(t, q)
	assert.Len(t, q.Peek(0, 10), 2)
}

func TestChangedFires(t *testing.T) {
	t.Parallel()
	events := []struct {
		name  string
		setup func(t *testing.T, q *Queue, clk *fakeClock) func()
	}{
		{"send", func(t *testing.T, q *Queue, _ *fakeClock) func() {
			return func() { send(t, q, "a") }
		}},
		{"abandon", func(t *testing.T, q *Queue, _ *fakeClock) func() {
			send(t, q, "a")
			rec := receive(t, q)
			return func() { require.NoError(t, q.Abandon(rec.LockToken, nil)) }
		}},
		{"release", func(t *testing.T, q *Queue, _ *fakeClock) func() {
			send(t, q, "a")
			rec := receive(t, q)
			return func() { require.NoError(t, q.Release(rec.LockToken)) }
		}},
		{"lock expiry", func(t *testing.T, q *Queue, clk *fakeClock) func() {
			send(t, q, "a")
			receive(t, q)
			return func() { clk.Advance(time.Minute); q.b.Sweep() }
		}},
		{"expire lock hook", func(t *testing.T, q *Queue, _ *fakeClock) func() {
			send(t, q, "a")
			rec := receive(t, q)
			return func() { require.NoError(t, q.ExpireLock(rec.LockToken)) }
		}},
		{"scheduled due", func(t *testing.T, q *Queue, clk *fakeClock) func() {
			_, err := q.Schedule([]Message{{ScheduledEnqueueTime: epoch.Add(time.Second)}})
			require.NoError(t, err)
			return func() { clk.Advance(time.Second); q.Stats() }
		}},
	}
	for _, ev := range events {
		t.Run(ev.name, func(t *testing.T) {
			t.Parallel()
			_, q, clk := setup(t, QueueConfig{Name: "q"})
			act := ev.setup(t, q, clk)
			ch := q.Changed()
			requireOpen(t, ch)
			act()
			requireClosed(t, ch)
			requireOpen(t, q.Changed())
		})
	}
}

func TestChangedQuietOnNonEvents(t *testing.T) {
	t.Parallel()
	_, q, _ := setup(t, QueueConfig{Name: "q"})
	send(t, q, "a", "b")
	a := receive(t, q)
	ch := q.Changed()
	b := receive(t, q)
	require.NoError(t, q.Complete(a.LockToken))
	require.NoError(t, q.Defer(b.LockToken, nil))
	_, err := q.Schedule([]Message{{ScheduledEnqueueTime: epoch.Add(time.Hour)}})
	require.NoError(t, err)
	q.Peek(0, 10)
	requireOpen(t, ch)
}

func TestChangedFiresOnDeadLetterQueue(t *testing.T) {
	t.Parallel()
	_, q, _ := setup(t, QueueConfig{Name: "q"})
	send(t, q, "a")
	ch := q.DeadLetterQueue().Changed()
	require.NoError(t, q.DeadLetter(receive(t, q).LockToken, "r", "d", nil))
	requireClosed(t, ch)
}

func requireClosed(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("Changed channel was not closed")
	}
}

func requireOpen(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
		t.Fatal("Changed channel closed unexpectedly")
	default:
	}
}
