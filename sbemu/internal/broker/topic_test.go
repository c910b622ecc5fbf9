package broker

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// routeFunc adapts a function to Router.
type routeFunc func(m Message) ([]Message, error)

func (f routeFunc) Route(m Message) ([]Message, error) { return f(m) }

// prefixRouter accepts messages whose id starts with prefix.
func prefixRouter(prefix string) Router {
	return routeFunc(func(m Message) ([]Message, error) {
		if strings.HasPrefix(m.MessageID, prefix) {
			return []Message{m}, nil
		}
		return nil, nil
	})
}

// setupTopic builds a broker with one queue "q" and topic "t" with
// subscriptions all (no router), red (ids starting "red") and fail (a
// router that fails on ids starting "bad", accepts nothing else).
func setupTopic(t *testing.T, tc TopicConfig) (*Broker, *fakeClock) {
	t.Helper()
	tc.Name = "t"
	tc.Subscriptions = append([]SubscriptionConfig{
		{QueueConfig: QueueConfig{Name: "all", MaxDeliveryCount: 2}},
		{QueueConfig: QueueConfig{Name: "red"}, Router: prefixRouter("red")},
		{QueueConfig: QueueConfig{Name: "fail"}, Router: routeFunc(func(m Message) ([]Message, error) {
			if strings.HasPrefix(m.MessageID, "bad") {
				return nil, errors.New("user.x is not a number")
			}
			return nil, nil
		})},
	}, tc.Subscriptions...)
	clk := newFakeClock()
	b, err := NewWithTopics(clk, []QueueConfig{{Name: "q"}}, []TopicConfig{tc})
	require.NoError(t, err)
	t.Cleanup(func() { checkInvariants(t, b) })
	return b, clk
}

func entity(t *testing.T, b *Broker, path string) *Queue {
	t.Helper()
	q, err := b.Entity(path)
	require.NoError(t, err)
	return q
}

func TestTopicFansOutToMatchingSubscriptions(t *testing.T) {
	t.Parallel()
	b, _ := setupTopic(t, TopicConfig{})
	topic := entity(t, b, "t")
	assert.True(t, topic.IsTopic())
	seqs := send(t, topic, "red-1", "blue-1", "red-2")
	assert.Equal(t, []int64{1, 2, 3}, seqs, "the topic numbers what it accepts")

	all := entity(t, b, "T/subscriptions/ALL") // case-insensitive, like Service Bus
	assert.Equal(t, "t/Subscriptions/all", all.Name())
	assert.Same(t, topic, all.Topic())
	for i, id := range []string{"red-1", "blue-1", "red-2"} {
		rec := receive(t, all)
		assert.Equal(t, id, rec.MessageID)
		assert.Equal(t, int64(i+1), rec.SequenceNumber)
	}
	red := entity(t, b, "t/Subscriptions/red")
	r1, r2 := receive(t, red), receive(t, red)
	assert.Equal(t, []string{"red-1", "red-2"}, []string{r1.MessageID, r2.MessageID})
	assert.Equal(t, []int64{1, 2}, []int64{r1.SequenceNumber, r2.SequenceNumber}, "each subscription numbers its own copies")
	requireEmpty(t, red)
	requireEmpty(t, entity(t, b, "t/Subscriptions/fail"))
	requireEmpty(t, topic)
	assert.Equal(t, Stats{}, topic.Stats())
}

func TestSubscriptionsSettleIndependently(t *testing.T) {
	t.Parallel()
	b, _ := setupTopic(t, TopicConfig{})
	send(t, entity(t, b, "t"), "red-1")
	all, red := entity(t, b, "t/Subscriptions/all"), entity(t, b, "t/Subscriptions/red")
	a := receive(t, all)
	r := receive(t, red)
	require.NoError(t, red.Complete(r.LockToken))
	require.ErrorIs(t, all.Complete(r.LockToken), ErrLockLost, "a lock belongs to its subscription")
	require.NoError(t, all.Abandon(a.LockToken, nil))
	a = receive(t, all)
	assert.Equal(t, uint32(1), a.DeliveryCount)
	require.NoError(t, all.Abandon(a.LockToken, nil)) // MaxDeliveryCount 2
	requireEmpty(t, all)
	dlq := entity(t, b, "t/Subscriptions/all/$DeadLetterQueue")
	d := receive(t, dlq)
	assert.Equal(t, "red-1", d.MessageID)
	assert.Equal(t, "t/Subscriptions/all", d.DeadLetterSource)
	reason, _ := prop(d, PropDeadLetterReason)
	assert.Equal(t, ReasonMaxDeliveryCountExceeded, reason)
	requireEmpty(t, entity(t, b, "t/Subscriptions/red/$DeadLetterQueue"))
}

