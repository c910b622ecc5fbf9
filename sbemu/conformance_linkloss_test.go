package sbemu

import (
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Conformance rows for link loss (LINKLOSS.md): a message locked through a
// receiver link that detaches, or whose connection closes or drops, stays
// locked until its lock expires; the lock can be renewed and the message
// settled through $management from another link or connection meanwhile;
// on expiry it is redelivered with its delivery count raised.
//
// Settling "from another link" in the Go SDK (v1.11.0) means $management:
// a receiver settles a message on the link it arrived on, and falls back to
// update-disposition when that link reports an *amqp.LinkError (a receiver
// closed by the caller). When the message's connection is gone the link
// reports an *amqp.ConnError instead and the SDK retries the dead link until
// the context ends, so the rows settle such messages with lockOnly, which
// the SDK sends straight to $management.

func linkLossRows() []confRow {
	return []confRow{
		{name: "receiver_close_keeps_lock", run: rowReceiverCloseKeepsLock},
		{name: "receiver_close_redelivers_after_lock_expiry", needs: needsQueueConfig,
			props: QueueProperties{LockDuration: Duration(time.Second)}, run: rowReceiverCloseRedelivers},
		{name: "connection_close_keeps_lock", run: rowConnectionCloseKeepsLock},
		{name: "deferred_lock_survives_receiver_close", run: rowDeferredLockSurvivesClose},
		{name: "connection_drop_keeps_lock", needs: needsServer, run: rowConnectionDropKeepsLock},
	}
}

// lockOnly is m reduced to its lock token: the SDK settles and renews such
// a message through $management only, never through a receive link.
func lockOnly(m *azservicebus.ReceivedMessage) *azservicebus.ReceivedMessage {
	return &azservicebus.ReceivedMessage{LockToken: m.LockToken}
}

// requireStillLocked checks, on the emulator, that the queue's only message
// is locked rather than available.
func (e *confEnv) requireStillLocked(t *testing.T) {
	t.Helper()
	if e.srv == nil {
		return
	}
	st, err := e.srv.QueueStats(e.queue)
	require.NoError(t, err)
	require.Equal(t, Stats{Locked: 1}, st, "the message must stay locked after its link went away")
}

func closeReceiver(t *testing.T, r *azservicebus.Receiver) {
	t.Helper()
	require.NoError(t, r.Close(testCtx(t, 10*time.Second)))
}

func rowReceiverCloseKeepsLock(t *testing.T, e *confEnv) {
	e.send(t, body("held"))
	first := e.receiver(t, nil)
	m := receiveOne(t, first)
	closeReceiver(t, first) // detaches the receive link
	e.requireStillLocked(t)
	other := e.receiver(t, nil)
	expectNone(t, other, 300*time.Millisecond) // not released: the lock (1 minute) still holds it

	// Another link renews the lock and settles the message.
	renewed := lockOnly(m)
	require.NoError(t, other.RenewMessageLock(testCtx(t, 10*time.Second), renewed, nil))
	require.NotNil(t, renewed.LockedUntil)
	assert.False(t, renewed.LockedUntil.Before(*m.LockedUntil), "renewed lock %v ends before the first %v", renewed.LockedUntil, m.LockedUntil)
	// The original message: its link is closed, so the SDK falls back to $management.
	require.NoError(t, other.CompleteMessage(testCtx(t, 10*time.Second), m, nil))
	e.requireEmpty(t, other)
}

func rowReceiverCloseRedelivers(t *testing.T, e *confEnv) {
	e.send(t, body("comes back"))
	first := e.receiver(t, nil)
	m1 := receiveOne(t, first)
	closeReceiver(t, first)
	other := e.receiver(t, nil)
	m2 := receiveOne(t, other)
	assert.False(t, time.Now().Before(m1.LockedUntil.Add(-100*time.Millisecond)),
		"redelivered at %v, before the lock of the closed link ended (%v)", time.Now(), m1.LockedUntil)
	assert.Equal(t, *m1.SequenceNumber, *m2.SequenceNumber)
	assert.Equal(t, uint32(2), m2.DeliveryCount, "the lapsed lock counts as a delivery attempt")
	assert.NotEqual(t, m1.LockToken, m2.LockToken)
	requireCode(t, other.CompleteMessage(testCtx(t, 10*time.Second), lockOnly(m1), nil), azservicebus.CodeLockLost)
	require.NoError(t, other.CompleteMessage(testCtx(t, 10*time.Second), m2, nil))
	e.requireEmpty(t, other)
}

func rowConnectionCloseKeepsLock(t *testing.T, e *confEnv) {
	e.send(t, body("orphan"))
	gone := newTestClient(t, e.connStr)
	r, err := gone.NewReceiverForQueue(e.queue, nil)
	require.NoError(t, err)
	m := receiveOne(t, r)
	require.NoError(t, gone.Close(testCtx(t, 10*time.Second))) // closes the connection
	e.requireStillLocked(t)
	other := e.receiver(t, nil)
	expectNone(t, other, 300*time.Millisecond)
	renewed := lockOnly(m)
	require.NoError(t, other.RenewMessageLock(testCtx(t, 10*time.Second), renewed, nil))
	require.NoError(t, other.CompleteMessage(testCtx(t, 10*time.Second), lockOnly(m), nil))
	e.requireEmpty(t, other)
}

func rowConnectionDropKeepsLock(t *testing.T, e *confEnv) {
	e.send(t, body("dropped"))
	gone := newTestClient(t, e.connStr)
	r, err := gone.NewReceiverForQueue(e.queue, nil)
	require.NoError(t, err)
	m1 := receiveOne(t, r)
	e.srv.DropConnections() // a TCP reset under every client
	// Let the emulator see the reset before looking (nothing else waits on it).
	require.Eventually(t, func() bool { return len(e.srv.snapshotConns()) == 0 }, 5*time.Second, 5*time.Millisecond)
	e.requireStillLocked(t)

	// A new connection renews the orphaned lock; the message comes back only
	// when the lock lapses (made to lapse now), with its delivery count raised.
	other := e.receiver(t, nil)
	expectNone(t, other, 300*time.Millisecond)
	renewed := lockOnly(m1)
	require.NoError(t, other.RenewMessageLock(testCtx(t, 10*time.Second), renewed, nil))
	require.NotNil(t, renewed.LockedUntil)
	assert.False(t, renewed.LockedUntil.Before(*m1.LockedUntil))
	require.NoError(t, e.srv.ExpireLock(e.queue, m1.LockToken))
	m2 := receiveOne(t, other)
	assert.Equal(t, *m1.SequenceNumber, *m2.SequenceNumber)
	assert.Equal(t, uint32(2), m2.DeliveryCount)
	assert.NotEqual(t, m1.LockToken, m2.LockToken)
	require.NoError(t, other.CompleteMessage(testCtx(t, 10*time.Second), m2, nil))
	e.requireEmpty(t, other)
}

// A deferred message received by sequence number is locked through
// $management and tied to no receive link: closing the receiver that fetched
// it changes nothing, and another receiver renews and completes it.
func rowDeferredLockSurvivesClose(t *testing.T, e *confEnv) {
	e.send(t, body("deferred"))
	first := e.receiver(t, nil)
	m := receiveOne(t, first)
	require.NoError(t, first.DeferMessage(testCtx(t, 10*time.Second), m, nil))
	got, err := first.ReceiveDeferredMessages(testCtx(t, 10*time.Second), []int64{*m.SequenceNumber}, nil)
	require.NoError(t, err)
	require.Len(t, got, 1)
	closeReceiver(t, first)
	e.requireStillLocked(t)
	other := e.receiver(t, nil)
	require.NoError(t, other.RenewMessageLock(testCtx(t, 10*time.Second), got[0], nil))
	require.NoError(t, other.CompleteMessage(testCtx(t, 10*time.Second), got[0], nil))
	e.requireEmpty(t, other)
}
