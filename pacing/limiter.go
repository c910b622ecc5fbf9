package pacing

import (
	"errors"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of [Config], applied by [Config.WithDefaults].
const (
	DefaultInitialRate     = 10.0
	DefaultMinRate         = 0.1
	DefaultCeiling         = 1000.0
	DefaultIncrease        = 2.0
	DefaultSlowStartGain   = 1.25
	DefaultSignalThreshold = 0.8
	DefaultSignalGain      = 2.0
	DefaultCutInterval     = 250 * time.Millisecond
	DefaultThrottleFactor  = 0.5
	DefaultRetryAfter      = time.Second
	DefaultBurstWindow     = 100 * time.Millisecond
	// saturationWindow is how recently a caller must have waited for the
	// limiter for a success to raise the rate: a limiter that nobody waits
	// for is not what bounds the calls, and growing it would only store up a
	// burst.
	saturationWindow = 2 * time.Second
	// slowStartExitFactor multiplies the rate at the first early signal:
	// slow start overshoots by the growth of one feedback delay.
	slowStartExitFactor = 0.5
)

// Config tunes a [Limiter]. Zero fields take the default in their comment.
type Config struct {
	// InitialRate is where a new limiter starts, in calls per second
	// (default 10, half of Graph's 20 writes/s per app and tenant: a new
	// replica reaches a lone quota in a few seconds of slow start without
	// pushing far past it when it joins others).
	InitialRate float64
	// MaxRate is a hard cap in calls per second; 0 means none (then
	// DefaultCeiling bounds the arithmetic).
	MaxRate float64
	// MinRate is the floor in calls per second (default 0.1).
	MinRate float64
	// Increase is the additive increase in calls/s per second of
	// unthrottled, saturated successes (default 2).
	Increase float64
	// SlowStartGain is the rate added per success during slow start, so the
	// rate grows by that fraction of itself each second (default 1.25: about
	// ×3.5 per second, so 10 calls/s reach 160 in about 2.2 s). Faster
	// growth overshoots a shared quota before its first signal arrives: in
	// the model of four replicas starting together, gain 2 had 2 % of
	// calls throttled, 1.25 about 1.2 %.
	SlowStartGain float64
	// SignalThreshold is the quota usage from which a success counts as an
	// early throttle signal (default 0.8, where Graph starts sending
	// x-ms-throttle-limit-percentage).
	SignalThreshold float64
	// SignalGain scales the graded decrease: a signal of usage u cuts the
	// rate by SignalGain×(u−SignalThreshold), at most by half (default 2:
	// usage 0.9 cuts 20 %).
	SignalGain float64
	// CutInterval is the least time between two decreases (default 250ms):
	// a decrease needs about that long to show in the signals, and many
	// responses carry the same news.
	CutInterval time.Duration
	// ThrottleFactor multiplies the rate on a throttled call (default 0.5).
	ThrottleFactor float64
	// DefaultRetryAfter is the hold after a throttled call that named no
	// Retry-After (default 1s).
	DefaultRetryAfter time.Duration
	// BurstWindow sizes the bucket: it holds the tokens of that long at the
	// current rate, at least one (default 100ms: 4 tokens at 40 calls/s).
	// Callers that come together, such as the answers of one round trip
	// arriving at once, then leave together while the limiter is not the
	// bottleneck, instead of each waiting on a timer of its own: with a
	// bucket of one token, pacing cost a worker that Graph does not bound
	// two and a half times the CPU per message. Whatever the window, the
	// end of a Retry-After hold finds at most one token.
	BurstWindow time.Duration
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.InitialRate, DefaultInitialRate)
	def(&c.MinRate, DefaultMinRate)
	def(&c.Increase, DefaultIncrease)
	def(&c.SlowStartGain, DefaultSlowStartGain)
	def(&c.SignalThreshold, DefaultSignalThreshold)
	def(&c.SignalGain, DefaultSignalGain)
	def(&c.ThrottleFactor, DefaultThrottleFactor)
	if c.CutInterval == 0 {
		c.CutInterval = DefaultCutInterval
	}
	if c.DefaultRetryAfter == 0 {
		c.DefaultRetryAfter = DefaultRetryAfter
	}
	if c.BurstWindow == 0 {
		c.BurstWindow = DefaultBurstWindow
	}
	return c
}

