package pacing

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The control loop against a simulated quota (virtual time, deterministic):
// these are behaviour checks of the arithmetic, not timings of this machine.

func TestModelDrainsNearTheQuotaWithFewThrottles(t *testing.T) {
	t.Parallel()
	for _, replicas := range []int{1, 4} {
		for _, concurrency := range []int{16, 64} {
			s := runDemand(1200, replicas, concurrency, 40, 40, 50*time.Millisecond, 2*time.Minute, Config{}, nil)
			require.False(t, s.done.IsZero())
			util := 1200 / (s.done.Sub(s.start).Seconds() * 40)
			throttled := float64(sum(s.throttled)) / float64(s.calls)
			require.GreaterOrEqual(t, util, 0.95, "replicas=%d concurrency=%d", replicas, concurrency)
			require.LessOrEqual(t, throttled, 0.02, "replicas=%d concurrency=%d", replicas, concurrency)
		}
	}
}

func TestModelReplicasConvergeOnFairShares(t *testing.T) {
	t.Parallel()
	s := runSimulation(4, 16, 40, 40, 50*time.Millisecond, 2*time.Minute, Config{}, nil)
	total := sum(s.successes)
	for r, n := range s.successes {
		share := float64(n) / float64(total)
		require.InDelta(t, 0.25, share, 0.05, "replica %d got %d of %d", r, n, total)
	}
}

func TestModelFollowsAStepChangeOfTheQuota(t *testing.T) {
	t.Parallel()
	for _, replicas := range []int{1, 4} {
		perSecond := map[int]int{}
		prev := 0
		runSimulation(replicas, 16, 40, 40, 50*time.Millisecond, 95*time.Second, Config{}, func(s *simulation, sec int) {
			switch sec {
			case 30:
				s.quota.refill(s.now)
				s.quota.rate = 20
			case 60:
				s.quota.refill(s.now)
				s.quota.rate = 40
			}
			n := sum(s.successes)
			perSecond[sec] = n - prev
			prev = n
		})
		// Within 30 s of each step the rate is back to >= 0.9 of the new
		// quota, measured over 5 s.
		window := func(from int) float64 {
			n := 0
			for sec := from; sec < from+5; sec++ {
				n += perSecond[sec+1]
			}
			return float64(n) / 5
		}
		require.GreaterOrEqual(t, window(55), 0.9*20, "replicas=%d after 40→20", replicas)
		require.GreaterOrEqual(t, window(85), 0.9*40, "replicas=%d after 20→40", replicas)
		require.LessOrEqual(t, window(40), 20*1.1, "replicas=%d keeps to the lower quota", replicas)
	}
}
