package worker

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/licensefix/licensefix/graph"
	"github.com/licensefix/licensefix/pacing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func testGates() *gates {
	cfg := Config{BreakerThreshold: 3, BreakerProbeInterval: 5 * time.Second, ProbeInterval: 30 * time.Second,
		Pacing: pacing.Config{InitialRate: 1000}}.WithDefaults()
	return newGates(cfg, func() time.Time { return t0 })
}

func TestBreakerOpensOnDistinctTransientFailuresOnly(t *testing.T) {
	t.Parallel()
	g := testGates()
	assert.Equal(t, noTransition, g.report(t0, noProbe, "a", graph.KindTransient, 0, 0))
	assert.Equal(t, noTransition, g.report(t0, noProbe, "a", graph.KindTransient, 0, 0), "the same key twice counts once")
	assert.Equal(t, noTransition, g.report(t0, noProbe, "b", graph.KindTransient, 0, 0))
	assert.Equal(t, breakerOpened, g.report(t0, noProbe, "c", graph.KindTransient, 0, 0))
	why, outage, _ := g.state()
	assert.Equal(t, ReadyReasonOutage, why)
	assert.True(t, outage)
	held, _ := g.holding(t0)
	assert.True(t, held, "intake holds while the breaker is open")
}

func TestThrottlingNeverOpensTheBreaker(t *testing.T) {
	t.Parallel()
	g := testGates()
	for i, key := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		now := t0.Add(time.Duration(i) * time.Millisecond)
		assert.Equal(t, noTransition, g.report(now, noProbe, key, graph.KindThrottled, 0, time.Millisecond))
	}
	assert.False(t, g.paused())
	// Throttling in between transient failures clears their count: it
	// proves Graph is up.
	g.report(t0, noProbe, "a", graph.KindTransient, 0, 0)
	g.report(t0, noProbe, "b", graph.KindTransient, 0, 0)
	g.report(t0, noProbe, "x", graph.KindThrottled, 0, 0)
	assert.Equal(t, noTransition, g.report(t0, noProbe, "c", graph.KindTransient, 0, 0))
	assert.False(t, g.paused())
	// And a 429 answering the probe of an open breaker closes it.
	g.forceOutage(t0)
	require.True(t, g.paused())
	ok, probe, _, _ := g.try(t0.Add(5 * time.Second))
	require.True(t, ok)
	require.Equal(t, breakerProbe, probe)
	assert.Equal(t, resumed, g.report(t0.Add(5*time.Second), probe, "p", graph.KindThrottled, 0, 0))
}

func TestBreakerProbe(t *testing.T) {
	t.Parallel()
	g := testGates()
	g.forceOutage(t0)
	ok, _, wait, _ := g.try(t0.Add(time.Second))
	assert.False(t, ok)
	assert.Equal(t, 4*time.Second, wait)
	ok, probe, _, _ := g.try(t0.Add(5 * time.Second))
	require.True(t, ok)
	require.Equal(t, breakerProbe, probe)
	ok, _, wait, _ = g.try(t0.Add(5 * time.Second))
	assert.False(t, ok, "one probe at a time")
	assert.Zero(t, wait, "the second waits for the probe's answer")
	// A failed probe schedules the next one an interval later.
	g.report(t0.Add(6*time.Second), probe, "p", graph.KindTransient, 0, 0)
	ok, _, wait, _ = g.try(t0.Add(6 * time.Second))
	assert.False(t, ok)
	assert.Equal(t, 5*time.Second, wait)
	// A probe that made no call frees the slot.
	ok, probe, _, _ = g.try(t0.Add(11 * time.Second))
	require.True(t, ok)
	g.release(probe)
	ok, _, _, _ = g.try(t0.Add(11*time.Second + 10*time.Millisecond)) // after the next token
	assert.True(t, ok, "the slot is free again")
	// A successful probe closes the breaker and counts the paused time.
	assert.Equal(t, resumed, g.report(t0.Add(12*time.Second), breakerProbe, "p", 0, 0, 0))
	assert.False(t, g.paused())
	assert.Equal(t, 12*time.Second, g.pausedFor(t0.Add(time.Hour)))
}

