// Package retry holds the pure parts of licensefix's retry behaviour: the
// failure classes a call can end in ([Transient], [Permanent], [Systemic]),
// the retry [Policy] with its defaults and validation, a full-jitter
// exponential [Backoff], and [ParseRetryAfter] for HTTP Retry-After values.
//
// Nothing here sleeps, reads the clock or performs I/O: callers pass "now"
// and a random source in, and decide themselves when to wait. The package
// imports nothing else of licensefix. Exactly one layer of licensefix loops
// on these values (the worker); lower layers such as the Graph client only
// classify failures.
package retry
