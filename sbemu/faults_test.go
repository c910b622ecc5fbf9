package sbemu

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// emuEnv is a fresh emulator with the default queue and a connected client.
func emuEnv(t *testing.T, o *Options) *confEnv {
	t.Helper()
	if o == nil {
		o = &Options{}
	}
	o.TB, o.Logger = t, testLogger()
	srv, err := NewServer(o)
	require.NoError(t, err)
	e := &confEnv{connStr: srv.ConnectionString(), queue: DefaultQueueName, srv: srv}
	e.client = newTestClient(t, e.connStr)
	return e
}

func TestExpireLockHook(t *testing.T) {
	t.Parallel()
	e := emuEnv(t, nil)
	e.send(t, body("held"))
	r := e.receiver(t, nil)
	m := receiveOne(t, r)
	require.NoError(t, e.srv.ExpireLock(e.queue, m.LockToken))
	requireCode(t, r.CompleteMessage(testCtx(t, 10*time.Second), m, nil), azservicebus.CodeLockLost)
	again := receiveOne(t, r)
	assert.Equal(t, uint32(2), again.DeliveryCount)
	require.NoError(t, r.CompleteMessage(testCtx(t, 10*time.Second), again, nil))

	require.Error(t, e.srv.ExpireLock(e.queue, m.LockToken), "an ended lock cannot be expired again")
	require.Error(t, e.srv.ExpireLock("no-such-queue", m.LockToken))
}

func TestExpireAllLocksHook(t *testing.T) {
	t.Parallel()
	e := emuEnv(t, nil)
	e.send(t, body("a"), body("b"), body("c"))
	r := e.receiver(t, nil)
	msgs := receiveN(t, r, 3, 10*time.Second)
	require.NoError(t, r.CompleteMessage(testCtx(t, 10*time.Second), msgs[0], nil))
	n, err := e.srv.ExpireAllLocks(e.queue)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	st, err := e.srv.QueueStats(e.queue)
	require.NoError(t, err)
	assert.Equal(t, Stats{Active: 2}, st)
	for _, m := range msgs[1:] {
		requireCode(t, r.CompleteMessage(testCtx(t, 10*time.Second), m, nil), azservicebus.CodeLockLost)
	}
	_, err = e.srv.ExpireAllLocks("no-such-queue")
	require.Error(t, err)
}

func TestDelayManagementHook(t *testing.T) {
	t.Parallel()
	e := emuEnv(t, nil)
	e.send(t, body("x"))
	r := e.receiver(t, nil)
	const delay = 300 * time.Millisecond
	e.srv.DelayManagement(1, delay)
	start := time.Now()
	msgs, err := r.PeekMessages(testCtx(t, 10*time.Second), 1, nil)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	assert.GreaterOrEqual(t, time.Since(start), delay)
	assert.Zero(t, e.srv.faults.takeDelay(), "the delay was used once")
}