func TestSystemicPauseReasons(t *testing.T) {
	t.Parallel()
	for kind, want := range map[graph.Kind]string{
		graph.KindForbidden:     ReadyReasonPermissionMissing,
		graph.KindUnauthorized:  ReadyReasonUnauthorized,
		graph.KindMisconfigured: ReadyReasonMisconfigured,
	} {
		g := testGates()
		assert.Equal(t, systemicPaused, g.report(t0, noProbe, "a", kind, 0, 0))
		why, _, systemic := g.state()
		assert.Equal(t, want, why)
		assert.True(t, systemic)
		ok, _, wait, _ := g.try(t0.Add(time.Second))
		assert.False(t, ok)
		assert.Equal(t, 29*time.Second, wait)
		// A 429 to the probe says nothing about permissions: still paused.
		ok, probe, _, _ := g.try(t0.Add(30 * time.Second))
		require.True(t, ok)
		require.Equal(t, pauseProbe, probe)
		g.report(t0.Add(30*time.Second), probe, "a", graph.KindThrottled, 0, 0)
		assert.True(t, g.paused())
		// A success ends the pause.
		assert.Equal(t, resumed, g.report(t0.Add(31*time.Second), noProbe, "a", 0, 0, 0))
		assert.False(t, g.paused())
	}
}

func TestRetryAfterHoldsCallsAndIntake(t *testing.T) {
	t.Parallel()
	g := testGates()
	g.report(t0, noProbe, "a", graph.KindThrottled, 0, 2*time.Second)
	held, _ := g.holding(t0.Add(time.Second))
	assert.True(t, held, "intake takes nothing new during a Retry-After")
	ok, _, wait, _ := g.try(t0.Add(time.Second))
	assert.False(t, ok)
	assert.Equal(t, time.Second, wait)
	held, _ = g.holding(t0.Add(2 * time.Second))
	assert.False(t, held)
}

func TestAcquireReportsTheTimeWaitedOnTheLimiter(t *testing.T) {
	t.Parallel()
	cfg := Config{Pacing: pacing.Config{InitialRate: 20, MaxRate: 20, BurstWindow: time.Nanosecond}}.WithDefaults() // a bucket of one token
	g := newGates(cfg, time.Now)
	stop := make(chan struct{})
	_, waited, err := g.acquire(context.Background(), stop, systemClock{})
	require.NoError(t, err)
	assert.Less(t, waited, 40*time.Millisecond, "the first call leaves at once")
	_, waited, err = g.acquire(context.Background(), stop, systemClock{})
	require.NoError(t, err)
	assert.Greater(t, waited, 20*time.Millisecond, "the second waited for its token (1/20 s)")
	close(stop)
	_, _, err = g.acquire(context.Background(), stop, systemClock{})
	assert.ErrorIs(t, err, errStopping)
}

// countingClock is the system clock counting the timers asked of it.
type countingClock struct {
	systemClock
	timers atomic.Int64
}

func (c *countingClock) After(d time.Duration) <-chan time.Time {
	c.timers.Add(1)
	return c.systemClock.After(d)
}

func TestAcquireWakesOneWaiterPerToken(t *testing.T) {
	t.Parallel()
	cfg := Config{Pacing: pacing.Config{InitialRate: 50, MaxRate: 50, BurstWindow: time.Nanosecond}}.WithDefaults()
	g := newGates(cfg, time.Now)
	clk := &countingClock{}
	stop := make(chan struct{})
	defer close(stop)
	_, _, err := g.acquire(context.Background(), stop, clk)
	require.NoError(t, err)
	const waiters = 8
	var wg sync.WaitGroup
	for range waiters {
		wg.Go(func() {
			_, _, err := g.acquire(context.Background(), stop, clk)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	// Each token lets one waiter go, and only the next in line waits on a
	// timer for it: about one timer per waiter. Waiters that each polled the
	// limiter would ask for one timer per waiter per token, about 36 here.
	assert.LessOrEqual(t, clk.timers.Load(), int64(2*waiters), "timers asked for %d calls", waiters)
}
