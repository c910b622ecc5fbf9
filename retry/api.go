package retry

// Contract of the retry package: failure classes, the backoff policy with
// full jitter over cenkalti/backoff/v4, and Retry-After parsing. It imports
// nothing of ours. The stubs in api_stubs.go are replaced by the graph/retry
// helper; declarations here may be extended but not renamed.

import "time"

// Class says what a failure means for the message that caused it.
type Class int

// Failure classes.
const (
	// Transient: retry the same call later (408, 429, 5xx, 409 concurrency, network, timeout).
	Transient Class = iota + 1
	// Permanent: this message can never succeed (404, 400, other 4xx).
	Permanent
	// Systemic: the deployment is wrong (401 after a refresh, 403); no message is at fault.
	Systemic
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
