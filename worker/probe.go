package worker

import "time"

// probeSchedule lets one probe call through at a time, at most once per
// interval, while something is paused. It is not safe for concurrent use;
// its owner holds the gates' lock.
type probeSchedule struct {
	interval time.Duration
	next     time.Time
	busy     bool
}

// allow reports whether a probe may start at now (claiming the slot when
// claim is true), or how long to wait (0: until the next state change).
func (p *probeSchedule) allow(now time.Time, claim bool) (ok bool, wait time.Duration) {
	if p.busy {
		return false, 0
	}
	if now.Before(p.next) {
		return false, p.next.Sub(now)
	}
	if claim {
		p.busy = true
	}
	return true, 0
}

// failed ends a probe that failed at now: the next one is an interval away.
func (p *probeSchedule) failed(now time.Time) {
	p.busy = false
	p.next = now.Add(p.interval)
}

// release frees the slot of a probe that made no call.
func (p *probeSchedule) release() { p.busy = false }

// pauseClock accounts the time something spent paused.
type pauseClock struct {
	since time.Time
	total time.Duration
}

func (c *pauseClock) start(now time.Time) { c.since = now }

func (c *pauseClock) stop(now time.Time) { c.total += now.Sub(c.since) }

func (c *pauseClock) elapsed(now time.Time, running bool) time.Duration {
	if running && now.After(c.since) {
		return c.total + now.Sub(c.since)
	}
	return c.total
}