// ConfigError names the [Config] field at fault.
type ConfigError struct {
	Field   string
	Problem string
}

// Error names the field and the problem.
func (e *ConfigError) Error() string { return "pacing: " + e.Field + " " + e.Problem }

// Validate reports the first invalid field as a *ConfigError.
func (c Config) Validate() error {
	bad := func(field, problem string) error { return &ConfigError{Field: field, Problem: problem} }
	finite := func(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
	switch {
	case !finite(c.MaxRate) || c.MaxRate < 0:
		return bad("MaxRate", "must be a number >= 0 (0 = no cap)")
	case !finite(c.MinRate) || c.MinRate <= 0:
		return bad("MinRate", "must be > 0")
	case !finite(c.InitialRate) || c.InitialRate < c.MinRate:
		return bad("InitialRate", "must be >= MinRate")
	case c.MaxRate > 0 && c.MaxRate < c.MinRate:
		return bad("MaxRate", "must be 0 or >= MinRate")
	case !finite(c.Increase) || c.Increase < 0:
		return bad("Increase", "must be >= 0")
	case !finite(c.SlowStartGain) || c.SlowStartGain < 0:
		return bad("SlowStartGain", "must be >= 0")
	case !finite(c.SignalThreshold) || c.SignalThreshold <= 0:
		return bad("SignalThreshold", "must be > 0")
	case !finite(c.SignalGain) || c.SignalGain < 0:
		return bad("SignalGain", "must be >= 0")
	case c.CutInterval < 0:
		return bad("CutInterval", "must be >= 0")
	case !finite(c.ThrottleFactor) || c.ThrottleFactor <= 0 || c.ThrottleFactor >= 1:
		return bad("ThrottleFactor", "must be between 0 and 1")
	case c.DefaultRetryAfter <= 0:
		return bad("DefaultRetryAfter", "must be > 0")
	case c.BurstWindow < 0:
		return bad("BurstWindow", "must be >= 0")
	}
	return nil
}

// errInvalid is the panic value of [New] given a bad config, joined with
// the *ConfigError.
var errInvalid = errors.New("pacing: invalid config")

// Phase is where a limiter's control loop is.
type Phase int

// Phases.
const (
	// SlowStart: growing multiplicatively until the first signal.
	SlowStart Phase = iota + 1
	// Steady: additive increase, graded and multiplicative decrease.
	Steady
)

// String returns "slow_start" or "steady".
func (p Phase) String() string {
	if p == SlowStart {
		return "slow_start"
	}
	return "steady"
}

// Limiter is one adaptive rate limiter; see the package documentation. It
// is safe for concurrent use.
type Limiter struct {
	cfg  Config
	ceil float64

	mu        sync.Mutex
	bucket    *rate.Limiter
	rate      float64
	phase     Phase
	lastCut   time.Time
	holdUntil time.Time
	// afterHold: the bucket is to be emptied to one token when the hold
	// ends, so the waiters leave one at a time.
	afterHold bool
	saturated time.Time // last time a caller had to wait
	// usageAtCut is the usage signal that caused the last graded cut.
	usageAtCut float64
}

// New returns a limiter for cfg (defaults applied) starting at now. It
// panics on a config that fails [Config.Validate]; validate user input
// first.
func New(cfg Config, now time.Time) *Limiter {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		panic(errors.Join(errInvalid, err))
	}
	ceil := DefaultCeiling
	if cfg.MaxRate > 0 {
		ceil = cfg.MaxRate
	}
	r := math.Min(cfg.InitialRate, ceil)
	b := rate.NewLimiter(rate.Limit(r), burstFor(r, cfg.BurstWindow))
	// The first calls may leave at once.
	b.ReserveN(now, 0)
	return &Limiter{cfg: cfg, ceil: ceil, bucket: b, rate: r, phase: SlowStart}
}

