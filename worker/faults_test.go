package worker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/licensefix/licensefix/graph"
	"github.com/licensefix/licensefix/graph/graphsim"
	"github.com/licensefix/licensefix/worker"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIntegrationLockLostMidCall(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{lockDuration: 2 * time.Second})
	h.gs.Script("slow@contoso.com", graphsim.Response{Delay: 3 * time.Second})
	h.sendUsers("slow@contoso.com")
	h.start()
	require.Eventually(t, func() bool { return h.gs.Calls("slow@contoso.com") == 1 }, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, h.sb.ExpireLock(queueName, h.recv.token("m-slow@contoso.com")))

	// The first delivery is never settled; the redelivery is processed.
	require.Eventually(t, func() bool { return h.metric("licensefix_lock_losses_total") == 1 }, 10*time.Second, 10*time.Millisecond)
	h.waitCompleted(1, 20*time.Second)
	assert.EqualValues(t, 1, h.metric(`licensefix_messages_total{outcome="lock_lost",reason=""}`))
	require.NoError(t, h.stop())
	lost := h.logs.lines("message lock lost; not settled")
	require.Len(t, lost, 1)
	assert.EqualValues(t, 1, lost[0]["delivery_count"])
	done := h.logs.lines("message completed")
	require.Len(t, done, 1)
	assert.EqualValues(t, 2, done[0]["delivery_count"])
	assert.Equal(t, 2, h.gs.Calls("slow@contoso.com"))
	h.requireNoDeadLetters()
}

func TestIntegrationConnectionDropped(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{config: func(c *worker.Config) { c.Concurrency = 4 }})
	h.gs.SetLatency(100 * time.Millisecond)
	us := users("drop", 16)
	h.sendUsers(us...)
	h.start()
	h.waitCompleted(2, 20*time.Second)
	h.sb.DropConnections()
	// Every message ends up completed once the SDK has reconnected; a
	// settlement lost with the connection is simply redone after the lock.
	require.Eventually(t, func() bool {
		s := h.stats()
		return s.Active == 0 && s.Locked == 0
	}, 30*time.Second, 20*time.Millisecond)
	for _, u := range us {
		// A redelivery of a message whose call had succeeded is covered
		// by the remembered success: no second Graph call.
		assert.Equal(t, 1, h.gs.Calls(u), u)
	}
	done := h.metric(completedSample()) + h.metric(`licensefix_messages_total{outcome="coalesced",reason=""}`)
	assert.GreaterOrEqual(t, done, float64(len(us)))
	h.requireNoDeadLetters()
	require.NoError(t, h.stop())
}

func TestIntegrationLinkDetached(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{config: func(c *worker.Config) { c.Concurrency = 4 }})
	h.gs.SetLatency(50 * time.Millisecond)
	us := users("detach", 12)
	h.sendUsers(us...)
	h.start()
	h.waitCompleted(2, 20*time.Second)
	require.Positive(t, h.sb.DetachLinks(queueName, "amqp:link:detach-forced", "test detach"))
	require.Eventually(t, func() bool {
		s := h.stats()
		return s.Active == 0 && s.Locked == 0
	}, 30*time.Second, 20*time.Millisecond)
	for _, u := range us {
		assert.GreaterOrEqual(t, h.gs.Calls(u), 1, u)
	}
	h.requireNoDeadLetters()
	require.NoError(t, h.stop())
}

func TestIntegrationQueueNotFoundIsFatal(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	recv, err := h.client.NewReceiverForQueue("no-such-queue", nil)
	require.NoError(t, err)
	gc, err := graph.New(graph.Config{RootURL: h.gs.URL, Auth: graph.AuthNone})
	require.NoError(t, err)
	w, err := worker.New(worker.Config{}, worker.Deps{Receiver: recv, Graph: gc, Logger: h.logger})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = w.Run(ctx)
	var fe *worker.FatalError
	require.True(t, errors.As(err, &fe), "got %v", err)
	assert.Equal(t, azservicebus.CodeNotFound, fe.Code)
	require.NoError(t, ctx.Err(), "failed fast, not by timeout")
}
