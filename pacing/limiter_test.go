package pacing

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg   Config
		field string
	}{
		{Config{MaxRate: -1}, "MaxRate"},
		{Config{MaxRate: math.NaN()}, "MaxRate"},
		{Config{InitialRate: 0.01}, "InitialRate"},
		{Config{ThrottleFactor: 1}, "ThrottleFactor"},
		{Config{MinRate: -1}, "MinRate"},
		{Config{CutInterval: -time.Second}, "CutInterval"},
		{Config{BurstWindow: -time.Second}, "BurstWindow"},
	} {
		err := tc.cfg.WithDefaults().Validate()
		var ce *ConfigError
		require.ErrorAs(t, err, &ce, "%+v", tc.cfg)
		require.Equal(t, tc.field, ce.Field)
	}
	require.NoError(t, Config{}.WithDefaults().Validate())
	require.Panics(t, func() { New(Config{MaxRate: -1}, t0) })
}

func TestTakeSpacesCallsAtTheRate(t *testing.T) {
	t.Parallel()
	l := New(Config{InitialRate: 4}, t0)
	ok, _ := l.Take(t0)
	require.True(t, ok, "the first call leaves at once")
	ok, wait := l.Take(t0)
	require.False(t, ok)
	require.InDelta(t, 250*time.Millisecond, wait, float64(time.Millisecond))
	ok, _ = l.Take(t0.Add(250 * time.Millisecond))
	require.True(t, ok)
}

func TestBucketHoldsTheTokensOfTheBurstWindow(t *testing.T) {
	t.Parallel()
	takeAll := func(l *Limiter, at time.Time) int {
		n := 0
		for range 64 {
			if ok, _ := l.Take(at); ok {
				n++
			}
		}
		return n
	}
	l := New(Config{InitialRate: 40}, t0)
	require.Equal(t, 4, l.Burst(), "100ms of 40 calls/s")
	require.Equal(t, 4, takeAll(l, t0), "callers that come together leave together, up to the burst")
	require.Equal(t, 2, takeAll(l, t0.Add(50*time.Millisecond)), "then at the rate")
	require.Equal(t, 4, takeAll(l, t0.Add(time.Second)), "an idle limiter stores up one burst, no more")

	l.OnThrottled(t0.Add(2*time.Second), 0)
	require.Equal(t, 2, l.Burst(), "the bucket follows the rate down")

	l = New(Config{InitialRate: 40, BurstWindow: time.Nanosecond}, t0)
	require.Equal(t, 1, l.Burst(), "a bucket holds at least one token")
	require.Equal(t, 1, takeAll(l, t0))
}

func TestMaxRateCapsEverything(t *testing.T) {
	t.Parallel()
	l := New(Config{InitialRate: 50, MaxRate: 3}, t0)
	require.Equal(t, 3.0, l.Rate(), "the initial rate is capped")
	now := t0
	for range 1000 {
		l.Take(now)
		l.OnSuccess(now, 0)
		now = now.Add(10 * time.Millisecond)
	}
	require.Equal(t, 3.0, l.Rate())
}

// saturate makes the limiter the bottleneck at now.
func saturate(l *Limiter, now time.Time) {
	l.Take(now)
	l.Take(now)
}

func TestSlowStartGrowsUntilTheFirstSignalThenHalves(t *testing.T) {
	t.Parallel()
	l := New(Config{InitialRate: 10}, t0)
	saturate(l, t0)
	for range 10 {
		l.OnSuccess(t0, 0)
	}
	require.Equal(t, SlowStart, l.Phase())
	require.InDelta(t, 10+10*DefaultSlowStartGain, l.Rate(), 1e-9)
	l.OnSuccess(t0, 0.85)
	require.Equal(t, Steady, l.Phase())
	require.InDelta(t, (10+10*DefaultSlowStartGain)*slowStartExitFactor, l.Rate(), 1e-9)
}

