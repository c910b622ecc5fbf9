package sbemu

import (
	"context"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	goamqp "github.com/Azure/go-amqp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The topic rows of the conformance table, through the real azservicebus
// SDK. They use the topic layout of testdata/topics.json (the Node and
// Python suites load the same file): topic "conftopic" with duplicate
// detection, subscriptions "all" (no rule, MaxDeliveryCount 3), "corr" (a
// correlation rule: Label "orders" and region "eu"), "sql" (a SQL rule:
// Label "orders" and qty above 10), "action" (a SQL rule on region "eu" whose
// action sets sys.To and stage and removes region) and "none" (a
// correlation rule that nothing sent here matches). They run against the
// emulator only, a fresh server per row.

const (
	confTopic = "conftopic"
	subAll    = "all"
	subCorr   = "corr"
	subSQL    = "sql"
	subAction = "action"
	subNone   = "none"
)

// topicEnv is what a topic row works with.
type topicEnv struct {
	client *azservicebus.Client
	srv    *Server
}

func TestConformanceEmulatorTopics(t *testing.T) {
	t.Parallel()
	layout, err := LoadConfig("testdata/topics.json")
	require.NoError(t, err)
	for _, row := range []struct {
		name string
		run  func(t *testing.T, e *topicEnv)
	}{
		{"topic_send_reaches_matching_subscriptions", rowTopicFanOut},
		{"topic_sql_filter_and_evaluation_error", rowTopicSQLFilter},
		{"topic_sql_action_changes_the_copy", rowTopicSQLAction},
		{"topic_subscriptions_settle_independently", rowTopicIndependentSettlement},
		{"topic_subscription_dead_letter_queue", rowTopicDeadLetter},
		{"topic_subscription_management_peek_renew_defer", rowTopicManagement},
		{"topic_schedule_reaches_subscriptions_when_due", rowTopicSchedule},
		{"topic_duplicate_detection", rowTopicDuplicate},
		{"topic_wrong_direction_refused", rowTopicWrongDirection},
		{"topic_session_receiver_refused", rowTopicSessionRefused},
	} {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultConfig()
			cfg.UserConfig.Namespaces[0].Topics = layout.UserConfig.Namespaces[0].Topics
			srv, err := NewServer(&Options{Config: cfg, TB: t, Logger: testLogger()})
			require.NoError(t, err)
			row.run(t, &topicEnv{client: newTestClient(t, srv.ConnectionString()), srv: srv})
		})
	}
}

func (e *topicEnv) send(t *testing.T, msgs ...*azservicebus.Message) {
	s, err := e.client.NewSender(confTopic, nil)
	require.NoError(t, err)
	defer s.Close(context.Background())
	for _, m := range msgs {
		require.NoError(t, s.SendMessage(testCtx(t, 10*time.Second), m, nil))
	}
}

func (e *topicEnv) receiver(t *testing.T, sub string, opts *azservicebus.ReceiverOptions) *azservicebus.Receiver {
	r, err := e.client.NewReceiverForSubscription(confTopic, sub, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	return r
}

// stats are a subscription's (or its dead-letter queue's) counts.
func (e *topicEnv) stats(t *testing.T, entity string) Stats {
	st, err := e.srv.QueueStats(confTopic + "/Subscriptions/" + entity)
	require.NoError(t, err)
	return st
}

// euOrder matches subscription "corr"; usOrder and plain do not.
func euOrder(id string) *azservicebus.Message {
	return &azservicebus.Message{Body: []byte(id), MessageID: to.Ptr(id), Subject: to.Ptr("orders"),
		ApplicationProperties: map[string]any{"region": "eu"}}
}

func usOrder(id string) *azservicebus.Message {
	return &azservicebus.Message{Body: []byte(id), MessageID: to.Ptr(id), Subject: to.Ptr("orders"),
		ApplicationProperties: map[string]any{"region": "us"}}
}

func plain(id string) *azservicebus.Message {
	return &azservicebus.Message{Body: []byte(id), MessageID: to.Ptr(id)}
}

func rowTopicFanOut(t *testing.T, e *topicEnv) {
	e.send(t, euOrder("eu-1"), usOrder("us-1"), plain("plain-1"))
	all := receiveN(t, e.receiver(t, subAll, &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete}), 3, 10*time.Second)
	var ids []string
	var seqs []int64
	for _, m := range all {
		ids = append(ids, m.MessageID)
		seqs = append(seqs, *m.SequenceNumber)
	}
	assert.Equal(t, []string{"eu-1", "us-1", "plain-1"}, ids, "no rule: every message")
	assert.Equal(t, []int64{1, 2, 3}, seqs)
	corr := e.receiver(t, subCorr, nil)
	m := receiveOne(t, corr)
	assert.Equal(t, "eu-1", m.MessageID, "the correlation rule takes only the EU order")
	assert.Equal(t, "eu-1", string(m.Body))
	assert.Equal(t, "eu", m.ApplicationProperties["region"])
	assert.Equal(t, int64(1), *m.SequenceNumber, "each subscription numbers its own copies")
	require.NoError(t, corr.CompleteMessage(testCtx(t, 10*time.Second), m, nil))
	expectNone(t, corr, 300*time.Millisecond)
	assert.Equal(t, Stats{}, e.stats(t, subNone), "a subscription whose rule matches nothing gets nothing")
	assert.Equal(t, Stats{}, e.stats(t, subCorr))
}

