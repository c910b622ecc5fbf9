package retry

import (
	"errors"
	"math"
	"time"
)

// Policy is the retry policy for transient failures.
type Policy struct {
	// InitialInterval is the first backoff ceiling (LICENSEFIX_RETRY_INITIAL_INTERVAL, default 1s).
	InitialInterval time.Duration
	// MaxInterval caps every backoff ceiling (LICENSEFIX_RETRY_MAX_INTERVAL, default 60s).
	MaxInterval time.Duration
	// MaxElapsed is the retry budget per message (LICENSEFIX_MAX_RETRY_DURATION, default 10m).
	MaxElapsed time.Duration
	// Multiplier grows the ceiling per attempt (default 2).
	Multiplier float64
}

// Defaults of [Policy], used by [DefaultPolicy] and [Policy.WithDefaults].
const (
	DefaultInitialInterval = time.Second
	DefaultMaxInterval     = 60 * time.Second
	DefaultMaxElapsed      = 10 * time.Minute
	DefaultMultiplier      = 2.0
)

// DefaultPolicy returns 1s / 60s / 10m / ×2.
func DefaultPolicy() Policy {
	return Policy{
		InitialInterval: DefaultInitialInterval,
		MaxInterval:     DefaultMaxInterval,
		MaxElapsed:      DefaultMaxElapsed,
		Multiplier:      DefaultMultiplier,
	}
}

// WithDefaults returns p with every zero field replaced by its default.
// Non-zero fields are kept as they are, valid or not; call [Policy.Validate]
// on the result.
func (p Policy) WithDefaults() Policy {
	if p.InitialInterval == 0 {
		p.InitialInterval = DefaultInitialInterval
	}
	if p.MaxInterval == 0 {
		p.MaxInterval = DefaultMaxInterval
	}
	if p.MaxElapsed == 0 {
		p.MaxElapsed = DefaultMaxElapsed
	}
	if p.Multiplier == 0 {
		p.Multiplier = DefaultMultiplier
	}
	return p
}

// Validate reports the first invalid field, naming it: InitialInterval must
// be > 0, MaxInterval >= InitialInterval, MaxElapsed > 0, and Multiplier a
// finite number >= 1. A zero Policy is invalid; use [Policy.WithDefaults]
// first to fill in defaults.
func (p Policy) Validate() error {
	switch {
	case p.InitialInterval <= 0:
		return errors.New("retry: InitialInterval must be > 0")
	case p.MaxInterval < p.InitialInterval:
		return errors.New("retry: MaxInterval must be >= InitialInterval")
	case p.MaxElapsed <= 0:
		return errors.New("retry: MaxElapsed must be > 0")
	case math.IsNaN(p.Multiplier) || math.IsInf(p.Multiplier, 0) || p.Multiplier < 1:
		return errors.New("retry: Multiplier must be a finite number >= 1")
	}
	return nil
}
