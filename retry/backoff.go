package retry

import (
	"math/rand/v2"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Backoff yields full-jitter exponential delays: the n-th delay is uniform in
// [0, min(MaxInterval, InitialInterval×Multiplier^n)], built on
// cenkalti/backoff/v4's ExponentialBackOff (randomisation off) for the growth
// and cap. It is not safe for concurrent use.
//
// Backoff knows nothing about the retry budget (Policy.MaxElapsed): the
// caller that sleeps owns the clock and the budget.
type Backoff struct {
	ceilings *backoff.ExponentialBackOff
	rnd      *rand.Rand
	attempts int
}

// frozenClock satisfies backoff.Clock without reading the wall clock. The
// ExponentialBackOff only uses its clock for MaxElapsedTime, which Backoff
// leaves at 0 (never stop), so a constant time keeps Backoff pure.
type frozenClock struct{}

func (frozenClock) Now() time.Time { return time.Time{} }

// NewBackoff returns a Backoff for p drawing jitter from rnd (nil = a default source).
//
// Zero fields of p take their defaults (see [Policy.WithDefaults]). Callers
// should reject a policy that fails [Policy.Validate] before getting here;
// if they do not, out-of-range values are clamped (intervals to at least
// 1ns, MaxInterval to at least InitialInterval, Multiplier to at least 1)
// so that Next never misbehaves.
func (p Policy) NewBackoff(rnd *rand.Rand) *Backoff {
	p = p.WithDefaults()
	if p.InitialInterval <= 0 {
		p.InitialInterval = time.Nanosecond
	}
	if p.MaxInterval < p.InitialInterval {
		p.MaxInterval = p.InitialInterval
	}
	if !(p.Multiplier >= 1) || p.Multiplier > 1e6 { // also catches NaN
		p.Multiplier = DefaultMultiplier
	}
	if rnd == nil {
		rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	eb := &backoff.ExponentialBackOff{
		InitialInterval:     p.InitialInterval,
		RandomizationFactor: 0,
		Multiplier:          p.Multiplier,
		MaxInterval:         p.MaxInterval,
		MaxElapsedTime:      0,
		Stop:                backoff.Stop,
		Clock:               frozenClock{},
	}
	eb.Reset()
	return &Backoff{ceilings: eb, rnd: rnd}
}

// Next returns the next delay, never less than retryAfter.
//
// The delay is drawn uniformly from [0, ceiling], where the ceiling starts
// at InitialInterval and is multiplied by Multiplier after every call, up to
// MaxInterval. A server-supplied retryAfter (for example from
// [ParseRetryAfter]) is a floor: Next returns max(jittered, retryAfter).
func (b *Backoff) Next(retryAfter time.Duration) time.Duration {
	ceiling := b.ceilings.NextBackOff()
	b.attempts++
	delay := time.Duration(0)
	if ceiling > 0 {
		delay = time.Duration(b.rnd.Uint64N(uint64(ceiling) + 1))
	}
	if retryAfter > delay {
		delay = retryAfter
	}
	return delay
}

// Attempts returns how many delays Next has produced.
func (b *Backoff) Attempts() int { return b.attempts }

// Reset starts the sequence again from InitialInterval and sets Attempts to 0.
func (b *Backoff) Reset() {
	b.ceilings.Reset()
	b.attempts = 0
}
