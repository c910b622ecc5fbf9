package worker

import (
	"context"
	"testing"
	"time"

	"github.com/licensefix/licensefix/retry"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func TestGateThrottle(t *testing.T) {
	t.Parallel()
	g := newGate(5, time.Second, 30*time.Second)
	d, _ := g.decide(at(0))
	require.True(t, d.proceed)
	require.False(t, d.probe)

	// A 429 with Retry-After 2s holds back every call until it has passed.
	g.report(at(0), false, callResult{class: retry.Transient, status: 429, retryAfter: 2 * time.Second, key: "a"})
	d, _ = g.decide(at(500 * time.Millisecond))
	assert.False(t, d.proceed)
	assert.Equal(t, 1500*time.Millisecond, d.wait)
	// A shorter Retry-After never shortens the gate.
	g.report(at(time.Second), false, callResult{class: retry.Transient, status: 429, retryAfter: 100 * time.Millisecond, key: "b"})
	d, _ = g.decide(at(1900 * time.Millisecond))
	assert.False(t, d.proceed)
	d, _ = g.decide(at(2 * time.Second))
	assert.True(t, d.proceed)
	// A 503's Retry-After is per message only.
	g.report(at(2*time.Second), false, callResult{class: retry.Transient, status: 503, retryAfter: time.Minute, key: "c"})
	d, _ = g.decide(at(2 * time.Second))
	assert.True(t, d.proceed)
}

func TestGateBreakerTransitions(t *testing.T) {
	t.Parallel()
	transient := func(key string) callResult { return callResult{class: retry.Transient, status: 503, key: key} }
	tests := []struct {
		name   string
		steps  func(g *gate) transition
		want   transition
		paused pauseKind
	}{
		{"one message failing repeatedly stays closed", func(g *gate) transition {
			var tr transition
			for range 10 {
				tr = g.report(at(0), false, transient("a"))
			}
			return tr
		}, noTransition, notPaused},
		{"three distinct messages open it", func(g *gate) transition {
			g.report(at(0), false, transient("a"))
			g.report(at(0), false, transient("b"))
			return g.report(at(0), false, transient("c"))
		}, breakerOpened, pausedOutage},
		{"a success in between resets the run", func(g *gate) transition {
			g.report(at(0), false, transient("a"))
			g.report(at(0), false, transient("b"))
			g.report(at(0), false, callResult{key: "x"})
			return g.report(at(0), false, transient("c"))
		}, noTransition, notPaused},
		{"a permanent answer shows Graph works", func(g *gate) transition {
			g.report(at(0), false, transient("a"))
			g.report(at(0), false, transient("b"))
			g.report(at(0), false, callResult{class: retry.Permanent, status: 404, key: "x"})
			return g.report(at(0), false, transient("c"))
		}, noTransition, notPaused},
		{"a success closes an open breaker", func(g *gate) transition {
			g.report(at(0), false, transient("a"))
			g.report(at(0), false, transient("b"))
			g.report(at(0), false, transient("c"))
			return g.report(at(time.Second), true, callResult{key: "a"})
		}, resumed, notPaused},
		{"403 pauses for a systemic failure", func(g *gate) transition {
			return g.report(at(0), false, callResult{class: retry.Systemic, status: 403, key: "a"})
		}, systemicPaused, pausedSystemic},
		{"transient failures during a systemic pause keep it systemic", func(g *gate) transition {
			g.report(at(0), false, callResult{class: retry.Systemic, status: 401, key: "a"})
			g.report(at(0), false, transient("b"))
			g.report(at(0), false, transient("c"))
			return g.report(at(0), false, transient("d"))
		}, noTransition, pausedSystemic},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newGate(3, time.Second, 30*time.Second)
			assert.Equal(t, tc.want, tc.steps(g))
			k, _ := g.state()
			assert.Equal(t, tc.paused, k)
		})
	}
}