// order is a message with Label label and application property qty.
func order(id, label string, qty any) *azservicebus.Message {
	return &azservicebus.Message{Body: []byte(id), MessageID: to.Ptr(id), Subject: to.Ptr(label),
		ApplicationProperties: map[string]any{"qty": qty}}
}

func rowTopicSQLFilter(t *testing.T, e *topicEnv) {
	e.send(t, order("big", "orders", int64(12)), order("small", "orders", int64(3)),
		order("misc", "other", int64(50)), order("bad", "orders", "many"))
	r := e.receiver(t, subSQL, nil)
	m := receiveOne(t, r)
	assert.Equal(t, "big", m.MessageID, "only the message the SQL filter is true for")
	require.NoError(t, r.CompleteMessage(testCtx(t, 10*time.Second), m, nil))
	expectNone(t, r, 300*time.Millisecond)
	// 'many' > 10 cannot be evaluated: dead-lettered in this subscription only.
	d := receiveOne(t, e.receiver(t, subSQL, &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter}))
	assert.Equal(t, "bad", d.MessageID)
	require.NotNil(t, d.DeadLetterReason)
	assert.Equal(t, "FilterEvaluationException", *d.DeadLetterReason)
	require.NotNil(t, d.DeadLetterErrorDescription)
	assert.Contains(t, *d.DeadLetterErrorDescription, `rule "big-orders"`)
	assert.Equal(t, Stats{Active: 4}, e.stats(t, subAll), "every message still reaches the subscription without rules")
}

func rowTopicSQLAction(t *testing.T, e *topicEnv) {
	e.send(t, euOrder("eu-1"), usOrder("us-1"))
	r := e.receiver(t, subAction, nil)
	m := receiveOne(t, r)
	assert.Equal(t, "eu-1", m.MessageID)
	require.NotNil(t, m.To)
	assert.Equal(t, "eu-desk", *m.To, "SET sys.To")
	assert.Equal(t, "routed", m.ApplicationProperties["stage"], "SET stage")
	assert.NotContains(t, m.ApplicationProperties, "region", "REMOVE region")
	assert.Equal(t, "stamp", m.ApplicationProperties["RuleName"], "a rule with an action names itself on its copy")
	require.NoError(t, r.CompleteMessage(testCtx(t, 10*time.Second), m, nil))
	expectNone(t, r, 300*time.Millisecond)
	a := receiveOne(t, e.receiver(t, subAll, nil))
	assert.Equal(t, "eu-1", a.MessageID)
	assert.Nil(t, a.To, "the action changed only its own copy")
	assert.Equal(t, "eu", a.ApplicationProperties["region"])
	assert.NotContains(t, a.ApplicationProperties, "stage")
}

func rowTopicIndependentSettlement(t *testing.T, e *topicEnv) {
	e.send(t, euOrder("eu-1"))
	all, corr := e.receiver(t, subAll, nil), e.receiver(t, subCorr, nil)
	a := receiveOne(t, all)
	c := receiveOne(t, corr)
	require.NoError(t, all.AbandonMessage(testCtx(t, 10*time.Second), a, nil))
	require.NoError(t, corr.CompleteMessage(testCtx(t, 10*time.Second), c, nil))
	a2 := receiveOne(t, all)
	assert.Equal(t, uint32(2), a2.DeliveryCount, "abandoned in one subscription")
	assert.NotEqual(t, a.LockToken, a2.LockToken)
	assert.Equal(t, Stats{}, e.stats(t, subCorr), "completed in the other")
	require.NoError(t, all.CompleteMessage(testCtx(t, 10*time.Second), a2, nil))
	assert.Equal(t, Stats{}, e.stats(t, subAll))
}