// Take asks to make one call at now. When ok, a token was taken and the
// caller may call at once. Otherwise no token was taken, and wait is when a
// token should be there (or the Retry-After hold ends): the caller asks
// again then. Tokens are never promised ahead of time, so a rate cut or a
// hold applies to every caller at once, and when many callers ask at the
// same instant only as many leave as the bucket holds tokens. A Retry-After
// hold ends with one token in the bucket: there is no herd.
func (l *Limiter) Take(now time.Time) (ok bool, wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.holdUntil) {
		l.saturated = now
		return false, l.holdUntil.Sub(now)
	}
	if l.afterHold {
		// The bucket filled during the hold: keep one token of it.
		l.afterHold = false
		l.bucket.SetBurstAt(now, 1)
		l.bucket.SetBurstAt(now, burstFor(l.rate, l.cfg.BurstWindow))
	}
	if tokens := l.bucket.TokensAt(now); tokens < 1 {
		l.saturated = now
		wait := time.Duration((1 - tokens) / l.rate * float64(time.Second))
		return false, max(wait, time.Microsecond)
	}
	l.bucket.ReserveN(now, 1)
	return true, 0
}

// Held reports whether a Retry-After hold is in force at now, and until when.
func (l *Limiter) Held(now time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.holdUntil, now.Before(l.holdUntil)
}

// Rate returns the current rate in calls per second.
func (l *Limiter) Rate() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rate
}

// Phase returns the control loop's phase.
func (l *Limiter) Phase() Phase {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.phase
}

// OnSuccess records a successful call answered at now. usage is the quota
// usage the answer reported (Graph's x-ms-throttle-limit-percentage, 0.8 to
// 1.8), or 0 when it reported none.
func (l *Limiter) OnSuccess(now time.Time, usage float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if usage > l.cfg.SignalThreshold {
		if l.phase == SlowStart {
			// The rate overshot on its way up (TCP halves on leaving slow
			// start for the same reason).
			l.phase = Steady
			l.cutLocked(now, slowStartExitFactor)
			l.usageAtCut = usage
			return
		}
		// Cut again only when usage is still climbing since the last cut
		// (the quota is still draining), or has stayed high for long: while
		// the quota refills after a cut the signal lags, and cutting on it
		// again would overshoot downwards.
		since := now.Sub(l.lastCut)
		if since >= l.cfg.CutInterval && (usage > l.usageAtCut || since >= 4*l.cfg.CutInterval) {
			cut := l.cfg.SignalGain * (usage - l.cfg.SignalThreshold)
			l.cutLocked(now, 1-math.Min(cut, 0.5))
			l.usageAtCut = usage
		}
		return
	}
	if now.Sub(l.saturated) > saturationWindow {
		return
	}
	if l.phase == SlowStart {
		l.setLocked(now, l.rate+l.cfg.SlowStartGain)
		return
	}
	l.setLocked(now, l.rate+l.cfg.Increase/l.rate)
}

// OnThrottled records a throttled call answered at now with its
// Retry-After (0 when the answer named none). It holds every caller until
// the Retry-After has passed and halves the rate, once per CutInterval.
func (l *Limiter) OnThrottled(now time.Time, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if retryAfter <= 0 {
		retryAfter = l.cfg.DefaultRetryAfter
	}
	if until := now.Add(retryAfter); until.After(l.holdUntil) {
		l.holdUntil = until
	}
	l.afterHold = true
	l.phase = Steady
	if now.Sub(l.lastCut) >= l.cfg.CutInterval {
		l.cutLocked(now, l.cfg.ThrottleFactor)
		l.usageAtCut = 1
	}
}

func (l *Limiter) cutLocked(now time.Time, factor float64) {
	l.lastCut = now
	l.setLocked(now, l.rate*factor)
}

func (l *Limiter) setLocked(now time.Time, r float64) {
	r = math.Max(l.cfg.MinRate, math.Min(r, l.ceil))
	l.rate = r
	l.bucket.SetLimitAt(now, rate.Limit(r))
	l.bucket.SetBurstAt(now, burstFor(r, l.cfg.BurstWindow))
}

// burstFor is the bucket size at rate r: the tokens of window, at least 1.
func burstFor(r float64, window time.Duration) int {
	return max(1, int(r*window.Seconds()))
}

// Burst returns how many tokens the bucket holds at most now.
func (l *Limiter) Burst() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bucket.Burst()
}
