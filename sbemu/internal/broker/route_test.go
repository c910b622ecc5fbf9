package broker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDuplicateDetection(t *testing.T) {
	t.Parallel()
	_, q, clk := setup(t, QueueConfig{Name: "q", RequiresDuplicateDetection: true, DuplicateDetectionWindow: time.Minute})
	assert.Equal(t, []int64{1, 0, 2, 0}, send(t, q, "a", "a", "b", "b"), "duplicates within one batch")
	assert.Equal(t, []int64{3, 4}, send(t, q, "", ""), "an empty id is never a duplicate")

	// Completing the original does not forget its id.
	rec := receive(t, q)
	require.NoError(t, q.Complete(rec.LockToken))
	clk.Advance(time.Minute - 1)
	assert.Equal(t, []int64{0}, send(t, q, "a"), "inside the window")
	clk.Advance(1)
	assert.Equal(t, []int64{5}, send(t, q, "a"), "the window has passed")
	assert.Equal(t, []int64{0}, send(t, q, "a"), "a new window starts with the accepted resend")
	assert.Equal(t, Stats{Active: 4}, q.Stats())
}

func TestDuplicateDetectionOff(t *testing.T) {
	t.Parallel()
	_, q, _ := setup(t, QueueConfig{Name: "q"})
	assert.Equal(t, []int64{1, 2}, send(t, q, "a", "a"))
}

func TestDuplicateDetectionAppliesToScheduled(t *testing.T) {
	t.Parallel()
	_, q, _ := setup(t, QueueConfig{Name: "q", RequiresDuplicateDetection: true})
	seqs, err := q.Schedule([]Message{
		{MessageID: "s", ScheduledEnqueueTime: epoch.Add(time.Hour)},
		{MessageID: "s", ScheduledEnqueueTime: epoch.Add(time.Hour)},
	})
	require.NoError(t, err)
	assert.Equal(t, []int64{1, 0}, seqs)
}

func TestForwardTo(t *testing.T) {
	t.Parallel()
	b, src, _ := setup(t,
		QueueConfig{Name: "src", ForwardTo: "mid"},
		QueueConfig{Name: "mid", ForwardTo: "dst"},
		QueueConfig{Name: "dst"})
	mid, dst := b.Queues()[1], b.Queues()[2]
	send(t, dst, "own") // dst numbers its own messages
	assert.Equal(t, []int64{2, 3}, send(t, src, "a", "b"), "numbers in the queue the messages landed in")
	assert.Equal(t, []int64{4}, send(t, mid, "c"))
	requireEmpty(t, src)
	requireEmpty(t, mid)
	var got []string
	for i := 0; i < 4; i++ {
		rec := receive(t, dst)
		got = append(got, rec.MessageID)
		require.NoError(t, dst.Complete(rec.LockToken))
	}
	assert.Equal(t, []string{"own", "a", "b", "c"}, got)

	// Scheduled messages wait in the destination.
	seqs, err := src.Schedule([]Message{{MessageID: "s", ScheduledEnqueueTime: epoch.Add(time.Minute)}})
	require.NoError(t, err)
	assert.Equal(t, []int64{5}, seqs)
	assert.Equal(t, Stats{Scheduled: 1}, dst.Stats())
	require.NoError(t, dst.CancelScheduled(seqs))
	assert.Equal(t, Stats{}, dst.Stats())
}

func TestForwardToWakesTheDestination(t *testing.T) {
	t.Parallel()
	b, src, _ := setup(t, QueueConfig{Name: "src", ForwardTo: "dst"}, QueueConfig{Name: "dst"})
	ch := b.Queues()[1].Changed()
	send(t, src, "a")
	requireClosed(t, ch)
}

func TestForwardToHonoursDuplicateDetectionAlongTheWay(t *testing.T) {
	t.Parallel()
	b, src, _ := setup(t,
		QueueConfig{Name: "src", ForwardTo: "dst", RequiresDuplicateDetection: true},
		QueueConfig{Name: "dst", RequiresDuplicateDetection: true})
	dst := b.Queues()[1]
	assert.Equal(t, []int64{1, 0}, send(t, src, "x", "x"), "the source's history")
	assert.Equal(t, []int64{0}, send(t, dst, "x"), "the destination saw x too")
	assert.Equal(t, []int64{2}, send(t, dst, "y"))
	assert.Equal(t, []int64{0}, send(t, src, "y"), "new at the source, a duplicate at the destination")
	assert.Equal(t, Stats{Active: 2}, dst.Stats())
}

func TestForwardDeadLetteredMessagesTo(t *testing.T) {
	t.Parallel()
	b, q, clk := setup(t,
		QueueConfig{Name: "q", MaxDeliveryCount: 1, DefaultMessageTimeToLive: time.Minute, DeadLetteringOnExpiration: true,
			ForwardDeadLetteredMessagesTo: "poison"},
		QueueConfig{Name: "poison", ForwardTo: "sink"},
		QueueConfig{Name: "sink", DefaultMessageTimeToLive: time.Hour})
	sink := b.Queues()[2]
	send(t, q, "explicit", "abandoned", "expired")
	require.NoError(t, q.DeadLetter(receive(t, q).LockToken, "R", "D", []Property{{Key: "k", Value: "v"}}))
	require.NoError(t, q.Abandon(receive(t, q).LockToken, nil))
	clk.Advance(time.Minute)
	q.Stats() // apply the expiry

	assert.Equal(t, Stats{}, q.DeadLetterQueue().Stats(), "nothing lands in the own DLQ")
	assert.Equal(t, Stats{}, b.Queues()[1].Stats(), "the target's ForwardTo is honoured too")
	want := []struct {
		id, reason string
	}{{"explicit", "R"}, {"abandoned", ReasonMaxDeliveryCountExceeded}, {"expired", ReasonTTLExpired}}
	for i, w := range want {
		rec := receive(t, sink)
		assert.Equal(t, int64(i+1), rec.SequenceNumber)
		assert.Equal(t, w.id, rec.MessageID)
		v, _ := prop(rec, PropDeadLetterReason)
		assert.Equal(t, w.reason, v)
		assert.Empty(t, rec.DeadLetterSource, "a forwarded message is an ordinary message")
		assert.Equal(t, uint32(0), rec.DeliveryCount, "a new message starts counting again")
		wantEnqueued := epoch // dead-lettered at once
		if w.id == "expired" {
			wantEnqueued = epoch.Add(time.Minute)
		}
		assert.Equal(t, wantEnqueued, rec.EnqueuedTime, "forwarded when it was dead-lettered")
		if w.id == "explicit" {
			v, _ = prop(rec, "k")
			assert.Equal(t, "v", v)
			v, _ = prop(rec, PropDeadLetterErrorDescription)
			assert.Equal(t, "D", v)
		}
		assert.Equal(t, rec.EnqueuedTime.Add(time.Hour), rec.ExpiresAt, "the target's TTL applies")
		require.NoError(t, sink.Complete(rec.LockToken))
	}
}