func rowTopicDeadLetter(t *testing.T, e *topicEnv) {
	e.send(t, euOrder("poison"))
	all := e.receiver(t, subAll, nil)
	for i := 1; i <= 3; i++ { // MaxDeliveryCount 3
		m := receiveOne(t, all)
		require.Equal(t, uint32(i), m.DeliveryCount)
		require.NoError(t, all.AbandonMessage(testCtx(t, 10*time.Second), m, nil))
	}
	dlq := e.receiver(t, subAll, &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	d := receiveOne(t, dlq)
	assert.Equal(t, "poison", d.MessageID)
	require.NotNil(t, d.DeadLetterReason)
	assert.Equal(t, "MaxDeliveryCountExceeded", *d.DeadLetterReason)
	require.NotNil(t, d.DeadLetterSource)
	assert.Equal(t, confTopic+"/Subscriptions/"+subAll, *d.DeadLetterSource)
	require.NoError(t, dlq.CompleteMessage(testCtx(t, 10*time.Second), d, nil))

	corr := e.receiver(t, subCorr, nil)
	c := receiveOne(t, corr)
	assert.Equal(t, uint32(1), c.DeliveryCount, "the other subscription's copy was never delivered")
	require.NoError(t, corr.DeadLetterMessage(testCtx(t, 10*time.Second), c, &azservicebus.DeadLetterOptions{
		Reason: to.Ptr("NotForUs"), ErrorDescription: to.Ptr("wrong region"),
	}))
	cd := receiveOne(t, e.receiver(t, subCorr, &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter}))
	assert.Equal(t, "poison", cd.MessageID)
	require.NotNil(t, cd.DeadLetterReason)
	assert.Equal(t, "NotForUs", *cd.DeadLetterReason)
	st, err := e.srv.QueueStats(confTopic + "/Subscriptions/" + subAll + "/$DeadLetterQueue")
	require.NoError(t, err)
	assert.Equal(t, Stats{}, st)
}

func rowTopicManagement(t *testing.T, e *topicEnv) {
	e.send(t, plain("m-1"), plain("m-2"))
	r := e.receiver(t, subAll, nil)
	peeked, err := r.PeekMessages(testCtx(t, 10*time.Second), 10, &azservicebus.PeekMessagesOptions{FromSequenceNumber: to.Ptr(int64(1))})
	require.NoError(t, err)
	require.Len(t, peeked, 2)
	assert.Equal(t, "m-1", peeked[0].MessageID)
	assert.Equal(t, "m-2", peeked[1].MessageID)

	m := receiveOne(t, r)
	first := *m.LockedUntil
	require.Eventually(t, func() bool {
		require.NoError(t, r.RenewMessageLock(testCtx(t, 10*time.Second), m, nil))
		return m.LockedUntil.After(first)
	}, 10*time.Second, 50*time.Millisecond, "renew-lock on a subscription extends the lock")
	require.NoError(t, r.DeferMessage(testCtx(t, 10*time.Second), m, nil))
	got, err := r.ReceiveDeferredMessages(testCtx(t, 10*time.Second), []int64{*m.SequenceNumber}, nil)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, m.MessageID, got[0].MessageID)
	require.NoError(t, r.CompleteMessage(testCtx(t, 10*time.Second), got[0], nil))
	require.NoError(t, r.CompleteMessage(testCtx(t, 10*time.Second), receiveOne(t, r), nil))
	assert.Equal(t, Stats{}, e.stats(t, subAll))
	// The other subscription's copies are untouched.
	corrPeek, err := e.receiver(t, subNone, nil).PeekMessages(testCtx(t, 10*time.Second), 10, nil)
	require.NoError(t, err)
	assert.Empty(t, corrPeek)
}

func rowTopicSchedule(t *testing.T, e *topicEnv) {
	s, err := e.client.NewSender(confTopic, nil)
	require.NoError(t, err)
	defer s.Close(context.Background())
	due := time.Now().Add(1500 * time.Millisecond)
	seqs, err := s.ScheduleMessages(testCtx(t, 10*time.Second), []*azservicebus.Message{euOrder("soon")}, due, nil)
	require.NoError(t, err)
	require.Len(t, seqs, 1)
	far, err := s.ScheduleMessages(testCtx(t, 10*time.Second), []*azservicebus.Message{euOrder("never")}, time.Now().Add(time.Hour), nil)
	require.NoError(t, err)
	require.NoError(t, s.CancelScheduledMessages(testCtx(t, 10*time.Second), far, nil))
	assert.Equal(t, Stats{}, e.stats(t, subAll), "a scheduled message waits in the topic")
	for _, sub := range []string{subAll, subCorr} {
		r := e.receiver(t, sub, nil)
		m := receiveOne(t, r)
		assert.Equal(t, "soon", m.MessageID, sub)
		assert.False(t, time.Now().Before(due.Add(-100*time.Millisecond)), "%s: received before it was due", sub)
		require.NotNil(t, m.ScheduledEnqueueTime)
		require.NoError(t, r.CompleteMessage(testCtx(t, 10*time.Second), m, nil))
		expectNone(t, r, 200*time.Millisecond) // the cancelled one never comes
	}
	assert.Equal(t, Stats{}, e.stats(t, subNone))
}

