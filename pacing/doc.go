// Package pacing paces calls against a quota that the caller cannot see
// directly, such as Microsoft Graph's write quota per app and tenant.
//
// A [Limiter] is a token bucket (golang.org/x/time/rate) whose rate adapts
// to the signals the quota's owner sends back, in the way TCP adapts its
// window. The bucket holds [Config.BurstWindow] (100 ms) of tokens at the
// current rate, at least one, so calls that come together leave together
// while the limiter is not what bounds them:
//
//   - Slow start: from [Config.InitialRate] the rate grows by
//     [Config.SlowStartGain] times itself per second (default 1.25: about
//     ×3.5 per second) until the first throttle signal, so a new replica
//     finds its share in seconds.
//   - Additive increase: afterwards, while calls succeed without a signal
//     and the limiter is the bottleneck (callers had to wait for it), the
//     rate grows by [Config.Increase] calls/s every second.
//   - Graded decrease: a success reporting quota usage above
//     [Config.SignalThreshold] (Graph's x-ms-throttle-limit-percentage, sent
//     from 0.8 on) cuts the rate in proportion to how far above it is, at
//     most once per [Config.CutInterval]; like ECN, it slows callers down
//     before they are throttled, so the steady state sits just below the
//     quota instead of oscillating through it.
//   - Multiplicative decrease: a throttled call (HTTP 429) halves the rate
//     (at most once per CutInterval, however many 429s arrive together) and
//     holds every caller until its Retry-After has passed. The hold ends
//     with one token in the bucket, whatever filled it meanwhile, and calls
//     leave one token at a time at the reduced rate: waiters never leave as
//     a herd.
//
// Independent limiters sharing one quota (replicas of a worker) see the same
// signals and converge on fair shares without coordination, the property of
// additive-increase/multiplicative-decrease. A [Pool] keeps one limiter per
// key (today one key for the app and tenant; a per-tenant mode adds keys).
//
// Nothing here sleeps or reads the clock: every method takes the time, so
// the arithmetic is tested on a fake clock and the caller owns the waiting.
package pacing