func TestDelayedManagementOnClosedConnection(t *testing.T) {
	t.Parallel()
	e := emuEnv(t, nil)
	r := e.receiver(t, nil)
	e.srv.DelayManagement(1, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := r.PeekMessages(ctx, 1, nil)
	require.Error(t, err)
	// Closing must not wait an hour for the parked reply (goleak checks the goroutine ended).
	e.srv.DropConnections()
	require.NoError(t, e.srv.Close())
}

func TestFailManagementMapsToSDKCodes(t *testing.T) {
	t.Parallel()
	e := emuEnv(t, nil)
	e.send(t, body("x"))
	r := e.receiver(t, nil)
	m := receiveOne(t, r)

	e.srv.FailManagement(1, 410, "com.microsoft:message-lock-lost")
	requireCode(t, r.RenewMessageLock(testCtx(t, 10*time.Second), m, nil), azservicebus.CodeLockLost)

	e.srv.FailManagement(1, 404, "amqp:not-found")
	_, err := r.PeekMessages(testCtx(t, 10*time.Second), 1, nil)
	requireCode(t, err, azservicebus.CodeNotFound)

	require.NoError(t, r.RenewMessageLock(testCtx(t, 10*time.Second), m, nil))
	require.NoError(t, r.CompleteMessage(testCtx(t, 10*time.Second), m, nil))
}

func TestDetachLinksCountsAndMatches(t *testing.T) {
	t.Parallel()
	e := emuEnv(t, nil)
	e.send(t, body("x"))
	r := e.receiver(t, nil)
	receiveOne(t, r)
	assert.Zero(t, e.srv.DetachLinks("other-queue", "amqp:link:detach-forced", ""))
	// One sender and one receiver on the queue.
	assert.Equal(t, 2, e.srv.DetachLinks(DefaultQueueName, "com.microsoft:server-busy", "busy"))
	assert.Zero(t, e.srv.DetachLinks(DefaultQueueName, "amqp:link:detach-forced", ""), "already detached")
	// The SDK relinks on its next call.
	e.send(t, body("y"))
}

func TestLocksOutliveTheirReceiver(t *testing.T) {
	t.Parallel()
	e := emuEnv(t, nil)
	e.send(t, body("x"))
	r, err := e.client.NewReceiverForQueue(e.queue, nil)
	require.NoError(t, err)
	m := receiveOne(t, r)
	require.NoError(t, r.Close(testCtx(t, 10*time.Second)))
	st, err := e.srv.QueueStats(e.queue)
	require.NoError(t, err)
	assert.Equal(t, Stats{Locked: 1}, st, "the lock is kept until it expires")
	require.NoError(t, e.srv.ExpireLock(e.queue, m.LockToken))
	st, err = e.srv.QueueStats(e.queue)
	require.NoError(t, err)
	assert.Equal(t, Stats{Active: 1}, st)
}

func TestCloseIsIdempotentWithClientsAttached(t *testing.T) {
	t.Parallel()
	e := emuEnv(t, nil)
	r := e.receiver(t, nil)
	done := make(chan int, 1)
	go func() {
		msgs, _ := r.ReceiveMessages(testCtx(t, 30*time.Second), 1, nil)
		done <- len(msgs)
	}()
	require.Eventually(t, func() bool {
		return len(e.srv.snapshotConns()) > 0
	}, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, e.srv.Close())
	require.NoError(t, e.srv.Close())
	ln, err := net.Listen("tcp", e.srv.Addr())
	require.NoError(t, err, "the port is free again after Close")
	require.NoError(t, ln.Close())
	select {
	case n := <-done:
		assert.Zero(t, n, "the receive ends empty-handed once the server is gone")
	case <-time.After(30 * time.Second):
		t.Fatal("receive did not return")
	}
}

func TestQueueStatsUnknownEntity(t *testing.T) {
	t.Parallel()
	e := emuEnv(t, nil)
	_, err := e.srv.QueueStats("nope")
	require.Error(t, err)
	st, err := e.srv.QueueStats(DefaultQueueName + "/$DeadLetterQueue")
	require.NoError(t, err)
	assert.Equal(t, Stats{}, st)
}

// fakeClock is a settable Clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

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

func TestFakeClockAndSweep(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	e := emuEnv(t, &Options{Clock: clock})
	e.send(t, body("x"))
	r := e.receiver(t, nil)
	m := receiveOne(t, r)
	assert.Equal(t, clock.Now().Add(time.Minute), m.LockedUntil.UTC(), "locks follow the injected clock")
	clock.Advance(2 * time.Minute)
	e.srv.Sweep()
	again := receiveOne(t, r)
	assert.Equal(t, uint32(2), again.DeliveryCount)
	requireCode(t, r.CompleteMessage(testCtx(t, 10*time.Second), m, nil), azservicebus.CodeLockLost)
	require.NoError(t, r.CompleteMessage(testCtx(t, 10*time.Second), again, nil))
}

func TestConnectionStringForAllInterfaces(t *testing.T) {
	t.Parallel()
	// Tests stay on loopback, so the all-interfaces case is checked on the helper.
	assert.Equal(t, "127.0.0.1:5672", dialAddr("0.0.0.0:5672"))
	assert.Equal(t, "127.0.0.1:5672", dialAddr("[::]:5672"))
	assert.Equal(t, "127.0.0.1:9", dialAddr("127.0.0.1:9"))
	assert.Equal(t, "localhost:1", dialAddr("localhost:1"))
	assert.Equal(t, "garbage", dialAddr("garbage"))
}

func TestForwardingThroughTheSDK(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.UserConfig.Namespaces[0].Queues = []Queue{
		{Name: "inbox", Properties: QueueProperties{ForwardTo: "outbox"}},
		{Name: "work", Properties: QueueProperties{ForwardDeadLetteredMessagesTo: "graveyard"}},
		{Name: "outbox"},
		{Name: "graveyard"},
	}
	e := emuEnv(t, &Options{Config: cfg})
	s, err := e.client.NewSender("inbox", nil)
	require.NoError(t, err)
	require.NoError(t, s.SendMessage(testCtx(t, 10*time.Second), body("forwarded"), nil))
	out, err := e.client.NewReceiverForQueue("outbox", nil)
	require.NoError(t, err)
	assert.Equal(t, "forwarded", string(receiveOne(t, out).Body))

	w, err := e.client.NewSender("work", nil)
	require.NoError(t, err)
	require.NoError(t, w.SendMessage(testCtx(t, 10*time.Second), body("doomed"), nil))
	wr, err := e.client.NewReceiverForQueue("work", nil)
	require.NoError(t, err)
	require.NoError(t, wr.DeadLetterMessage(testCtx(t, 10*time.Second), receiveOne(t, wr), &azservicebus.DeadLetterOptions{Reason: to.Ptr("Bad")}))
	g, err := e.client.NewReceiverForQueue("graveyard", nil)
	require.NoError(t, err)
	d := receiveOne(t, g)
	assert.Equal(t, "doomed", string(d.Body))
	require.NotNil(t, d.DeadLetterReason)
	assert.Equal(t, "Bad", *d.DeadLetterReason)
}
