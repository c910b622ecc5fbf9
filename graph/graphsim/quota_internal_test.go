package graphsim

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var q0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// at is an offset from q0.
func at(d time.Duration) time.Time { return q0.Add(d) }

func TestQuotaBurstThenThrottleWithDebt(t *testing.T) {
	t.Parallel()
	b := newQuotaBucket(Quota{Rate: 10}, q0)
	require.InDelta(t, 10.0, b.q.Burst, 0, "default burst is one second's worth")
	for i := range 10 {
		ok, _, _ := b.charge(q0)
		require.True(t, ok, "call %d of the burst", i)
	}
	ok, _, wait := b.charge(q0)
	require.False(t, ok)
	assert.InDelta(t, -1.0, b.balance, 1e-9, "the throttled call was charged")
	assert.Equal(t, 200*time.Millisecond, wait, "two tokens short at 10/s")
	assert.Equal(t, "0.2", formatRetryAfter(wait))

	// Hammering while throttled deepens the debt down to the floor.
	for range 500 {
		ok, _, _ = b.charge(q0)
		require.False(t, ok)
	}
	assert.InDelta(t, -QuotaDebtBursts*10.0, b.balance, 1e-9)
	_, _, wait = b.charge(q0)
	assert.Equal(t, 10100*time.Millisecond, wait, "101 tokens short at 10/s")
	st := b.stats(q0)
	assert.Equal(t, QuotaStats{Enabled: true, Rate: 10, Burst: 10, Balance: -100,
		Calls: 512, Accepted: 10, Throttled: 502}, st)
}

func TestQuotaRetryAfterIsTheTimeToOneToken(t *testing.T) {
	t.Parallel()
	b := newQuotaBucket(Quota{Rate: 4, Burst: 2}, q0)
	b.charge(q0)
	b.charge(q0)
	ok, _, wait := b.charge(at(100 * time.Millisecond)) // 0.4 tokens earned, -0.6 after the charge
	require.False(t, ok)
	assert.Equal(t, 400*time.Millisecond, wait, "1.6 tokens at 4/s")
	assert.Equal(t, "0.4", formatRetryAfter(wait))
	assert.Less(t, b.stats(at(499*time.Millisecond)).Balance, 1.0, "a millisecond early is not enough")
	ok, _, _ = b.charge(at(500 * time.Millisecond))
	assert.True(t, ok, "waiting exactly Retry-After finds a whole token")
}

func TestQuotaRefillCapsAtBurst(t *testing.T) {
	t.Parallel()
	b := newQuotaBucket(Quota{Rate: 5, Burst: 3}, q0)
	for range 3 {
		b.charge(q0)
	}
	assert.InDelta(t, 0.0, b.stats(q0).Balance, 1e-9)
	assert.InDelta(t, 2.5, b.stats(at(500*time.Millisecond)).Balance, 1e-9)
	assert.InDelta(t, 3.0, b.stats(at(time.Hour)).Balance, 1e-9, "never above Burst")
	// A clock that goes back earns nothing and breaks nothing.
	assert.InDelta(t, 3.0, b.stats(q0).Balance, 1e-9)
}

func TestQuotaUsage(t *testing.T) {
	t.Parallel()
	b := newQuotaBucket(Quota{Rate: 10}, q0)
	var usages []float64
	for range 12 {
		_, u, _ := b.charge(q0)
		usages = append(usages, u)
	}
	want := []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2}
	assert.InDeltaSlice(t, want, usages, 1e-9, "(Burst - balance after the charge) / Burst")
	for range 100 {
		b.charge(q0)
	}
	_, u, _ := b.charge(q0)
	assert.InDelta(t, 1.8, u, 1e-9, "clamped at 1.8")
}

func TestQuotaSteps(t *testing.T) {
	t.Parallel()
	q := Quota{Rate: 10, Steps: []QuotaStep{{At: time.Second, Rate: 5}, {At: 2 * time.Second, Rate: 20}}}
	require.NoError(t, q.Validate())
	b := newQuotaBucket(q, q0)
	for range 20 {
		b.charge(q0) // 10 accepted, 10 throttled: balance -10
	}
	require.InDelta(t, -10.0, b.balance, 1e-9)
	// 11 tokens short: 10 in the first second at 10/s, the last at 5/s.
	assert.Equal(t, 1200*time.Millisecond, b.timeToToken())
	assert.InDelta(t, 2.5, b.stats(at(1500*time.Millisecond)).Balance, 1e-9, "10 + 0.5 s × 5")
	assert.InDelta(t, 5.0, b.stats(at(1500*time.Millisecond)).Rate, 0)
	assert.InDelta(t, 20.0, b.stats(at(2*time.Second)).Rate, 0, "a step applies from its offset")
	assert.InDelta(t, 5.0, b.stats(at(2*time.Second)).Balance, 1e-9, "2.5 + 0.5 s × 5")
	assert.InDelta(t, 9.0, b.stats(at(2200*time.Millisecond)).Balance, 1e-9, "5 + 0.2 s × 20")
	assert.InDelta(t, 10.0, b.stats(at(3*time.Second)).Balance, 1e-9)
	assert.Equal(t, 3*time.Second, b.stats(at(3*time.Second)).Elapsed)

	// A wait that crosses a step is computed along the schedule: at 0.5 s
	// after the first step, 1.6 s in, debt of 10 needs 11 tokens at 5/s for
	// 0.4 s (2 tokens), then 9 at 20/s.
	b = newQuotaBucket(q, q0)
	now := at(1600 * time.Millisecond)
	for b.stats(now).Balance > -10+1e-9 {
		b.charge(now)
	}
	assert.Equal(t, 400*time.Millisecond+450*time.Millisecond, b.timeToToken())
}

