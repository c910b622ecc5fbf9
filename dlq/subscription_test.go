package dlq_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/licensefix/licensefix/dlq"
	"github.com/licensefix/licensefix/sbemu"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// routedTopic has the topic license-events and three subscriptions:
// licensefix, which takes every message and is the one replayed from;
// for-licensefix, whose correlation rule takes only messages addressed to
// licensefix (licensefix_replay_to = 'licensefix'); and for-audit, whose
// rule takes only messages addressed to audit. Correlation filters cannot
// say "IS NULL", so the SQL rules of the README are represented here by
// their second half, the part that decides where a replayed copy goes.
const routedTopic = `{"UserConfig": {"Namespaces": [{"Name": "sbemulatorns", "Queues": [], "Topics": [{
  "Name": "license-events",
  "Subscriptions": [
    {"Name": "licensefix", "Properties": {"LockDuration": "PT1M", "MaxDeliveryCount": 10}},
    {"Name": "for-licensefix", "Rules": [{"Name": "replays", "Properties": {"FilterType": "Correlation",
      "CorrelationFilter": {"Properties": {"licensefix_replay_to": "licensefix"}}}}]},
    {"Name": "for-audit", "Rules": [{"Name": "replays", "Properties": {"FilterType": "Correlation",
      "CorrelationFilter": {"Properties": {"licensefix_replay_to": "audit"}}}}]}
  ]}]}], "Logging": {"Type": "Console"}}}`

// TestReplayFromASubscription replays dead letters of a topic subscription
// through the real SDK (dlq.OpenSubscription): the copies go to the topic,
// addressed to the subscription by licensefix_replay_to, so only the
// subscriptions whose rules admit that address get them; the originals
// leave the subscription's dead-letter queue and what did not match stays.
func TestReplayFromASubscription(t *testing.T) {
	t.Parallel()
	cfg, err := sbemu.ParseConfig([]byte(routedTopic))
	require.NoError(t, err)
	h := newHarnessWithConfig(t, cfg)
	srv, client := h.srv, h.client
	ctx := testCtx(t)

	// Three events reach licensefix; it dead-letters two as UserNotFound and
	// one as GraphRejected, the way the worker does.
	sender, err := client.NewSender("license-events", nil)
	require.NoError(t, err)
	rcv, err := client.NewReceiverForSubscription("license-events", "licensefix", nil)
	require.NoError(t, err)
	reasons := []string{dlq.ReasonUserNotFound, dlq.ReasonGraphRejected, dlq.ReasonUserNotFound}
	for i, reason := range reasons {
		id, user := fmt.Sprintf("ev-%d", i), fmt.Sprintf("user%d@contoso.com", i)
		require.NoError(t, sender.SendMessage(ctx, &azservicebus.Message{MessageID: &id, Body: []byte(fmt.Sprintf(`{"userId":%q}`, user)),
			ContentType: ptr("application/json"), ApplicationProperties: map[string]any{"origin": "hr"}}, nil))
		msgs, err := rcv.ReceiveMessages(ctx, 1, nil)
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		require.NoError(t, rcv.DeadLetterMessage(ctx, msgs[0], &azservicebus.DeadLetterOptions{Reason: ptr(reason),
			PropertiesToModify: map[string]any{dlq.PropReason: reason, dlq.PropUserID: user}}))
	}
	stats := func(entity string) sbemu.Stats {
		t.Helper()
		st, err := srv.QueueStats("license-events/Subscriptions/" + entity)
		require.NoError(t, err)
		return st
	}
	require.Equal(t, 3, stats("licensefix/$DeadLetterQueue").Active)
	require.Zero(t, stats("for-licensefix").Active, "an original is addressed to nobody")

	ep, err := dlq.OpenSubscription(client, "license-events", "licensefix")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ep.Close(context.Background()) })
	assert.Equal(t, "licensefix", ep.ReplayTo)
	rep, err := dlq.Replay(ctx, ep, dlq.ReplayOptions{Filter: dlq.Filter{Reasons: []string{dlq.ReasonUserNotFound}}})
	require.NoError(t, err)
	require.True(t, rep.OK(), rep.String())
	assert.Len(t, rep.Replayed, 2)

	// The GraphRejected one stays in the DLQ (deferred on the way).
	dl, err := client.NewReceiverForSubscription("license-events", "licensefix", &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	require.NoError(t, err)
	left, err := dl.PeekMessages(ctx, 10, nil)
	require.NoError(t, err)
	require.Len(t, left, 1)
	assert.Equal(t, "ev-1", left[0].MessageID)

	// The copies are on the subscription replayed from, and on the one
	// whose rule admits the address, not on the one addressed to audit.
	for _, name := range []string{"licensefix", "for-licensefix"} {
		peek, err := client.NewReceiverForSubscription("license-events", name, nil)
		require.NoError(t, err)
		copies, err := peek.PeekMessages(ctx, 10, nil)
		require.NoError(t, err)
		require.Len(t, copies, 2, name)
		for _, c := range copies {
			assert.Equal(t, "licensefix", c.ApplicationProperties[dlq.PropReplayTo], name)
			assert.Equal(t, "hr", c.ApplicationProperties["origin"], "the copy keeps the properties the subscription's own filter reads")
			assert.EqualValues(t, 1, c.ApplicationProperties[dlq.PropReplayCount])
		}
	}
	assert.Equal(t, sbemu.Stats{}, stats("for-audit"), "a subscription that admits no replay for licensefix gets no copy")
}