func TestRouterErrorDeadLetters(t *testing.T) {
	t.Parallel()
	b, _ := setupTopic(t, TopicConfig{})
	send(t, entity(t, b, "t"), "bad-1")
	fail := entity(t, b, "t/Subscriptions/fail")
	requireEmpty(t, fail)
	d := receive(t, fail.DeadLetterQueue())
	assert.Equal(t, "bad-1", d.MessageID)
	reason, _ := prop(d, PropDeadLetterReason)
	assert.Equal(t, ReasonFilterEvaluation, reason)
	desc, _ := prop(d, PropDeadLetterErrorDescription)
	assert.Equal(t, "user.x is not a number", desc)
	receive(t, entity(t, b, "t/Subscriptions/all")) // other subscriptions are unaffected
}

func TestRouterCopies(t *testing.T) {
	t.Parallel()
	b, _ := setupTopic(t, TopicConfig{Subscriptions: []SubscriptionConfig{{
		QueueConfig: QueueConfig{Name: "twice"},
		Router: routeFunc(func(m Message) ([]Message, error) {
			c := m
			c.Payload = "changed"
			return []Message{m, c}, nil
		}),
	}}})
	send(t, entity(t, b, "t"), "x")
	twice := entity(t, b, "t/Subscriptions/twice")
	assert.Equal(t, "body-x", receive(t, twice).Payload)
	assert.Equal(t, "changed", receive(t, twice).Payload)
	assert.Equal(t, "body-x", receive(t, entity(t, b, "t/Subscriptions/all")).Payload, "the original is untouched")
}

func TestTopicScheduledReachesSubscriptionsWhenDue(t *testing.T) {
	t.Parallel()
	b, clk := setupTopic(t, TopicConfig{})
	topic := entity(t, b, "t")
	due := clk.Now().Add(time.Minute)
	seqs, err := topic.Schedule([]Message{
		{MessageID: "red-s", ScheduledEnqueueTime: due},
		{MessageID: "red-cancelled", ScheduledEnqueueTime: due},
	})
	require.NoError(t, err)
	assert.Equal(t, Stats{Scheduled: 2}, topic.Stats())
	require.NoError(t, topic.CancelScheduled(seqs[1:]))
	all, red := entity(t, b, "t/Subscriptions/all"), entity(t, b, "t/Subscriptions/red")
	requireEmpty(t, all)
	clk.Advance(time.Minute)
	rec := receive(t, red)
	assert.Equal(t, "red-s", rec.MessageID)
	assert.Equal(t, StateActive, rec.State)
	assert.True(t, rec.ScheduledEnqueueTime.Equal(due), "the copy keeps its scheduled time")
	assert.Equal(t, "red-s", receive(t, all).MessageID)
	requireEmpty(t, all)
	assert.Equal(t, Stats{}, topic.Stats())
}

func TestTopicDuplicateDetection(t *testing.T) {
	t.Parallel()
	b, clk := setupTopic(t, TopicConfig{RequiresDuplicateDetection: true, DuplicateDetectionWindow: time.Minute})
	topic := entity(t, b, "t")
	send(t, topic, "red-1", "red-1", "red-2")
	all := entity(t, b, "t/Subscriptions/all")
	assert.Equal(t, Stats{Active: 2}, all.Stats())
	assert.Equal(t, Stats{Active: 2}, entity(t, b, "t/Subscriptions/red").Stats())
	clk.Advance(time.Minute)
	send(t, topic, "red-1")
	assert.Equal(t, Stats{Active: 3}, all.Stats(), "accepted again once the window has passed")
}

func TestTopicAndSubscriptionTimeToLive(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	b, err := NewWithTopics(clk, nil, []TopicConfig{{
		Name: "t", DefaultMessageTimeToLive: time.Hour,
		Subscriptions: []SubscriptionConfig{
			{QueueConfig: QueueConfig{Name: "long"}},
			{QueueConfig: QueueConfig{Name: "short", DefaultMessageTimeToLive: time.Minute, DeadLetteringOnExpiration: true}},
		},
	}})
	require.NoError(t, err)
	t.Cleanup(func() { checkInvariants(t, b) })
	_, err = entity(t, b, "t").Send([]Message{{MessageID: "m", TimeToLive: 2 * time.Hour}})
	require.NoError(t, err)
	long, short := entity(t, b, "t/Subscriptions/long"), entity(t, b, "t/Subscriptions/short")
	assert.Equal(t, epoch.Add(time.Hour), long.Peek(0, 1)[0].ExpiresAt, "the topic caps the TTL")
	assert.Equal(t, epoch.Add(time.Minute), short.Peek(0, 1)[0].ExpiresAt, "and the subscription caps it further")
	clk.Advance(time.Minute)
	requireEmpty(t, short)
	d := receive(t, short.DeadLetterQueue())
	reason, _ := prop(d, PropDeadLetterReason)
	assert.Equal(t, ReasonTTLExpired, reason)
	receive(t, long)
}

