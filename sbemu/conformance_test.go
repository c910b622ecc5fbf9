package sbemu

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	goamqp "github.com/Azure/go-amqp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The conformance table: each row is one Service Bus behaviour, checked
// through the real azservicebus SDK. It runs against the emulator (a fresh
// server per row) and, when SBEMU_CONFORMANCE_CONNECTION_STRING and
// SBEMU_CONFORMANCE_QUEUE are set, against a real namespace as well. Rows
// that need the emulator's fault hooks or a special queue configuration
// carry capability flags and are skipped against a real namespace.

// capability is what a row needs beyond a plain queue.
type capability uint

const (
	// needsServer: fault hooks or QueueStats.
	needsServer capability = 1 << iota
	// needsQueueConfig: queue properties other than the service defaults.
	needsQueueConfig
)

// confEnv is what a row works with.
type confEnv struct {
	client  *azservicebus.Client
	connStr string
	queue   string
	srv     *Server // nil against a real namespace
}

type confRow struct {
	name  string
	needs capability
	props QueueProperties // the emulator queue's properties (zero = defaults)
	run   func(t *testing.T, e *confEnv)
}

const confQueue = "conformance"

func TestConformanceEmulator(t *testing.T) {
	t.Parallel()
	for _, row := range conformanceRows() {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultConfig()
			cfg.UserConfig.Namespaces[0].Queues = []Queue{{Name: confQueue, Properties: row.props}}
			srv, err := NewServer(&Options{Config: cfg, TB: t, Logger: testLogger()})
			require.NoError(t, err)
			e := &confEnv{connStr: srv.ConnectionString(), queue: confQueue, srv: srv}
			e.client = newTestClient(t, e.connStr)
			row.run(t, e)
		})
	}
}

func TestConformanceRealNamespace(t *testing.T) {
	connStr := os.Getenv("SBEMU_CONFORMANCE_CONNECTION_STRING")
	queue := os.Getenv("SBEMU_CONFORMANCE_QUEUE")
	if connStr == "" || queue == "" {
		t.Skip("SBEMU_CONFORMANCE_CONNECTION_STRING and SBEMU_CONFORMANCE_QUEUE are not set")
	}
	for _, row := range conformanceRows() {
		t.Run(row.name, func(t *testing.T) {
			if row.needs != 0 {
				t.Skipf("needs capabilities %b that a real namespace does not offer", row.needs)
			}
			e := &confEnv{connStr: connStr, queue: queue}
			e.client = newTestClient(t, connStr)
			purge(t, e)
			row.run(t, e)
		})
	}
}

// purge empties the shared real queue before a row.
func purge(t *testing.T, e *confEnv) {
	r, err := e.client.NewReceiverForQueue(e.queue, &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
	require.NoError(t, err)
	defer r.Close(context.Background())
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		msgs, err := r.ReceiveMessages(ctx, 100, nil)
		cancel()
		if len(msgs) == 0 || err != nil {
			return
		}
	}
}

