package worker

import (
	"time"

	"github.com/licensefix/licensefix/graph"
)

// pause is the systemic pause: Graph refused the deployment (401 after a
// token refresh, 403, a redirect or untrusted certificate), which no
// message causes and no retry of a message fixes. While active, one probe
// call goes through per interval; the first healthy answer ends it. It is
// not safe for concurrent use; the gates hold its lock.
type pause struct {
	probe  probeSchedule
	clock  pauseClock
	active bool
	reason string // readiness reason while active
}

func newPause(interval time.Duration) pause {
	return pause{probe: probeSchedule{interval: interval}}
}

// allow is breaker.allow for the pause.
func (p *pause) allow(now time.Time, claim bool) (ok, probe bool, wait time.Duration) {
	if !p.active {
		return true, false, 0
	}
	ok, wait = p.probe.allow(now, claim)
	return ok, ok, wait
}

// healthy ends the pause at now; it reports whether one was active.
func (p *pause) healthy(now time.Time) bool {
	p.probe.release()
	if !p.active {
		return false
	}
	p.active, p.reason = false, ""
	p.clock.stop(now)
	return true
}

// failed records a systemic failure of kind at now; it reports whether it
// started the pause.
func (p *pause) failed(now time.Time, kind graph.Kind, probe bool) bool {
	p.reason = systemicReason(kind)
	if probe {
		p.probe.failed(now)
	}
	if p.active {
		return false
	}
	p.active = true
	p.clock.start(now)
	p.probe.next = now.Add(p.probe.interval)
	p.probe.busy = false
	return true
}

// pausedFor returns the total time spent paused up to now.
func (p *pause) pausedFor(now time.Time) time.Duration { return p.clock.elapsed(now, p.active) }

// systemicReason is the readiness reason of a systemic failure kind.
func systemicReason(k graph.Kind) string {
	switch k {
	case graph.KindForbidden:
		return ReadyReasonPermissionMissing
	case graph.KindUnauthorized:
		return ReadyReasonUnauthorized
	}
	return ReadyReasonMisconfigured
}
