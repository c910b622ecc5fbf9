package worker

import "time"

// breaker is the Graph outage breaker: it opens when threshold distinct
// messages fail transiently (5xx, timeouts, network) with no healthy answer
// in between, then lets one probe call through per interval until Graph
// answers healthily. A 429 is a healthy answer here: it proves Graph is up.
// It is not safe for concurrent use; the gates hold its lock.
type breaker struct {
	threshold int
	probe     probeSchedule
	clock     pauseClock

	open        bool
	failing     map[string]struct{} // keys failing since the last healthy answer
	lastHealthy time.Time
}

func newBreaker(threshold int, interval time.Duration) breaker {
	return breaker{threshold: threshold, probe: probeSchedule{interval: interval}, failing: map[string]struct{}{}}
}

// allow reports whether a call may start at now; while open only the probe
// may, and claim takes its slot.
func (b *breaker) allow(now time.Time, claim bool) (ok, probe bool, wait time.Duration) {
	if !b.open {
		return true, false, 0
	}
	ok, wait = b.probe.allow(now, claim)
	return ok, ok, wait
}

// healthy records a healthy answer at now; it reports whether it closed the
// breaker.
func (b *breaker) healthy(now time.Time) bool {
	b.lastHealthy = now
	clear(b.failing)
	b.probe.release()
	if !b.open {
		return false
	}
	b.open = false
	b.clock.stop(now)
	return true
}

// failed records a transient failure of key at now; it reports whether it
// opened the breaker.
func (b *breaker) failed(now time.Time, key string, probe bool) bool {
	b.failing[key] = struct{}{}
	if probe {
		b.probe.failed(now)
	}
	if b.open || len(b.failing) < b.threshold {
		return false
	}
	return b.force(now)
}

// force opens the breaker although fewer than threshold keys failed (a
// message spent its budget with no sign that Graph works for anyone).
func (b *breaker) force(now time.Time) bool {
	if b.open {
		return false
	}
	b.open = true
	b.clock.start(now)
	b.probe.next = now.Add(b.probe.interval)
	b.probe.busy = false
	return true
}

// healthySince reports whether a healthy answer came after t.
func (b *breaker) healthySince(t time.Time) bool { return b.lastHealthy.After(t) }

// pausedFor returns the total time spent open up to now.
func (b *breaker) pausedFor(now time.Time) time.Duration { return b.clock.elapsed(now, b.open) }
