package broker

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSendReceiveComplete(t *testing.T) {
	t.Parallel()
	_, q, clk := setup(t, QueueConfig{Name: "q"})
	require.Equal(t, []int64{1, 2}, send(t, q, "a", "b"))
	rec := receive(t, q)
	require.Equal(t, int64(1), rec.SequenceNumber)
	require.Equal(t, "a", rec.MessageID)
	require.Equal(t, "body-a", rec.Payload)
	require.Equal(t, epoch, rec.EnqueuedTime)
	require.Equal(t, clk.Now().Add(DefaultLockDuration), rec.LockedUntil)
	require.NotEqual(t, LockToken{}, rec.LockToken)
	require.NoError(t, q.Complete(rec.LockToken))
	require.ErrorIs(t, q.Complete(rec.LockToken), ErrLockLost)
	rec2 := receive(t, q)
	require.Equal(t, int64(2), rec2.SequenceNumber)
	require.NotEqual(t, rec.LockToken, rec2.LockToken)
	requireEmpty(t, q)
}
