package worker_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/graph"
	"github.com/licensefix/licensefix/graph/graphsim"
	"github.com/licensefix/licensefix/retry"
	"github.com/licensefix/licensefix/sbemu"
	"github.com/licensefix/licensefix/worker"
)

// topicConfig is an emulator namespace with the topic license-events and
// two subscriptions that take every message: licensefix, the worker's, and
// audit, another subscriber's.
const topicConfig = `{"UserConfig": {"Namespaces": [{"Name": "sbemulatorns", "Queues": [], "Topics": [{
  "Name": "license-events",
  "Subscriptions": [
    {"Name": "licensefix", "Properties": {"LockDuration": "PT5S", "MaxDeliveryCount": 10}},
    {"Name": "audit", "Properties": {"LockDuration": "PT5S", "MaxDeliveryCount": 10}}
  ]}]}], "Logging": {"Type": "Console"}}}`

// TestIntegrationSubscription runs the worker on a topic subscription
// through the real SDK (NewReceiverForSubscription): the valid messages are
// reprocessed and completed, the invalid one lands in that subscription's
// dead-letter queue, and the other subscription's copies are untouched.
func TestIntegrationSubscription(t *testing.T) {
	t.Parallel()
	cfg, err := sbemu.ParseConfig([]byte(topicConfig))
	require.NoError(t, err)
	sb, err := sbemu.NewServer(&sbemu.Options{TB: t, Config: cfg})
	require.NoError(t, err)
	gs, err := graphsim.NewServer(graphsim.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = gs.Close() })
	client, err := azservicebus.NewClientFromConnectionString(sb.ConnectionString(), testClientOptions())
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = client.Close(ctx)
	})

	// Publish to the topic: every subscription gets a copy of each.
	sender, err := client.NewSender("license-events", nil)
	require.NoError(t, err)
	us := users("sub", 8)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ct := "application/json"
	send := func(id, body string) {
		require.NoError(t, sender.SendMessage(ctx, &azservicebus.Message{MessageID: &id, Body: []byte(body), ContentType: &ct}, nil))
	}
	for _, u := range us {
		send("m-"+u, fmt.Sprintf(`{"userId":%q}`, u))
	}
	send("m-invalid", `{"userId": 42}`)

	recv, err := client.NewReceiverForSubscription("license-events", "licensefix", nil)
	require.NoError(t, err)
	gc, err := graph.New(graph.Config{RootURL: gs.URL, Auth: graph.AuthNone, Timeout: 5 * time.Second})
	require.NoError(t, err)
	logs := &syncBuffer{t: t}
	w, err := worker.New(worker.Config{
		Concurrency: 4, ShutdownTimeout: 3 * time.Second, ReceiveWait: time.Second, ReceiveRetryInterval: 50 * time.Millisecond,
		Retry: retry.Policy{InitialInterval: 10 * time.Millisecond, MaxInterval: 100 * time.Millisecond, MaxElapsed: time.Minute},
	}, worker.Deps{Receiver: recv, Graph: gc, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		<-done
		if t.Failed() {
			t.Log(logs.String())
		}
	})

	const sub, other = "license-events/Subscriptions/licensefix", "license-events/Subscriptions/audit"
	require.Eventually(t, func() bool {
		s, err := sb.QueueStats(sub)
		d, derr := sb.QueueStats(sub + "/$DeadLetterQueue")
		return err == nil && derr == nil && s.Active+s.Locked == 0 && d.Active == 1
	}, 20*time.Second, 10*time.Millisecond, "the worker settles its subscription")
	for _, u := range us {
		assert.Equal(t, 1, gs.Calls(u), u)
	}
	// The emulator sees a completion before the worker logs it.
	assert.Eventually(t, func() bool { return len(logs.lines("message completed")) == len(us) }, 5*time.Second, 10*time.Millisecond,
		"one completed line per user")

	// The invalid message is in this subscription's DLQ, as InvalidMessage.
	dl, err := client.NewReceiverForSubscription("license-events", "licensefix", &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	require.NoError(t, err)
	msgs, err := dl.PeekMessages(ctx, 10, nil)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	assert.Equal(t, "m-invalid", msgs[0].MessageID)
	require.NotNil(t, msgs[0].DeadLetterReason)
	assert.Equal(t, string(worker.ReasonInvalidMessage), *msgs[0].DeadLetterReason)

	// The other subscription still holds every copy, none delivered, none
	// dead-lettered.
	st, err := sb.QueueStats(other)
	require.NoError(t, err)
	assert.Equal(t, sbemu.Stats{Active: len(us) + 1}, st)
	odl, err := sb.QueueStats(other + "/$DeadLetterQueue")
	require.NoError(t, err)
	assert.Equal(t, sbemu.Stats{}, odl)
	peeker, err := client.NewReceiverForSubscription("license-events", "audit", nil)
	require.NoError(t, err)
	copies, err := peeker.PeekMessages(ctx, 20, nil)
	require.NoError(t, err)
	var ids []string
	for _, m := range copies {
		ids = append(ids, m.MessageID)
	}
	want := []string{"m-invalid"}
	for _, u := range us {
		want = append(want, "m-"+u)
	}
	assert.ElementsMatch(t, want, ids)
}
