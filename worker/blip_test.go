package worker_test

import (
	"testing"
	"time"

	"github.com/licensefix/licensefix/graph/graphsim"
	"github.com/licensefix/licensefix/pacing"
	"github.com/licensefix/licensefix/worker"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func coalescedSample() string { return `licensefix_messages_total{outcome="coalesced",reason=""}` }

func lockLostSample() string { return `licensefix_messages_total{outcome="lock_lost",reason=""}` }

// A settlement on a connection that was cut while the call was in flight
// is made again by lock token on $management before the message's lock
// expires: the message is completed at once, after one Graph call, and
// not redelivered.
func TestIntegrationSettlementAfterCutByLockToken(t *testing.T) {
	t.Parallel()
	lock := 6 * time.Second
	h := newHarness(t, harnessOptions{lockDuration: lock, viaProxy: true})
	user := "cut@contoso.com"
	h.gs.Script(user, graphsim.Response{Delay: 500 * time.Millisecond})
	h.sendUsers(user)
	h.start()
	require.Eventually(t, func() bool { return h.gs.Calls(user) == 1 }, 10*time.Second, 2*time.Millisecond)
	lockedUntil := h.recv.lockedUntil("m-" + user)
	require.Positive(t, h.proxy.Cut())

	require.Eventually(t, func() bool { return h.metric(completedSample()) == 1 }, 20*time.Second, 5*time.Millisecond)
	doneAt := time.Now()
	assert.True(t, doneAt.Before(lockedUntil), "completed at %s, not after the lock (until %s)", doneAt, lockedUntil)
	assert.Equal(t, 1.0, h.metric(`licensefix_settled_by_lock_token_total`))
	assert.Zero(t, h.metric(`licensefix_settle_errors_total`))
	assert.Zero(t, h.metric(lockLostSample()))
	assert.Positive(t, h.metric(`licensefix_servicebus_errors_total{cause="connection_lost",op="settle"}`))
	require.Eventually(t, func() bool { s := h.stats(); return s.Active == 0 && s.Locked == 0 }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, 1, h.gs.Calls(user), "one Graph call")
	assert.Zero(t, h.metric(coalescedSample()), "no redelivery")
	h.requireNoDeadLetters()
	require.NoError(t, h.stop())
}

// Connection cuts every second at concurrency 2 (the chaos suite cuts
// every 5s over 300 messages): every message is settled in the end, none
// is lost, and at most one Graph call is repeated.
func TestIntegrationConnectionCuts(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{viaProxy: true, config: func(c *worker.Config) {
		c.Concurrency = 2
		c.Pacing = pacing.Config{InitialRate: 20, MaxRate: 20} // about 20 messages held: several cuts land mid-run
	}})
	h.gs.SetLatency(20 * time.Millisecond)
	us := users("cuts", 50)
	h.sendUsers(us...)
	h.start()
	done := func() float64 { return h.metric(completedSample()) + h.metric(coalescedSample()) }
	const cuts = 4
	for i := range cuts {
		// A cut once some work has been done since the last one.
		want := float64(2 + i*10)
		require.Eventually(t, func() bool { return done() >= want }, 30*time.Second, 5*time.Millisecond,
			"settled %v, waiting for %v before cut %d", done(), want, i+1)
		if done() >= float64(len(us)) {
			break
		}
		require.Positive(t, h.proxy.Cut())
		time.Sleep(time.Second)
	}
	// Drained: nothing left in the queue or held. (A settlement given up
	// as lock lost may still have reached the broker before the cut, so
	// the outcome counters can fall one short; the queue tells.)
	allCalled := func() bool {
		for _, u := range us {
			if h.gs.Calls(u) == 0 {
				return false
			}
		}
		return true
	}
	if !assert.Eventually(t, func() bool {
		s := h.stats()
		return s.Active == 0 && s.Locked == 0 && h.metric("licensefix_messages_in_flight") == 0 && allCalled()
	}, 60*time.Second, 20*time.Millisecond) {
		t.Fatalf("settled %v of %d; queue %+v; held %v", done(), len(us), h.stats(), h.metric("licensefix_messages_in_flight"))
	}
	assert.GreaterOrEqual(t, done(), float64(len(us)-cuts), "completed or coalesced")
	duplicates := 0
	for _, u := range us {
		n := h.gs.Calls(u)
		require.Positive(t, n, u)
		duplicates += n - 1
	}
	assert.LessOrEqual(t, duplicates, 1, "Graph calls repeated")
	h.requireNoDeadLetters()
	require.NoError(t, h.stop())
	t.Logf("cuts=%d lock_lost=%v coalesced=%v", h.proxy.Stats().Cut, h.metric(lockLostSample()), h.metric(coalescedSample()))
}
