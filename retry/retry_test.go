package retry

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClassString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		class Class
		want  string
	}{
		{Transient, "transient"},
		{Permanent, "permanent"},
		{Systemic, "systemic"},
		{Class(0), "class(0)"},
		{Class(42), "class(42)"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.class.String())
	}
	// The three classes are distinct and non-zero, so a zero Class is never
	// mistaken for a real one.
	assert.NotEqual(t, Transient, Permanent)
	assert.NotEqual(t, Permanent, Systemic)
	assert.NotZero(t, Transient)
}

func TestDefaultPolicy(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	assert.Equal(t, time.Second, p.InitialInterval)
	assert.Equal(t, 60*time.Second, p.MaxInterval)
	assert.Equal(t, 10*time.Minute, p.MaxElapsed)
	assert.Equal(t, 2.0, p.Multiplier)
	require.NoError(t, p.Validate())
	assert.Equal(t, p, Policy{}.WithDefaults())
	custom := Policy{InitialInterval: 5 * time.Second}.WithDefaults()
	assert.Equal(t, 5*time.Second, custom.InitialInterval)
	assert.Equal(t, 60*time.Second, custom.MaxInterval)
}

func TestPolicyValidate(t *testing.T) {
	t.Parallel()
	valid := DefaultPolicy()
	tests := []struct {
		name   string
		modify func(*Policy)
		want   string // "" means valid
	}{
		{"defaults", func(*Policy) {}, ""},
		{"max equals initial", func(p *Policy) { p.MaxInterval = p.InitialInterval }, ""},
		{"multiplier one", func(p *Policy) { p.Multiplier = 1 }, ""},
		{"zero initial", func(p *Policy) { p.InitialInterval = 0 }, "InitialInterval must be > 0"},
		{"negative initial", func(p *Policy) { p.InitialInterval = -time.Second }, "InitialInterval must be > 0"},
		{"max below initial", func(p *Policy) { p.MaxInterval = p.InitialInterval - 1 }, "MaxInterval must be >= InitialInterval"},
		{"zero max elapsed", func(p *Policy) { p.MaxElapsed = 0 }, "MaxElapsed must be > 0"},
		{"negative max elapsed", func(p *Policy) { p.MaxElapsed = -time.Minute }, "MaxElapsed must be > 0"},
		{"multiplier below one", func(p *Policy) { p.Multiplier = 0.5 }, "Multiplier must be"},
		{"multiplier zero", func(p *Policy) { p.Multiplier = 0 }, "Multiplier must be"},
		{"multiplier NaN", func(p *Policy) { p.Multiplier = nan() }, "Multiplier must be"},
		{"multiplier Inf", func(p *Policy) { p.Multiplier = inf() }, "Multiplier must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := valid
			tt.modify(&p)
			err := p.Validate()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func nan() float64 { z := 0.0; return z / z }
func inf() float64 { z := 0.0; return 1 / z }

// ceilings returns the expected ceiling sequence for p: InitialInterval
// multiplied per call, capped at MaxInterval.
func ceilings(p Policy, n int) []time.Duration {
	out := make([]time.Duration, n)
	c := p.InitialInterval
	for i := range out {
		out[i] = c
		next := time.Duration(float64(c) * p.Multiplier)
		if next > p.MaxInterval || float64(c) >= float64(p.MaxInterval)/p.Multiplier {
			next = p.MaxInterval
		}
		c = next
	}
	return out
}

func TestBackoffBounds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		policy Policy
		want   []time.Duration
	}{
		{"defaults", DefaultPolicy(), []time.Duration{
			1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second,
			32 * time.Second, 60 * time.Second, 60 * time.Second, 60 * time.Second,
		}},
		{"multiplier 3", Policy{InitialInterval: 100 * time.Millisecond, MaxInterval: 2 * time.Second, MaxElapsed: time.Minute, Multiplier: 3}, []time.Duration{
			100 * time.Millisecond, 300 * time.Millisecond, 900 * time.Millisecond, 2700 * time.Millisecond, 2 * time.Second,
		}},
		{"constant", Policy{InitialInterval: time.Second, MaxInterval: time.Second, MaxElapsed: time.Minute, Multiplier: 1}, []time.Duration{
			time.Second, time.Second, time.Second,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Capping happens at MaxInterval: the expected list is written
			// uncapped where the growth overshoots, so cap it here.
			for i := range tt.want {
				tt.want[i] = min(tt.want[i], tt.policy.MaxInterval)
			}
			assert.Equal(t, tt.want, ceilings(tt.policy, len(tt.want)))
			for seed := range uint64(200) {
				b := tt.policy.NewBackoff(rand.New(rand.NewPCG(seed, 7)))
				for i, ceiling := range tt.want {
					d := b.Next(0)
					require.GreaterOrEqual(t, d, time.Duration(0), "attempt %d", i)
					require.LessOrEqual(t, d, ceiling, "attempt %d seed %d", i, seed)
				}
				assert.Equal(t, len(tt.want), b.Attempts())
			}
		})
	}
}

// TestBackoffCeilingIsReached proves the jitter covers the whole range: over
// many draws the largest delay comes close to the ceiling and the smallest
// close to zero (full jitter, not "equal" jitter).
func TestBackoffCeilingIsReached(t *testing.T) {
	t.Parallel()
	p := Policy{InitialInterval: time.Second, MaxInterval: 4 * time.Second, MaxElapsed: time.Minute, Multiplier: 2}
	rnd := rand.New(rand.NewPCG(1, 2))
	var lo, hi [4]time.Duration
	for i := range lo {
		lo[i] = time.Hour
	}
	for range 2000 {
		b := p.NewBackoff(rnd)
		for i := range 4 {
			d := b.Next(0)
			lo[i] = min(lo[i], d)
			hi[i] = max(hi[i], d)
		}
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second}
	for i, c := range want {
		assert.Less(t, lo[i], c/20, "attempt %d lowest", i)
		assert.Greater(t, hi[i], c-c/20, "attempt %d highest", i)
		assert.LessOrEqual(t, hi[i], c, "attempt %d highest", i)
	}
}

func TestBackoffRetryAfterFloor(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	tests := []struct {
		name       string
		retryAfter time.Duration
		atLeast    time.Duration
		atMost     time.Duration
	}{
		{"no retry-after", 0, 0, time.Second},
		{"negative ignored", -time.Second, 0, time.Second},
		{"small retry-after", 300 * time.Millisecond, 300 * time.Millisecond, time.Second},
		{"large retry-after wins", 2*time.Minute + 128*time.Millisecond, 2*time.Minute + 128*time.Millisecond, 2*time.Minute + 128*time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for seed := range uint64(100) {
				b := p.NewBackoff(rand.New(rand.NewPCG(seed, seed)))
				d := b.Next(tt.retryAfter)
				require.GreaterOrEqual(t, d, tt.atLeast)
				require.LessOrEqual(t, d, tt.atMost)
			}
		})
	}
}