func TestAdditiveIncreaseOnlyWhileSaturated(t *testing.T) {
	t.Parallel()
	l := New(Config{InitialRate: 10}, t0)
	l.OnThrottled(t0, time.Millisecond) // leave slow start: 5/s
	require.InDelta(t, 5, l.Rate(), 1e-9)
	now := t0.Add(time.Second)
	saturate(l, now)
	// Rate successes in one second add Increase calls/s.
	for range 5 {
		l.OnSuccess(now, 0)
	}
	require.InDelta(t, 5+DefaultIncrease, l.Rate(), 0.3) // each step is Increase/rate of a rate that grows
	before := l.Rate()
	// Nobody waited for the limiter lately: no growth.
	l.OnSuccess(now.Add(time.Minute), 0)
	require.Equal(t, before, l.Rate())
}

func TestGradedDecreaseOncePerIntervalAndOnlyWhileRising(t *testing.T) {
	t.Parallel()
	l := New(Config{InitialRate: 20}, t0)
	l.OnSuccess(t0, 0.81) // leaves slow start: 10/s
	require.InDelta(t, 10, l.Rate(), 1e-9)
	at := t0.Add(DefaultCutInterval)
	l.OnSuccess(at, 0.9) // usage climbing: cut by 2×0.1
	require.InDelta(t, 8, l.Rate(), 1e-9)
	l.OnSuccess(at, 0.95) // same interval: no second cut
	require.InDelta(t, 8, l.Rate(), 1e-9)
	l.OnSuccess(at.Add(DefaultCutInterval), 0.85) // usage falling after a cut: wait
	require.InDelta(t, 8, l.Rate(), 1e-9)
	l.OnSuccess(at.Add(4*DefaultCutInterval), 0.85) // still high after long: cut 10 %
	require.InDelta(t, 7.2, l.Rate(), 1e-9)
	l.OnSuccess(at.Add(5*DefaultCutInterval), 1.8) // far over: cut at most by half
	require.InDelta(t, 3.6, l.Rate(), 1e-9)
}

func TestThrottledHoldsEveryoneAndHalvesOnce(t *testing.T) {
	t.Parallel()
	l := New(Config{InitialRate: 40}, t0)
	for range 16 { // sixteen 429s answered together
		l.OnThrottled(t0, 1500*time.Millisecond)
	}
	require.InDelta(t, 20, l.Rate(), 1e-9, "one halving for one congestion event")
	until, held := l.Held(t0.Add(time.Second))
	require.True(t, held)
	require.Equal(t, t0.Add(1500*time.Millisecond), until)
	ok, wait := l.Take(t0.Add(time.Second))
	require.False(t, ok)
	require.Equal(t, 500*time.Millisecond, wait)

	// No Retry-After: the default hold.
	l.OnThrottled(t0.Add(time.Second), 0)
	_, held = l.Held(t0.Add(time.Second + DefaultRetryAfter - time.Millisecond))
	require.True(t, held)
}

func TestAfterRetryAfterCallsLeaveOneTokenAtATime(t *testing.T) {
	t.Parallel()
	l := New(Config{InitialRate: 40}, t0)
	l.OnThrottled(t0, time.Second) // 20/s from now, held for 1s
	end := t0.Add(time.Second)
	// Sixty-four callers wake at the end of the hold: exactly one leaves.
	left := 0
	for range 64 {
		if ok, _ := l.Take(end); ok {
			left++
		}
	}
	require.Equal(t, 1, left)
	// Each later token lets exactly one more leave, 1/rate apart.
	for i := 1; i <= 10; i++ {
		at := end.Add(time.Duration(i) * 50 * time.Millisecond)
		left = 0
		for range 64 {
			if ok, _ := l.Take(at); ok {
				left++
			}
		}
		require.Equal(t, 1, left, "token %d", i)
	}
}

func TestPoolKeepsOneLimiterPerKey(t *testing.T) {
	t.Parallel()
	p := NewPool(Config{InitialRate: 10}, func() time.Time { return t0 })
	a := p.For("")
	require.Same(t, a, p.For(""))
	b := p.For("tenant-b")
	require.NotSame(t, a, b)
	a.OnThrottled(t0, time.Second)
	require.InDelta(t, 10, b.Rate(), 1e-9, "keys do not share state")
	require.ElementsMatch(t, []string{"", "tenant-b"}, p.Keys())
}