func (e *confEnv) sender(t *testing.T) *azservicebus.Sender {
	s, err := e.client.NewSender(e.queue, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func (e *confEnv) receiver(t *testing.T, opts *azservicebus.ReceiverOptions) *azservicebus.Receiver {
	r, err := e.client.NewReceiverForQueue(e.queue, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	return r
}

func (e *confEnv) dlqReceiver(t *testing.T) *azservicebus.Receiver {
	return e.receiver(t, &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
}

func (e *confEnv) send(t *testing.T, msgs ...*azservicebus.Message) {
	s := e.sender(t)
	for _, m := range msgs {
		require.NoError(t, s.SendMessage(testCtx(t, 10*time.Second), m, nil))
	}
}

// requireEmpty checks the queue holds nothing (stats on the emulator, a
// short receive otherwise).
func (e *confEnv) requireEmpty(t *testing.T, r *azservicebus.Receiver) {
	if e.srv != nil {
		require.Eventually(t, func() bool {
			st, err := e.srv.QueueStats(e.queue)
			return err == nil && st == Stats{}
		}, 5*time.Second, 10*time.Millisecond)
		return
	}
	expectNone(t, r, time.Second)
}

func body(s string) *azservicebus.Message { return &azservicebus.Message{Body: []byte(s)} }

func conformanceRows() []confRow {
	return append([]confRow{
		{name: "send_peeklock_complete", run: rowSendPeekLockComplete},
		{name: "receive_and_delete", run: rowReceiveAndDelete},
		{name: "abandon_with_properties", run: rowAbandonWithProperties},
		{name: "abandon_to_max_delivery_count", needs: needsQueueConfig, props: QueueProperties{MaxDeliveryCount: 3}, run: rowMaxDeliveryCount},
		{name: "dead_letter_with_reason", run: rowDeadLetter},
		{name: "dlq_never_dead_lettered_again", needs: needsQueueConfig, props: QueueProperties{MaxDeliveryCount: 2}, run: rowDLQNotRedeadlettered},
		{name: "defer_and_receive_deferred", run: rowDefer},
		{name: "peek_from_sequence_and_past_end", run: rowPeek},
		{name: "schedule_and_cancel", run: rowSchedule},
		{name: "scheduled_enqueue_time_on_send", run: rowScheduledOnSend},
		{name: "renew_lock_extends", needs: needsQueueConfig, props: QueueProperties{LockDuration: Duration(time.Second)}, run: rowRenewLock},
		{name: "lock_expiry_redelivers", needs: needsQueueConfig, props: QueueProperties{LockDuration: Duration(500 * time.Millisecond)}, run: rowLockExpiry},
		{name: "release_keeps_delivery_count", run: rowRelease},
		{name: "batch_of_100", run: rowBatch},
		{name: "message_of_200KiB", run: rowLargeMessage},
		{name: "oversize_message_refused", run: rowOversize},
		{name: "duplicate_detection", needs: needsQueueConfig, props: QueueProperties{RequiresDuplicateDetection: true, DuplicateDetectionHistoryTimeWindow: Duration(time.Minute)}, run: rowDuplicate},
		{name: "ttl_expiry_to_dlq", needs: needsQueueConfig, props: QueueProperties{DeadLetteringOnMessageExpiration: true}, run: rowTTL},
		{name: "competing_receivers", run: rowCompeting},
		{name: "wrong_key_unauthorized", run: rowWrongKey},
		{name: "expired_token_unauthorized", run: rowExpiredToken},
		{name: "unknown_queue_not_found", run: rowUnknownQueue},
		{name: "detach_forced_mid_stream", needs: needsServer, run: rowDetachForced},
		{name: "drop_connections", needs: needsServer, run: rowDropConnections},
		{name: "management_server_busy_retried", needs: needsServer, run: rowServerBusy},
		{name: "uri_link_addresses_and_audience", run: rowURIAddresses},
	}, linkLossRows()...)
}

func rowSendPeekLockComplete(t *testing.T, e *confEnv) {
	before := time.Now().Add(-time.Minute)
	e.send(t, &azservicebus.Message{Body: []byte("hello"), MessageID: to.Ptr("m-1"),
		ApplicationProperties: map[string]any{"user": "u1"}})
	r := e.receiver(t, nil)
	m := receiveOne(t, r)
	assert.Equal(t, "hello", string(m.Body))
	assert.Equal(t, "m-1", m.MessageID)
	assert.Equal(t, "u1", m.ApplicationProperties["user"])
	assert.Equal(t, uint32(1), m.DeliveryCount)
	require.NotNil(t, m.SequenceNumber)
	assert.Positive(t, *m.SequenceNumber)
	require.NotNil(t, m.EnqueuedTime)
	assert.True(t, m.EnqueuedTime.After(before), "enqueued time %v", m.EnqueuedTime)
	require.NotNil(t, m.LockedUntil)
	assert.True(t, m.LockedUntil.After(time.Now()), "locked until %v", m.LockedUntil)
	assert.Equal(t, azservicebus.MessageStateActive, m.State)
	require.NoError(t, r.CompleteMessage(testCtx(t, 10*time.Second), m, nil))
	e.requireEmpty(t, r)
}

func rowReceiveAndDelete(t *testing.T, e *confEnv) {
	e.send(t, body("a"), body("b"), body("c"))
	r := e.receiver(t, &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
	msgs := receiveN(t, r, 3, 10*time.Second)
	var got []string
	for _, m := range msgs {
		got = append(got, string(m.Body))
	}
	assert.ElementsMatch(t, []string{"a", "b", "c"}, got)
	e.requireEmpty(t, e.receiver(t, nil))
}

func rowAbandonWithProperties(t *testing.T, e *confEnv) {
	e.send(t, body("retry me"))
	r := e.receiver(t, nil)
	m := receiveOne(t, r)
	require.NoError(t, r.AbandonMessage(testCtx(t, 10*time.Second), m, &azservicebus.AbandonMessageOptions{
		PropertiesToModify: map[string]any{"attempt": int64(1), "why": "busy"},
	}))
	m2 := receiveOne(t, r)
	assert.Equal(t, uint32(2), m2.DeliveryCount)
	assert.Equal(t, *m.SequenceNumber, *m2.SequenceNumber)
	assert.Equal(t, int64(1), m2.ApplicationProperties["attempt"])
	assert.Equal(t, "busy", m2.ApplicationProperties["why"])
	assert.NotEqual(t, m.LockToken, m2.LockToken)
	require.NoError(t, r.CompleteMessage(testCtx(t, 10*time.Second), m2, nil))
}

func rowMaxDeliveryCount(t *testing.T, e *confEnv) {
	e.send(t, body("poison"))
	r := e.receiver(t, nil)
	for i := 1; i <= 3; i++ {
		m := receiveOne(t, r)
		require.Equal(t, uint32(i), m.DeliveryCount)
		require.NoError(t, r.AbandonMessage(testCtx(t, 10*time.Second), m, nil))
	}
	dlq := e.dlqReceiver(t)
	d := receiveOne(t, dlq)
	assert.Equal(t, "poison", string(d.Body))
	require.NotNil(t, d.DeadLetterReason)
	assert.Equal(t, "MaxDeliveryCountExceeded", *d.DeadLetterReason)
	require.NotNil(t, d.DeadLetterErrorDescription)
	assert.NotEmpty(t, *d.DeadLetterErrorDescription)
	require.NotNil(t, d.DeadLetterSource)
	assert.Equal(t, e.queue, *d.DeadLetterSource)
	require.NoError(t, dlq.CompleteMessage(testCtx(t, 10*time.Second), d, nil))
	e.requireEmpty(t, r)
}

func rowDeadLetter(t *testing.T, e *confEnv) {
	e.send(t, body("bad"))
	r := e.receiver(t, nil)
	m := receiveOne(t, r)
	require.NoError(t, r.DeadLetterMessage(testCtx(t, 10*time.Second), m, &azservicebus.DeadLetterOptions{
		Reason:             to.Ptr("InvalidUser"),
		ErrorDescription:   to.Ptr("user id is not a GUID"),
		PropertiesToModify: map[string]any{"stage": "validate"},
	}))
	d := receiveOne(t, e.dlqReceiver(t))
	assert.Equal(t, "bad", string(d.Body))
	require.NotNil(t, d.DeadLetterReason)
	assert.Equal(t, "InvalidUser", *d.DeadLetterReason)
	require.NotNil(t, d.DeadLetterErrorDescription)
	assert.Equal(t, "user id is not a GUID", *d.DeadLetterErrorDescription)
	assert.Equal(t, "validate", d.ApplicationProperties["stage"])
	e.requireEmpty(t, r)
}

func rowDLQNotRedeadlettered(t *testing.T, e *confEnv) {
	e.send(t, body("stays"))
	r := e.receiver(t, nil)
	require.NoError(t, r.DeadLetterMessage(testCtx(t, 10*time.Second), receiveOne(t, r), nil))
	dlq := e.dlqReceiver(t)
	for i := 1; i <= 4; i++ { // twice MaxDeliveryCount
		d := receiveOne(t, dlq)
		require.Equal(t, "stays", string(d.Body))
		require.Equal(t, uint32(i), d.DeliveryCount)
		require.NoError(t, dlq.AbandonMessage(testCtx(t, 10*time.Second), d, nil))
	}
	d := receiveOne(t, dlq)
	require.NoError(t, dlq.DeadLetterMessage(testCtx(t, 10*time.Second), d, nil))
	d = receiveOne(t, dlq) // an explicit dead-letter keeps it in the DLQ
	require.NoError(t, dlq.CompleteMessage(testCtx(t, 10*time.Second), d, nil))
}

func rowDefer(t *testing.T, e *confEnv) {
	e.send(t, body("later"))
	r := e.receiver(t, nil)
	m := receiveOne(t, r)
	require.NoError(t, r.DeferMessage(testCtx(t, 10*time.Second), m, &azservicebus.DeferMessageOptions{
		PropertiesToModify: map[string]any{"deferred_by": "test"},
	}))
	expectNone(t, r, 300*time.Millisecond)
	peeked, err := r.PeekMessages(testCtx(t, 10*time.Second), 10, &azservicebus.PeekMessagesOptions{FromSequenceNumber: m.SequenceNumber})
	require.NoError(t, err)
	require.Len(t, peeked, 1)
	assert.Equal(t, azservicebus.MessageStateDeferred, peeked[0].State)
	got, err := r.ReceiveDeferredMessages(testCtx(t, 10*time.Second), []int64{*m.SequenceNumber}, nil)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "later", string(got[0].Body))
	assert.Equal(t, "test", got[0].ApplicationProperties["deferred_by"])
	assert.Equal(t, azservicebus.MessageStateDeferred, got[0].State)
	require.NoError(t, r.CompleteMessage(testCtx(t, 10*time.Second), got[0], nil))
	e.requireEmpty(t, r)
}

func rowPeek(t *testing.T, e *confEnv) {
	e.send(t, body("p1"), body("p2"), body("p3"))
	r := e.receiver(t, nil)
	all, err := r.PeekMessages(testCtx(t, 10*time.Second), 10, &azservicebus.PeekMessagesOptions{FromSequenceNumber: to.Ptr(int64(0))})
	require.NoError(t, err)
	require.Len(t, all, 3)
	from := *all[1].SequenceNumber
	some, err := r.PeekMessages(testCtx(t, 10*time.Second), 10, &azservicebus.PeekMessagesOptions{FromSequenceNumber: &from})
	require.NoError(t, err)
	require.Len(t, some, 2)
	assert.Equal(t, "p2", string(some[0].Body))
	assert.Equal(t, "p3", string(some[1].Body))
	assert.Nil(t, some[0].LockedUntil, "peeked messages carry no lock")
	past := *all[2].SequenceNumber + 1
	none, err := r.PeekMessages(testCtx(t, 10*time.Second), 10, &azservicebus.PeekMessagesOptions{FromSequenceNumber: &past})
	require.NoError(t, err)
	assert.Empty(t, none)
	// Peeking locks nothing: all three are still receivable.
	receiveN(t, r, 3, 10*time.Second)
}

func rowSchedule(t *testing.T, e *confEnv) {
	s := e.sender(t)
	due := time.Now().Add(1500 * time.Millisecond)
	seqs, err := s.ScheduleMessages(testCtx(t, 10*time.Second), []*azservicebus.Message{body("soon")}, due, nil)
	require.NoError(t, err)
	require.Len(t, seqs, 1)
	far, err := s.ScheduleMessages(testCtx(t, 10*time.Second), []*azservicebus.Message{body("never")}, time.Now().Add(time.Hour), nil)
	require.NoError(t, err)
	r := e.receiver(t, nil)
	peeked, err := r.PeekMessages(testCtx(t, 10*time.Second), 10, &azservicebus.PeekMessagesOptions{FromSequenceNumber: &seqs[0]})
	require.NoError(t, err)
	require.Len(t, peeked, 2)
	assert.Equal(t, azservicebus.MessageStateScheduled, peeked[0].State)
	require.NoError(t, s.CancelScheduledMessages(testCtx(t, 10*time.Second), far, nil))
	expectNone(t, r, 300*time.Millisecond)
	m := receiveOne(t, r)
	assert.Equal(t, "soon", string(m.Body))
	assert.False(t, time.Now().Before(due.Add(-100*time.Millisecond)), "received before it was due")
	require.NotNil(t, m.ScheduledEnqueueTime)
	require.NoError(t, r.CompleteMessage(testCtx(t, 10*time.Second), m, nil))
	e.requireEmpty(t, r)
}

func rowScheduledOnSend(t *testing.T, e *confEnv) {
	due := time.Now().Add(time.Second)
	e.send(t, &azservicebus.Message{Body: []byte("timed"), ScheduledEnqueueTime: &due})
	r := e.receiver(t, nil)
	expectNone(t, r, 300*time.Millisecond)
	m := receiveOne(t, r)
	assert.Equal(t, "timed", string(m.Body))
	assert.False(t, time.Now().Before(due.Add(-100*time.Millisecond)), "received before it was due")
	require.NoError(t, r.CompleteMessage(testCtx(t, 10*time.Second), m, nil))
}

func rowRenewLock(t *testing.T, e *confEnv) {
	e.send(t, body("slow"))
	r := e.receiver(t, nil)
	m := receiveOne(t, r)
	first := *m.LockedUntil
	// Keep renewing past the original lock's end.
	require.Eventually(t, func() bool {
		require.NoError(t, r.RenewMessageLock(testCtx(t, 10*time.Second), m, nil))
		return time.Now().After(first.Add(500 * time.Millisecond))
	}, 10*time.Second, 200*time.Millisecond)
	assert.True(t, m.LockedUntil.After(first), "renewed lock %v not after %v", m.LockedUntil, first)
	require.NoError(t, r.CompleteMessage(testCtx(t, 10*time.Second), m, nil))
	e.requireEmpty(t, r)
}

func rowLockExpiry(t *testing.T, e *confEnv) {
	e.send(t, body("expire"))
	r := e.receiver(t, nil)
	m1 := receiveOne(t, r)
	m2 := receiveOne(t, r) // redelivered once the lock has run out
	assert.Equal(t, *m1.SequenceNumber, *m2.SequenceNumber)
	assert.Equal(t, uint32(2), m2.DeliveryCount)
	assert.NotEqual(t, m1.LockToken, m2.LockToken)
	requireCode(t, r.CompleteMessage(testCtx(t, 10*time.Second), m1, nil), azservicebus.CodeLockLost)
	require.NoError(t, r.CompleteMessage(testCtx(t, 10*time.Second), m2, nil))
	e.requireEmpty(t, r)
}

func rowRelease(t *testing.T, e *confEnv) {
	e.send(t, body("first"))
	r := e.receiver(t, nil)
	// Ask for more than is there: credit stays open after the call returns,
	// so the next message lands on the link and the SDK releases it.
	ctx := testCtx(t, 10*time.Second)
	msgs, err := r.ReceiveMessages(ctx, 10, nil)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.NoError(t, r.CompleteMessage(ctx, msgs[0], nil))
	e.send(t, body("second"))
	if e.srv != nil {
		// Delivered to the releaser and released: active again, not locked.
		require.Eventually(t, func() bool {
			st, _ := e.srv.QueueStats(e.queue)
			return st.Active == 1 && st.Locked == 0
		}, 5*time.Second, 10*time.Millisecond)
	}
	m := receiveOne(t, r)
	assert.Equal(t, "second", string(m.Body))
	assert.Equal(t, uint32(1), m.DeliveryCount, "release must not count as a delivery attempt")
	require.NoError(t, r.CompleteMessage(testCtx(t, 10*time.Second), m, nil))
}

func rowBatch(t *testing.T, e *confEnv) {
	s := e.sender(t)
	batch, err := s.NewMessageBatch(testCtx(t, 10*time.Second), nil)
	require.NoError(t, err)
	for i := range 100 {
		require.NoError(t, batch.AddMessage(body(fmt.Sprintf("b%03d", i)), nil))
	}
	require.NoError(t, s.SendMessageBatch(testCtx(t, 10*time.Second), batch, nil))
	r := e.receiver(t, &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
	msgs := receiveN(t, r, 100, 20*time.Second)
	seqs := map[int64]bool{}
	bodies := map[string]bool{}
	for _, m := range msgs {
		seqs[*m.SequenceNumber] = true
		bodies[string(m.Body)] = true
	}
	assert.Len(t, seqs, 100, "each message of a batch gets its own sequence number")
	assert.Len(t, bodies, 100)
}

func rowLargeMessage(t *testing.T, e *confEnv) {
	big := make([]byte, 200<<10)
	_, _ = rand.Read(big)
	e.send(t, &azservicebus.Message{Body: big})
	r := e.receiver(t, nil)
	m := receiveOne(t, r)
	require.True(t, bytes.Equal(big, m.Body), "200 KiB body changed in transit")
	require.NoError(t, r.CompleteMessage(testCtx(t, 10*time.Second), m, nil))
}

func rowOversize(t *testing.T, e *confEnv) {
	s := e.sender(t)
	err := s.SendMessage(testCtx(t, 10*time.Second), &azservicebus.Message{Body: make([]byte, 300<<10)}, nil)
	require.ErrorIs(t, err, azservicebus.ErrMessageTooLarge)
	// The link still works afterwards.
	require.NoError(t, s.SendMessage(testCtx(t, 10*time.Second), body("small"), nil))
}

func rowDuplicate(t *testing.T, e *confEnv) {
	e.send(t,
		&azservicebus.Message{Body: []byte("one"), MessageID: to.Ptr("dup-1")},
		&azservicebus.Message{Body: []byte("two"), MessageID: to.Ptr("dup-1")},
		&azservicebus.Message{Body: []byte("three"), MessageID: to.Ptr("dup-2")})
	r := e.receiver(t, &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
	msgs := receiveN(t, r, 2, 10*time.Second)
	assert.Equal(t, "one", string(msgs[0].Body))
	assert.Equal(t, "three", string(msgs[1].Body))
	expectNone(t, r, 300*time.Millisecond)
}

func rowTTL(t *testing.T, e *confEnv) {
	e.send(t, &azservicebus.Message{Body: []byte("short-lived"), TimeToLive: to.Ptr(300 * time.Millisecond)})
	d := receiveOne(t, e.dlqReceiver(t))
	assert.Equal(t, "short-lived", string(d.Body))
	require.NotNil(t, d.DeadLetterReason)
	assert.Equal(t, "TTLExpiredException", *d.DeadLetterReason)
	e.requireEmpty(t, e.receiver(t, nil))
}

func rowCompeting(t *testing.T, e *confEnv) {
	const n = 40
	msgs := make([]*azservicebus.Message, n)
	for i := range msgs {
		msgs[i] = body(fmt.Sprintf("c%02d", i))
	}
	e.send(t, msgs...)
	other := newTestClient(t, e.connStr)
	r1 := e.receiver(t, nil)
	r2, err := other.NewReceiverForQueue(e.queue, nil)
	require.NoError(t, err)
	var (
		mu   sync.Mutex
		seen = map[int64]int{}
		wg   sync.WaitGroup
	)
	deadline := time.Now().Add(20 * time.Second)
	for _, r := range []*azservicebus.Receiver{r1, r2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				mu.Lock()
				total := len(seen)
				mu.Unlock()
				if total >= n {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				got, _ := r.ReceiveMessages(ctx, 5, nil)
				for _, m := range got {
					mu.Lock()
					seen[*m.SequenceNumber]++
					mu.Unlock()
					_ = r.CompleteMessage(ctx, m, nil)
				}
				cancel()
			}
		}()
	}
	wg.Wait()
	require.Len(t, seen, n)
	for seq, count := range seen {
		assert.Equal(t, 1, count, "message %d received %d times", seq, count)
	}
}

func rowWrongKey(t *testing.T, e *confEnv) {
	p := connParts(e.connStr)
	p["SharedAccessKey"] = "not-the-key"
	client := newTestClient(t, withParts(p))
	s, err := client.NewSender(e.queue, nil)
	require.NoError(t, err)
	defer s.Close(context.Background())
	requireCode(t, s.SendMessage(testCtx(t, 20*time.Second), body("x"), nil), azservicebus.CodeUnauthorizedAccess)
}

func rowExpiredToken(t *testing.T, e *confEnv) {
	p := connParts(e.connStr)
	resource := "sb://" + trimEndpoint(p["Endpoint"]) + "/"
	p["SharedAccessSignature"] = signSAS(resource, p["SharedAccessKeyName"], p["SharedAccessKey"], time.Now().Add(-time.Hour))
	delete(p, "SharedAccessKeyName")
	delete(p, "SharedAccessKey")
	client := newTestClient(t, withParts(p))
	s, err := client.NewSender(e.queue, nil)
	require.NoError(t, err)
	defer s.Close(context.Background())
	requireCode(t, s.SendMessage(testCtx(t, 20*time.Second), body("x"), nil), azservicebus.CodeUnauthorizedAccess)
}

func rowUnknownQueue(t *testing.T, e *confEnv) {
	s, err := e.client.NewSender("no-such-queue-here", nil)
	require.NoError(t, err)
	defer s.Close(context.Background())
	requireCode(t, s.SendMessage(testCtx(t, 20*time.Second), body("x"), nil), azservicebus.CodeNotFound)
}

func rowDetachForced(t *testing.T, e *confEnv) {
	e.send(t, body("before"))
	r := e.receiver(t, nil)
	m1 := receiveOne(t, r)
	require.Positive(t, e.srv.DetachLinks(e.queue, "amqp:link:detach-forced", "test: forced detach"))
	// The lock outlives the link: settlement falls back to $management.
	require.NoError(t, r.CompleteMessage(testCtx(t, 10*time.Second), m1, nil))
	e.send(t, body("after"))
	m2 := receiveOne(t, r)
	assert.Equal(t, "after", string(m2.Body))
	require.NoError(t, r.CompleteMessage(testCtx(t, 10*time.Second), m2, nil))
	e.requireEmpty(t, r)
}

func rowDropConnections(t *testing.T, e *confEnv) {
	s := e.sender(t)
	r := e.receiver(t, nil)
	require.NoError(t, s.SendMessage(testCtx(t, 10*time.Second), body("one"), nil))
	require.NoError(t, r.CompleteMessage(testCtx(t, 10*time.Second), receiveOne(t, r), nil))
	e.srv.DropConnections()
	require.NoError(t, s.SendMessage(testCtx(t, 20*time.Second), body("two"), nil))
	m := receiveOne(t, r)
	assert.Equal(t, "two", string(m.Body))
	require.NoError(t, r.CompleteMessage(testCtx(t, 10*time.Second), m, nil))
}

func rowServerBusy(t *testing.T, e *confEnv) {
	e.send(t, body("peek me"))
	r := e.receiver(t, nil)
	e.srv.FailManagement(2, 503, "com.microsoft:server-busy")
	msgs, err := r.PeekMessages(testCtx(t, 20*time.Second), 1, nil)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	assert.Equal(t, "peek me", string(msgs[0].Body))
	_, pending := e.srv.faults.takeFailure()
	assert.False(t, pending, "both injected failures were used up by retries")
}

func TestSessionReceiverRefused(t *testing.T) {
	t.Parallel()
	e := emuEnv(t, nil)
	ctx := testCtx(t, 20*time.Second)
	_, err := e.client.AcceptSessionForQueue(ctx, e.queue, "s1", nil)
	var amqpErr *goamqp.Error
	require.ErrorAs(t, err, &amqpErr)
	assert.Equal(t, goamqp.ErrCond(condNotAllowed), amqpErr.Condition)
}