func TestSubscriptionForwards(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	b, err := NewWithTopics(clk, []QueueConfig{{Name: "q"}}, []TopicConfig{
		{Name: "t", Subscriptions: []SubscriptionConfig{
			{QueueConfig: QueueConfig{Name: "toq", ForwardTo: "q"}},
			{QueueConfig: QueueConfig{Name: "tot2", ForwardTo: "t2"}},
			{QueueConfig: QueueConfig{Name: "dl", MaxDeliveryCount: 1, ForwardDeadLetteredMessagesTo: "q"}},
		}},
		{Name: "t2", Subscriptions: []SubscriptionConfig{{QueueConfig: QueueConfig{Name: "s"}}}},
	})
	require.NoError(t, err)
	t.Cleanup(func() { checkInvariants(t, b) })
	send(t, entity(t, b, "t"), "m")
	q := entity(t, b, "q")
	assert.Equal(t, "m", receive(t, q).MessageID)
	assert.Equal(t, "m", receive(t, entity(t, b, "t2/Subscriptions/s")).MessageID)
	requireEmpty(t, entity(t, b, "t/Subscriptions/toq"))
	dl := entity(t, b, "t/Subscriptions/dl")
	require.NoError(t, dl.Abandon(receive(t, dl).LockToken, nil))
	d := receive(t, q)
	reason, _ := prop(d, PropDeadLetterReason)
	assert.Equal(t, ReasonMaxDeliveryCountExceeded, reason)
}

func TestTopicEntitiesRefuse(t *testing.T) {
	t.Parallel()
	b, _ := setupTopic(t, TopicConfig{})
	_, err := b.Entity("t/$DeadLetterQueue")
	require.ErrorIs(t, err, ErrEntityNotFound, "a topic has no dead-letter queue")
	_, err = b.Entity("t/Subscriptions/nope")
	require.ErrorIs(t, err, ErrEntityNotFound)
	_, err = entity(t, b, "t/Subscriptions/all").Send([]Message{{MessageID: "x"}})
	require.ErrorIs(t, err, ErrNotSupported, "senders target the topic")
	assert.Nil(t, entity(t, b, "t").DeadLetterQueue())
	assert.True(t, entity(t, b, "t/Subscriptions/all/$DeadLetterQueue").IsDeadLetterQueue())
}

func TestNewWithTopicsValidates(t *testing.T) {
	t.Parallel()
	sub := func(name, fwd string) SubscriptionConfig {
		return SubscriptionConfig{QueueConfig: QueueConfig{Name: name, ForwardTo: fwd}}
	}
	for _, tc := range []struct {
		name    string
		queues  []QueueConfig
		topics  []TopicConfig
		wantErr string
	}{
		{"topic named like a queue", []QueueConfig{{Name: "a"}}, []TopicConfig{{Name: "A"}}, `topic "A": Name is used by another queue or topic`},
		{"duplicate subscription", nil, []TopicConfig{{Name: "t", Subscriptions: []SubscriptionConfig{sub("s", ""), sub("S", "")}}}, `subscription "t/Subscriptions/S": Name is used`},
		{"subscription with slash", nil, []TopicConfig{{Name: "t", Subscriptions: []SubscriptionConfig{sub("a/b", "")}}}, `subscription "a/b" of topic "t"`},
		{"subscription dedup", nil, []TopicConfig{{Name: "t", Subscriptions: []SubscriptionConfig{{QueueConfig: QueueConfig{Name: "s", RequiresDuplicateDetection: true}}}}}, `duplicate detection is the topic's`},
		{"forward to a subscription", []QueueConfig{{Name: "q", ForwardTo: "t/Subscriptions/s"}}, []TopicConfig{{Name: "t", Subscriptions: []SubscriptionConfig{sub("s", "")}}}, `must not name a subscription`},
		{"forward to own topic", nil, []TopicConfig{{Name: "t", Subscriptions: []SubscriptionConfig{sub("s", "t")}}}, `ForwardTo chain loops back`},
		{"loop through two topics", []QueueConfig{{Name: "q", ForwardTo: "t1"}}, []TopicConfig{
			{Name: "t1", Subscriptions: []SubscriptionConfig{sub("s", "t2")}},
			{Name: "t2", Subscriptions: []SubscriptionConfig{sub("s", "q")}},
		}, `ForwardTo chain loops back`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := NewWithTopics(newFakeClock(), tc.queues, tc.topics)
			require.Error(t, err)
			assert.Nil(t, b)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}
