package sbemu

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/sbemu/internal/amqp"
	"github.com/licensefix/licensefix/sbemu/internal/broker"
)

// testMessage is a stored message with the given properties.
func testMessage(p *amqp.Properties, app amqp.Map) broker.Message {
	m := &amqp.Message{Properties: p, ApplicationProperties: app, RawBody: []byte{0x00, 0x53, 0x75, 0xa0, 0x01, 'x'}}
	return broker.Message{MessageID: messageIDString(m), Size: len(m.RawBody), Payload: &storedMessage{msg: m}}
}

// setAction sets one user property, or fails when err is set.
type setAction struct {
	key string
	val any
	err error
}

func (a setAction) Apply(m ruleMessage) error {
	if a.err != nil {
		return a.err
	}
	m.SetUser(a.key, a.val)
	m.RemoveUser("drop")
	return m.SetSystem("To", "routed")
}

// constFilter is a filter with a fixed answer.
type constFilter bool

func (c constFilter) Match(ruleMessage) (bool, error) { return bool(c), nil }

// failFilter fails to evaluate.
type failFilter struct{}

func (failFilter) Match(ruleMessage) (bool, error) { return false, errors.New("user.n is a string") }

func TestCorrelationFilterMatch(t *testing.T) {
	t.Parallel()
	msg := testMessage(&amqp.Properties{
		MessageID: "m-1", CorrelationID: amqp.UUID{1}, To: "to", ReplyTo: "rt", Subject: "orders",
		ContentType: "application/json", GroupID: "sess", ReplyToGroupID: "rsess",
	}, amqp.Map{{Key: "region", Value: "eu"}, {Key: "n", Value: int32(5)}, {Key: "f", Value: 2.5}, {Key: "ok", Value: true}})
	view := newMessageView(msg.Payload.(*storedMessage).msg, msg)
	for _, tc := range []struct {
		name string
		f    CorrelationFilter
		want bool
	}{
		{"all system properties", CorrelationFilter{MessageID: "m-1", CorrelationID: amqp.UUID{1}.String(), To: "to", ReplyTo: "rt",
			Label: "orders", ContentType: "application/json", SessionID: "sess", ReplyToSessionID: "rsess"}, true},
		{"label differs", CorrelationFilter{Label: "Orders"}, false},
		{"properties by value", CorrelationFilter{Properties: map[string]any{"region": "eu", "n": int64(5), "f": 2.5, "ok": true}}, true},
		{"integer against a float", CorrelationFilter{Properties: map[string]any{"n": 5.0}}, true},
		{"number against text", CorrelationFilter{Properties: map[string]any{"region": int64(1)}}, false},
		{"missing property", CorrelationFilter{Properties: map[string]any{"absent": "x"}}, false},
		{"one of two differs", CorrelationFilter{Label: "orders", Properties: map[string]any{"region": "us"}}, false},
	} {
		got, err := tc.f.Match(view)
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.want, got, tc.name)
	}
	size, ok := view.System("size")
	assert.True(t, ok)
	assert.Equal(t, int64(msg.Size), size)
	_, ok = view.System("replyto")
	assert.True(t, ok)
	empty := &messageView{m: &amqp.Message{}}
	v, ok := empty.System("to")
	assert.True(t, ok, "an unset system property exists")
	assert.Nil(t, v)
	v, ok = empty.System("SequenceNumber")
	assert.True(t, ok, "assigned only once stored: unset while rules run")
	assert.Nil(t, v)
	_, ok = empty.System("colour")
	assert.False(t, ok, "no such system property")
	n, ok := view.User("N")
	assert.True(t, ok, "user property names fall back to a case-insensitive match")
	assert.Equal(t, int64(5), n)
}

func TestRuleRouterCopies(t *testing.T) {
	t.Parallel()
	eu := &CorrelationFilter{Properties: map[string]any{"region": "eu"}}
	r := &ruleRouter{rules: []rule{
		{name: "a", filter: eu},
		{name: "b", filter: &CorrelationFilter{Properties: map[string]any{"region": "eu"}}}, // a second plain match: still one copy
		{name: "stamp", filter: eu, action: setAction{key: "stage", val: "routed"}},
		{name: "never", filter: constFilter(false), action: setAction{key: "x", val: 1}},
	}}
	orig := testMessage(&amqp.Properties{MessageID: "m", To: "orig"}, amqp.Map{{Key: "region", Value: "eu"}, {Key: "drop", Value: 1}})
	out, err := r.Route(orig)
	require.NoError(t, err)
	require.Len(t, out, 2, "one copy for the rules without actions, one per matching rule with an action")
	assert.Same(t, orig.Payload, out[0].Payload)
	c := out[1].Payload.(*storedMessage).msg
	assert.Equal(t, "routed", c.Properties.To)
	v, _ := c.ApplicationProperties.Get("stage")
	assert.Equal(t, "routed", v)
	v, _ = c.ApplicationProperties.Get(propRuleName)
	assert.Equal(t, "stamp", v)
	_, dropped := c.ApplicationProperties.Get("drop")
	assert.False(t, dropped)
	o := orig.Payload.(*storedMessage).msg
	assert.Equal(t, "orig", o.Properties.To, "the action changes only its copy")
	_, still := o.ApplicationProperties.Get("drop")
	assert.True(t, still)

	none, err := r.Route(testMessage(nil, amqp.Map{{Key: "region", Value: "us"}}))
	require.NoError(t, err)
	assert.Empty(t, none)
}