func TestGateProbe(t *testing.T) {
	t.Parallel()
	g := newGate(1, time.Second, 30*time.Second)
	require.Equal(t, breakerOpened, g.report(at(0), false, callResult{class: retry.Transient, status: 503, key: "a"}))
	paused, _ := g.intakeWait()
	require.True(t, paused)

	// No probe before the probe interval.
	d, _ := g.decide(at(500 * time.Millisecond))
	require.False(t, d.proceed)
	require.Equal(t, 500*time.Millisecond, d.wait)
	// Exactly one probe at a time.
	d, _ = g.decide(at(time.Second))
	require.True(t, d.proceed)
	require.True(t, d.probe)
	d, _ = g.decide(at(time.Second))
	require.False(t, d.proceed)
	require.Zero(t, d.wait, "waits for the probe's result, not a timer")
	// A failed probe schedules the next one.
	g.report(at(2*time.Second), true, callResult{class: retry.Transient, status: 503, key: "a"})
	d, _ = g.decide(at(2 * time.Second))
	require.False(t, d.proceed)
	require.Equal(t, time.Second, d.wait)
	d, _ = g.decide(at(3 * time.Second))
	require.True(t, d.probe)
	// A probe that made no call frees the slot.
	g.releaseProbe()
	d, _ = g.decide(at(3 * time.Second))
	require.True(t, d.probe)
	// Its success resumes everyone.
	require.Equal(t, resumed, g.report(at(4*time.Second), true, callResult{key: "a"}))
	d, _ = g.decide(at(4 * time.Second))
	require.True(t, d.proceed)
	require.False(t, d.probe)
	assert.Equal(t, 4*time.Second, g.pausedFor(at(10*time.Second)))
}

func TestGateSystemicReasons(t *testing.T) {
	t.Parallel()
	for status, want := range map[int]string{403: ReadyReasonPermissionMissing, 401: ReadyReasonUnauthorized, 307: ReadyReasonMisconfigured} {
		g := newGate(5, time.Second, 30*time.Second)
		g.report(at(0), false, callResult{class: retry.Systemic, status: status})
		_, why := g.state()
		assert.Equal(t, want, why, "status %d", status)
		// The systemic probe uses ProbeInterval.
		d, _ := g.decide(at(29 * time.Second))
		assert.False(t, d.proceed)
		d, _ = g.decide(at(30 * time.Second))
		assert.True(t, d.probe)
	}
}

func TestBudgetExcludesPausedTime(t *testing.T) {
	t.Parallel()
	g := newGate(1, time.Second, time.Second)
	b := budget{max: 10 * time.Second}
	b.begin(at(0), g.pausedFor(at(0)))
	assert.Equal(t, 4*time.Second, b.active(at(4*time.Second), g.pausedFor(at(4*time.Second))))

	// Paused from 4s to 104s: those 100s do not count.
	g.report(at(4*time.Second), false, callResult{class: retry.Transient, status: 503, key: "a"})
	assert.Equal(t, 4*time.Second, b.active(at(50*time.Second), g.pausedFor(at(50*time.Second))))
	g.report(at(104*time.Second), true, callResult{key: "a"})
	now := at(107 * time.Second)
	assert.Equal(t, 7*time.Second, b.active(now, g.pausedFor(now)))
	assert.False(t, b.exceeded(now, g.pausedFor(now), 3*time.Second))
	assert.True(t, b.exceeded(now, g.pausedFor(now), 3*time.Second+1))

	// begin is idempotent; restart forgets.
	b.begin(now, g.pausedFor(now))
	assert.Equal(t, 7*time.Second, b.active(now, g.pausedFor(now)))
	b.restart()
	b.begin(now, g.pausedFor(now))
	assert.Zero(t, b.active(now, g.pausedFor(now)))
}

func TestGateAcquireWaitsForRetryAfter(t *testing.T) {
	t.Parallel()
	g := newGate(5, time.Second, time.Second)
	start := time.Now()
	g.report(start, false, callResult{class: retry.Transient, status: 429, retryAfter: 150 * time.Millisecond, key: "a"})
	probe, err := g.acquire(context.Background(), nil, systemClock{})
	require.NoError(t, err)
	require.False(t, probe)
	require.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)

	// Shutdown and cancellation end the wait.
	g.report(time.Now(), false, callResult{class: retry.Transient, status: 429, retryAfter: time.Hour, key: "a"})
	stopping := make(chan struct{})
	close(stopping)
	_, err = g.acquire(context.Background(), stopping, systemClock{})
	require.ErrorIs(t, err, errStopping)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = g.acquire(ctx, nil, systemClock{})
	require.ErrorIs(t, err, context.Canceled)
}

func TestRenewWait(t *testing.T) {
	t.Parallel()
	assert.Equal(t, 15*time.Second, renewWait(at(0), at(30*time.Second)))
	assert.Equal(t, minRenewWait, renewWait(at(0), at(0)))
	assert.Equal(t, minRenewWait, renewWait(at(time.Minute), at(0)))
}