// TestReplayFromASubscriptionWithTheReadmeRules: with the SQL rules README
// "Consuming a topic subscription" asks for, on the subscription replayed
// from and on another one, a replay reaches only the first; the other
// keeps exactly its own copies of the originals.
func TestReplayFromASubscriptionWithTheReadmeRules(t *testing.T) {
	t.Parallel()
	p := dlq.PropReplayTo
	cfg, err := sbemu.ParseConfig([]byte(`{"UserConfig": {"Namespaces": [{"Name": "sbemulatorns", "Queues": [], "Topics": [{
	  "Name": "license-events",
	  "Subscriptions": [
	    {"Name": "licensefix", "Rules": [{"Name": "licensefix", "Properties": {"FilterType": "Sql",
	      "SqlFilter": {"SqlExpression": "` + p + ` IS NULL OR ` + p + ` = 'licensefix'"}}}]},
	    {"Name": "audit", "Rules": [{"Name": "no-replays", "Properties": {"FilterType": "Sql",
	      "SqlFilter": {"SqlExpression": "` + p + ` IS NULL"}}}]}
	  ]}]}], "Logging": {"Type": "Console"}}}`))
	require.NoError(t, err)
	h := newHarnessWithConfig(t, cfg)
	client := h.client
	ctx := testCtx(t)
	sender, err := client.NewSender("license-events", nil)
	require.NoError(t, err)
	for i := range 2 {
		id := fmt.Sprintf("ev-%d", i)
		require.NoError(t, sender.SendMessage(ctx, &azservicebus.Message{MessageID: &id,
			Body: []byte(fmt.Sprintf(`{"userId":"user%d@contoso.com"}`, i)), ContentType: ptr("application/json")}, nil))
	}
	rcv, err := client.NewReceiverForSubscription("license-events", "licensefix", nil)
	require.NoError(t, err)
	msgs, err := rcv.ReceiveMessages(ctx, 1, nil)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.NoError(t, rcv.DeadLetterMessage(ctx, msgs[0], &azservicebus.DeadLetterOptions{Reason: ptr(dlq.ReasonUserNotFound)}))
	require.NoError(t, rcv.Close(ctx))

	ep, err := dlq.OpenSubscription(client, "license-events", "licensefix")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ep.Close(context.Background()) })
	rep, err := dlq.Replay(ctx, ep, dlq.ReplayOptions{})
	require.NoError(t, err)
	require.Len(t, rep.Replayed, 1, rep.String())

	ids := func(sub string) []string {
		t.Helper()
		peek, err := client.NewReceiverForSubscription("license-events", sub, nil)
		require.NoError(t, err)
		defer peek.Close(ctx)
		page, err := peek.PeekMessages(ctx, 10, nil)
		require.NoError(t, err)
		var out []string
		for _, m := range page {
			out = append(out, m.MessageID)
		}
		return out
	}
	assert.ElementsMatch(t, []string{"ev-1", rep.Replayed[0].NewMessageID}, ids("licensefix"), "the copy is back on licensefix")
	assert.ElementsMatch(t, []string{"ev-0", "ev-1"}, ids("audit"), "audit keeps its own copies and gets no replay")
}