func TestRuleRouterErrors(t *testing.T) {
	t.Parallel()
	msg := testMessage(&amqp.Properties{MessageID: "m"}, nil)
	_, err := (&ruleRouter{rules: []rule{{name: "bad", filter: failFilter{}}}}).Route(msg)
	require.ErrorContains(t, err, `rule "bad": filter: user.n is a string`)
	_, err = (&ruleRouter{rules: []rule{{name: "act", filter: constFilter(true), action: setAction{err: errors.New("boom")}}}}).Route(msg)
	require.ErrorContains(t, err, `rule "act": action: boom`)
	c := &messageView{m: cloneForAction(msg.Payload.(*storedMessage).msg)}
	require.Error(t, c.SetSystem("SequenceNumber", "1"))
	require.Error(t, c.SetSystem("To", int64(1)))
	require.NoError(t, c.SetSystem("MessageId", nil))
	_, isSet := c.System("messageid")
	assert.True(t, isSet)
	assert.Nil(t, c.m.Properties.MessageID, "nil clears")
	c.SetUser("Region", "eu")
	c.SetUser("REGION", "us")
	assert.Len(t, c.m.ApplicationProperties, 1, "set replaces a name that differs only in case")
	got, _ := c.User("region")
	assert.Equal(t, "us", got)
	c.RemoveUser("region")
	assert.Empty(t, c.m.ApplicationProperties)
}

func TestManagementRefusesSchedulingOnASubscription(t *testing.T) {
	t.Parallel()
	b, err := broker.NewWithTopics(nil, nil, []broker.TopicConfig{{Name: "t", Subscriptions: []broker.SubscriptionConfig{{QueueConfig: broker.QueueConfig{Name: "s"}}}}})
	require.NoError(t, err)
	sub, err := b.Entity("t/Subscriptions/s")
	require.NoError(t, err)
	m := amqp.Message{Properties: &amqp.Properties{MessageID: "m"}, RawBody: []byte{0x00, 0x53, 0x77, 0x40},
		MessageAnnotations: amqp.Map{{Key: annScheduledEnqueueTime, Value: time.Now().Add(time.Hour)}}}
	data, err := amqp.AppendMessage(nil, &m)
	require.NoError(t, err)
	_, err = mgmtSchedule(sub, amqp.Map{{Key: "messages", Value: []any{amqp.Map{{Key: "message", Value: data}}}}}, 1<<20)
	require.ErrorIs(t, err, broker.ErrNotSupported)
	resp := errorResponse(err)
	assert.Equal(t, int32(statusBadRequest), resp.status)
	assert.Equal(t, condNotAllowed, resp.condition)
}

func TestSQLRulesThroughRouter(t *testing.T) {
	t.Parallel()
	router, err := compileRules("S", "t", &Subscription{Name: "s", Rules: []Rule{{
		Name: "big", Properties: RuleProperties{FilterType: FilterTypeSQL,
			SQLFilter: &SQLExpression{Expression: "sys.Label = 'orders' AND qty > 10"},
			Action:    &SQLExpression{Expression: "SET sys.To = 'desk'; SET Qty = qty * 2; REMOVE secret"}},
	}}})
	require.NoError(t, err)
	out, err := router.Route(testMessage(&amqp.Properties{Subject: "orders"}, amqp.Map{{Key: "qty", Value: int32(12)}, {Key: "secret", Value: "x"}}))
	require.NoError(t, err)
	require.Len(t, out, 1)
	c := out[0].Payload.(*storedMessage).msg
	assert.Equal(t, "desk", c.Properties.To)
	assert.Equal(t, amqp.Map{{Key: "Qty", Value: int64(24)}, {Key: propRuleName, Value: "big"}}, c.ApplicationProperties)

	out, err = router.Route(testMessage(&amqp.Properties{Subject: "orders"}, amqp.Map{{Key: "qty", Value: int32(3)}}))
	require.NoError(t, err)
	assert.Empty(t, out)
	out, err = router.Route(testMessage(&amqp.Properties{Subject: "orders"}, nil))
	require.NoError(t, err)
	assert.Empty(t, out, "a missing property is unknown: no match")
	_, err = router.Route(testMessage(&amqp.Properties{Subject: "orders"}, amqp.Map{{Key: "qty", Value: "many"}}))
	require.ErrorContains(t, err, `rule "big": filter: sql filter`)
}
