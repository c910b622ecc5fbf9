package quotabench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestSmokeDrainAtTheQuota runs a short drain so the harness keeps
// working; its figures are checked loosely (the benchmarks measure).
func TestSmokeDrainAtTheQuota(t *testing.T) {
	r := drain(t, scenario{replicas: 1, concurrency: 8, rate: 40, burst: 40, latency: 20 * time.Millisecond, users: 120, perUser: 2})
	t.Log(r)
	assert.Equal(t, 240, r.messages)
	assert.Zero(t, r.deadLettered, "throttling never dead-letters")
	assert.EqualValues(t, 120, r.stats.UsersSucceeded, "every user reprocessed")
	assert.Equal(t, 240.0, r.completed+r.coalesced)
	// Coalescing works: far fewer calls than messages. The figure itself
	// (≤ 1.05 calls per user) is BenchmarkCoalesce's to measure; on a loaded
	// machine more second messages arrive while their user's call is in
	// flight, and those rightly wait for a call of their own.
	assert.LessOrEqual(t, float64(r.stats.Calls), 1.2*120, "messages for one user share calls")
}