func TestQuotaWaitIsCapped(t *testing.T) {
	t.Parallel()
	b := newQuotaBucket(Quota{Rate: 1e-9, Burst: 1}, q0)
	b.charge(q0)
	_, _, wait := b.charge(q0)
	assert.Equal(t, maxQuotaWait, wait)
	assert.Equal(t, "86400", formatRetryAfter(wait))
}

func TestFormatRetryAfter(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0: "0.001", -time.Second: "0.001", time.Nanosecond: "0.001", 350 * time.Millisecond: "0.35",
		100 * time.Millisecond: "0.1", 2128 * time.Millisecond: "2.128", 2 * time.Second: "2",
		time.Second + time.Microsecond: "1.001", 10100 * time.Millisecond: "10.1",
	} {
		assert.Equal(t, want, formatRetryAfter(d), "%v", d)
	}
}

func TestQuotaValidate(t *testing.T) {
	t.Parallel()
	ok := []Quota{{}, {Rate: 0.5}, {Rate: 40, Burst: 1}, {Rate: 40, Steps: []QuotaStep{{At: time.Second, Rate: 1}, {At: 2 * time.Second, Rate: 2}}}}
	for _, q := range ok {
		assert.NoError(t, q.Validate(), "%+v", q)
	}
	bad := map[string]Quota{
		"rate -1":          {Rate: -1},
		"rate NaN":         {Rate: math.NaN()},
		"rate must be pos": {Burst: 5},
		"burst 0.5":        {Rate: 1, Burst: 0.5},
		"burst -1":         {Rate: 1, Burst: -1},
		"steps[0].at 0s":   {Rate: 1, Steps: []QuotaStep{{At: 0, Rate: 1}}},
		"steps[1].at 1s must be after steps[0].at 2s": {Rate: 1, Steps: []QuotaStep{{At: 2 * time.Second, Rate: 1}, {At: time.Second, Rate: 1}}},
		"steps[0].rate 0": {Rate: 1, Steps: []QuotaStep{{At: time.Second}}},
	}
	for want, q := range bad {
		err := q.Validate()
		require.Error(t, err, want)
		assert.Contains(t, err.Error(), want)
		assert.Contains(t, err.Error(), "graphsim: quota: ")
	}
}

// FuzzQuotaCharge drives a valid quota with arbitrary rates and call
// times: the balance stays between the debt floor and Burst, and every
// throttled call gets a Retry-After from 1 ms to the cap.
func FuzzQuotaCharge(f *testing.F) {
	f.Add(40.0, 40.0, int64(30e9), 20.0, []byte{0, 0, 0, 10, 200, 255})
	f.Add(1e308, 1e308, int64(1), 1e-300, []byte{1, 2, 3})
	f.Add(1e-9, 1.0, int64(math.MaxInt64), 5.0, []byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, rate, burst float64, stepAt int64, stepRate float64, gaps []byte) {
		q := Quota{Rate: rate, Burst: burst, Steps: []QuotaStep{{At: time.Duration(stepAt), Rate: stepRate}}}
		if q.Validate() != nil {
			return
		}
		b := newQuotaBucket(q, q0)
		now := q0
		for _, g := range gaps {
			now = now.Add(time.Duration(g) * time.Millisecond)
			ok, usage, wait := b.charge(now)
			require.GreaterOrEqual(t, b.balance, b.floor())
			require.LessOrEqual(t, b.balance, b.q.Burst)
			require.False(t, math.IsNaN(usage))
			require.GreaterOrEqual(t, usage, 0.0)
			require.LessOrEqual(t, usage, 1.8)
			if !ok {
				require.Positive(t, wait)
				require.LessOrEqual(t, wait, maxQuotaWait)
				ra := formatRetryAfter(wait)
				require.NotEqual(t, "0", ra)
				_, err := time.ParseDuration(ra + "s")
				require.NoError(t, err)
			}
		}
	})
}
