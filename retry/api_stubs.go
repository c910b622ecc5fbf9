package retry

import (
	"errors"
	"math/rand/v2"
	"time"
)

var errTODO = errors.New("retry: not implemented yet")

// String returns "transient", "permanent" or "systemic".
func (c Class) String() string { panic(errTODO) }

// DefaultPolicy returns 1s / 60s / 10m / ×2.
func DefaultPolicy() Policy { panic(errTODO) }

// Validate reports the first invalid field, naming it.
func (p Policy) Validate() error { panic(errTODO) }

// Backoff yields full-jitter exponential delays: the n-th delay is uniform in
// [0, min(MaxInterval, InitialInterval×Multiplier^n)], built on
// cenkalti/backoff/v4's ExponentialBackOff (randomisation off) for the growth
// and cap. It is not safe for concurrent use.
type Backoff struct{}

// NewBackoff returns a Backoff for p drawing jitter from rnd (nil = a default source).
func (p Policy) NewBackoff(rnd *rand.Rand) *Backoff { panic(errTODO) }

// Next returns the next delay, never less than retryAfter.
func (b *Backoff) Next(retryAfter time.Duration) time.Duration { panic(errTODO) }

// Attempts returns how many delays Next has produced.
func (b *Backoff) Attempts() int { panic(errTODO) }

// ParseRetryAfter parses a Retry-After header value: integer or fractional
// seconds, or an HTTP date relative to now. ok is false for an empty or
// malformed value; negative results clamp to zero.
func ParseRetryAfter(value string, now time.Time) (d time.Duration, ok bool) { panic(errTODO) }
