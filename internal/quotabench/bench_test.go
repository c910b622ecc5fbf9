package quotabench

import (
	"fmt"
	"testing"
	"time"

	"github.com/licensefix/licensefix/graph/graphsim"
)

// The quota of the measurements: 40 calls/s, a bucket of one
// second's worth, 50 ms Graph latency, 1,200 distinct users and a retry
// budget of 60 s.
const (
	quotaRate  = 40
	quotaBurst = 40
	users      = 1200
)

// BenchmarkDrainAtQuota drains 1,200 distinct users with 1 and 4 replicas
// at concurrency 16 and 64 and reports util (successes/s ÷ allowed rate),
// throttled-% (calls answered 429), dead letters and the drain time ÷ the
// ideal (users ÷ rate).
func BenchmarkDrainAtQuota(b *testing.B) {
	for _, replicas := range []int{1, 4} {
		for _, concurrency := range []int{16, 64} {
			b.Run(fmt.Sprintf("replicas=%d/concurrency=%d", replicas, concurrency), func(b *testing.B) {
				for b.Loop() {
					r := drain(b, scenario{replicas: replicas, concurrency: concurrency, rate: quotaRate, burst: quotaBurst,
						latency: 50 * time.Millisecond, users: users})
					b.Log(r)
					b.ReportMetric(r.utilisation(), "util")
					b.ReportMetric(100*r.throttledShare(), "throttled-%")
					b.ReportMetric(r.deadLettered, "dead-letters")
					b.ReportMetric(r.elapsed.Seconds()/(float64(users)/quotaRate), "drain/ideal")
				}
			})
		}
	}
}

// BenchmarkQuotaStep changes the allowed rate 40 → 20 → 40 calls/s at 30 s
// and 60 s under 4 replicas × 16 and reports, for each step, the seconds
// until the successes over a 5 s window reach 0.9 of the new rate.
func BenchmarkQuotaStep(b *testing.B) {
	for _, replicas := range []int{1, 4} {
		b.Run(fmt.Sprintf("replicas=%d", replicas), func(b *testing.B) {
			for b.Loop() {
				r := drain(b, scenario{replicas: replicas, concurrency: 16, rate: 40, burst: 40, latency: 50 * time.Millisecond,
					steps: []graphsim.QuotaStep{{At: 30 * time.Second, Rate: 20}, {At: 60 * time.Second, Rate: 40}},
					users: 4000, until: 95 * time.Second})
				b.Log(r, " per second: ", r.perSecond)
				b.ReportMetric(recovery(r.perSecond, 30, 20), "s-to-0.9-after-40→20")
				b.ReportMetric(recovery(r.perSecond, 60, 40), "s-to-0.9-after-20→40")
				b.ReportMetric(100*r.throttledShare(), "throttled-%")
				b.ReportMetric(r.deadLettered, "dead-letters")
			}
		})
	}
}

// recovery returns the seconds after step until the mean successes over a
// 5 s window first reach 0.9×rate (and stay below 1.1×rate+burst for the
// lower step), or -1 if never.
func recovery(perSecond []int64, step int, rate float64) float64 {
	for s := step; s+5 <= len(perSecond); s++ {
		sum := int64(0)
		for _, v := range perSecond[s : s+5] {
			sum += v
		}
		if float64(sum)/5 >= 0.9*rate {
			return float64(s + 5 - step)
		}
	}
	return -1
}

// BenchmarkCoalesce sends 1,000 messages for 200 users (5 each, shuffled)
// and reports Graph calls per distinct user.
func BenchmarkCoalesce(b *testing.B) {
	for b.Loop() {
		r := drain(b, scenario{replicas: 1, concurrency: 16, rate: quotaRate, burst: quotaBurst, latency: 50 * time.Millisecond,
			users: 200, perUser: 5})
		b.Log(r)
		b.ReportMetric(float64(r.stats.Calls)/float64(r.distinctUsers), "calls/user")
		b.ReportMetric(r.coalesced, "coalesced")
		b.ReportMetric(r.deadLettered, "dead-letters")
	}
}