func rowTopicDuplicate(t *testing.T, e *topicEnv) {
	e.send(t, euOrder("dup-1"), euOrder("dup-1"), euOrder("dup-2"))
	for _, sub := range []string{subAll, subCorr} {
		r := e.receiver(t, sub, &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
		msgs := receiveN(t, r, 2, 10*time.Second)
		assert.Equal(t, "dup-1", msgs[0].MessageID, sub)
		assert.Equal(t, "dup-2", msgs[1].MessageID, sub)
		expectNone(t, r, 300*time.Millisecond)
	}
}

func rowTopicWrongDirection(t *testing.T, e *topicEnv) {
	s, err := e.client.NewSender(confTopic+"/Subscriptions/"+subAll, nil)
	require.NoError(t, err)
	defer s.Close(context.Background())
	err = s.SendMessage(testCtx(t, 10*time.Second), plain("x"), nil)
	var amqpErr *goamqp.Error
	require.ErrorAs(t, err, &amqpErr)
	assert.Equal(t, goamqp.ErrCond(condNotAllowed), amqpErr.Condition)
	assert.Contains(t, amqpErr.Description, "send to its topic")

	r, err := e.client.NewReceiverForQueue(confTopic, nil) // a topic is not received from
	require.NoError(t, err)
	defer r.Close(context.Background())
	_, err = r.ReceiveMessages(testCtx(t, 10*time.Second), 1, nil)
	require.ErrorAs(t, err, &amqpErr)
	assert.Equal(t, goamqp.ErrCond(condNotAllowed), amqpErr.Condition)
	assert.Contains(t, amqpErr.Description, "receive from one of its subscriptions")
}

func rowTopicSessionRefused(t *testing.T, e *topicEnv) {
	_, err := e.client.AcceptSessionForSubscription(testCtx(t, 20*time.Second), confTopic, subAll, "s1", nil)
	var amqpErr *goamqp.Error
	require.ErrorAs(t, err, &amqpErr)
	assert.Equal(t, goamqp.ErrCond(condNotAllowed), amqpErr.Condition)
	assert.Contains(t, amqpErr.Description, "sessions are not supported")
}

// A SAS token whose resource is the topic authorizes its subscriptions (and
// their dead-letter queues), which are paths below it; it does not reach
// other entities.
func TestTopicTokenCoversSubscriptions(t *testing.T) {
	t.Parallel()
	layout, err := LoadConfig("testdata/topics.json")
	require.NoError(t, err)
	cfg := DefaultConfig()
	cfg.UserConfig.Namespaces[0].Topics = layout.UserConfig.Namespaces[0].Topics
	srv, err := NewServer(&Options{Config: cfg, TB: t, Logger: testLogger()})
	require.NoError(t, err)
	(&topicEnv{client: newTestClient(t, srv.ConnectionString()), srv: srv}).send(t, plain("scoped"))

	p := connParts(srv.ConnectionString())
	p["SharedAccessSignature"] = signSAS("sb://"+trimEndpoint(p["Endpoint"])+"/"+confTopic, p["SharedAccessKeyName"], p["SharedAccessKey"], time.Now().Add(time.Hour))
	delete(p, "SharedAccessKeyName")
	delete(p, "SharedAccessKey")
	scoped := newTestClient(t, withParts(p))
	r, err := scoped.NewReceiverForSubscription(confTopic, subAll, nil)
	require.NoError(t, err)
	defer r.Close(context.Background())
	m := receiveOne(t, r)
	assert.Equal(t, "scoped", m.MessageID)
	require.NoError(t, r.CompleteMessage(testCtx(t, 10*time.Second), m, nil))

	s, err := scoped.NewSender(DefaultQueueName, nil)
	require.NoError(t, err)
	defer s.Close(context.Background())
	requireCode(t, s.SendMessage(testCtx(t, 20*time.Second), plain("x"), nil), azservicebus.CodeUnauthorizedAccess)
}
