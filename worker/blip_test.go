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
// is given up before the message's lock expires, counted as lock lost, and
// the redelivery is completed from the remembered success without a second
// Graph call.
func TestIntegrationSettlementAfterCutIsLockLost(t *testing.T) {
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

	require.Eventually(t, func() bool { return h.metric(lockLostSample()) == 1 }, 20*time.Second, 5*time.Millisecond)
	lostAt := time.Now()
	assert.True(t, lostAt.Before(lockedUntil), "settlement given up at %s, not after the lock (until %s)", lostAt, lockedUntil)
	assert.Zero(t, h.metric(`licensefix_settle_errors_total`), "a dead link is a lost lock, not a settlement failure")
	assert.Positive(t, h.metric(`licensefix_servicebus_errors_total{cause="connection_lost",op="settle"}`))

	require.Eventually(t, func() bool { return h.metric(coalescedSample()) == 1 }, 30*time.Second, 10*time.Millisecond)
	assert.Equal(t, 1, h.gs.Calls(user), "the redelivery makes no second Graph call")
	require.Eventually(t, func() bool { s := h.stats(); return s.Active == 0 && s.Locked == 0 }, 10*time.Second, 10*time.Millisecond)
	h.requireNoDeadLetters()
	require.NoError(t, h.stop())
}

// Connection cuts every few hundred milliseconds at concurrency 2: every
// message is settled in the end, none is lost, and at most one Graph call
// is repeated.
func TestIntegrationConnectionCuts(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{viaProxy: true, config: func(c *worker.Config) {
		c.Concurrency = 2
		c.Pacing = pacing.Config{InitialRate: 200}
	}})
	h.gs.SetLatency(10 * time.Millisecond)
	us := users("cuts", 80)
	h.sendUsers(us...)
	h.start()
	stop := make(chan struct{})
	cutterDone := make(chan struct{})
	go func() {
		defer close(cutterDone)
		tick := time.NewTicker(400 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				h.proxy.Cut()
			}
		}
	}()
	done := func() float64 { return h.metric(completedSample()) + h.metric(coalescedSample()) }
	require.Eventually(t, func() bool { return done() >= float64(len(us)) }, 90*time.Second, 20*time.Millisecond,
		"settled %v of %d", done(), len(us))
	close(stop)
	<-cutterDone
	require.Eventually(t, func() bool { s := h.stats(); return s.Active == 0 && s.Locked == 0 }, 20*time.Second, 10*time.Millisecond)
	assert.Positive(t, h.proxy.Stats().Cut)
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