func TestBackoffDeterministicWithSeed(t *testing.T) {
	t.Parallel()
	draw := func() []time.Duration {
		b := DefaultPolicy().NewBackoff(rand.New(rand.NewPCG(9, 9)))
		out := make([]time.Duration, 8)
		for i := range out {
			out[i] = b.Next(0)
		}
		return out
	}
	assert.Equal(t, draw(), draw())
}

func TestBackoffReset(t *testing.T) {
	t.Parallel()
	p := Policy{InitialInterval: time.Millisecond, MaxInterval: time.Hour, MaxElapsed: time.Hour, Multiplier: 10}
	b := p.NewBackoff(rand.New(rand.NewPCG(3, 4)))
	for range 5 {
		b.Next(0)
	}
	require.Equal(t, 5, b.Attempts())
	b.Reset()
	assert.Equal(t, 0, b.Attempts())
	assert.LessOrEqual(t, b.Next(0), time.Millisecond, "first delay after Reset is bounded by InitialInterval again")
}

func TestBackoffNilRandAndInvalidPolicy(t *testing.T) {
	t.Parallel()
	// nil rand uses a default source.
	b := DefaultPolicy().NewBackoff(nil)
	assert.LessOrEqual(t, b.Next(0), time.Second)

	// A policy that fails Validate is clamped rather than misbehaving.
	bad := Policy{InitialInterval: -time.Second, MaxInterval: -time.Hour, Multiplier: nan()}
	b = bad.NewBackoff(rand.New(rand.NewPCG(1, 1)))
	for range 10 {
		d := b.Next(0)
		assert.GreaterOrEqual(t, d, time.Duration(0))
		assert.LessOrEqual(t, d, time.Nanosecond)
	}

	// A huge MaxInterval does not overflow the jitter draw.
	huge := Policy{InitialInterval: time.Duration(1<<62 - 1), MaxInterval: time.Duration(1<<63 - 1), MaxElapsed: time.Hour, Multiplier: 2}
	b = huge.NewBackoff(rand.New(rand.NewPCG(5, 5)))
	for range 4 {
		assert.GreaterOrEqual(t, b.Next(0), time.Duration(0))
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 17, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		value  string
		want   time.Duration
		wantOK bool
	}{
		{"integer", "120", 120 * time.Second, true},
		{"zero", "0", 0, true},
		{"padded", "  7\t", 7 * time.Second, true},
		{"leading zeros", "007", 7 * time.Second, true},
		{"fraction from the docs", "2.128", 2128 * time.Millisecond, true},
		{"fraction nanoseconds", "0.000000001", time.Nanosecond, true},
		{"fraction beyond nanoseconds ignored", "1.0000000019", time.Second + time.Nanosecond, true},
		{"leading dot", ".5", 500 * time.Millisecond, true},
		{"negative clamps", "-5", 0, true},
		{"negative fraction clamps", "-0.5", 0, true},
		{"exactly one hour", "3600", time.Hour, true},
		{"over an hour capped", "3601", time.Hour, true},
		{"absurd capped", "99999999999999999999999999", time.Hour, true},
		{"fraction over cap", "3600.5", time.Hour, true},
		{"RFC 1123 date", "Sat, 28 Nov 2026 17:00:30 GMT", 30 * time.Second, true},
		{"RFC 850 date", "Saturday, 28-Nov-26 17:01:00 GMT", time.Minute, true},
		{"asctime date", "Sat Nov 28 17:00:05 2026", 5 * time.Second, true},
		{"RFC 1123 numeric zone", "Sat, 28 Nov 2026 18:00:10 +0100", 10 * time.Second, true},
		{"date in the past", "Sat, 28 Nov 2026 16:00:00 GMT", 0, true},
		{"date far in the future capped", "Fri, 28 Nov 2036 17:00:00 GMT", time.Hour, true},
		{"empty", "", 0, false},
		{"blank", "   ", 0, false},
		{"word", "soon", 0, false},
		{"exponent", "1e3", 0, false},
		{"hex float", "0x1p3", 0, false},
		{"inf", "Inf", 0, false},
		{"nan", "NaN", 0, false},
		{"plus sign", "+5", 0, false},
		{"trailing dot", "5.", 0, false},
		{"lone dot", ".", 0, false},
		{"lone minus", "-", 0, false},
		{"two dots", "1.2.3", 0, false},
		{"unit suffix", "5s", 0, false},
		{"underscore", "1_000", 0, false},
		{"inner space", "1 0", 0, false},
		{"bad date", "Sat, 32 Nov 2026 17:00:30 GMT", 0, false},
		{"iso date is not an HTTP date", "2026-11-28T17:00:30Z", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := ParseRetryAfter(tt.value, now)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "2.128", "-1", "", "Sat, 28 Nov 2026 17:00:30 GMT", "1e9", ".5", "99999999999999999999"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 28, 17, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, value string) {
		d, ok := ParseRetryAfter(value, now)
		if !ok {
			if d != 0 {
				t.Fatalf("ParseRetryAfter(%q) = %v, false; want 0 when not ok", value, d)
			}
			return
		}
		if d < 0 || d > MaxRetryAfter {
			t.Fatalf("ParseRetryAfter(%q) = %v out of [0, %v]", value, d, MaxRetryAfter)
		}
		// Parsing is a pure function of its inputs.
		d2, ok2 := ParseRetryAfter(value, now)
		if d2 != d || !ok2 {
			t.Fatalf("ParseRetryAfter(%q) not deterministic: %v/%v then %v/%v", value, d, ok, d2, ok2)
		}
	})
}
