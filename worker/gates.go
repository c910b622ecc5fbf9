package worker

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/licensefix/licensefix/graph"
	"github.com/licensefix/licensefix/pacing"
)

// Readiness reasons reported by /readyz and [Worker.Ready].
const (
	ReadyReasonStarting          = "starting"
	ReadyReasonShuttingDown      = "shutting_down"
	ReadyReasonDisconnected      = "servicebus_disconnected"
	ReadyReasonOutage            = "graph_outage"
	ReadyReasonPermissionMissing = "graph_permission_missing"
	ReadyReasonUnauthorized      = "graph_unauthorized"
	ReadyReasonMisconfigured     = "graph_misconfigured"
)

// probeKind says which pause a call is the probe of.
type probeKind int

const (
	noProbe probeKind = iota
	breakerProbe
	pauseProbe
)

// transition describes what a report changed, for logs and metrics.
type transition int

const (
	noTransition transition = iota
	breakerOpened
	systemicPaused
	resumed
)

// gates is what every Graph call passes, in order: the systemic pause, the
// outage breaker, then the adaptive limiter of the call's quota key. It
// holds the lock of the first two (the limiter has its own) and wakes
// waiters on every change.
type gates struct {
	limiters *pacing.Pool

	mu      sync.Mutex
	pause   pause
	breaker breaker
	changed chan struct{} // closed and replaced on every change

	// turn is held by the one caller of acquire that asks the gates and
	// waits on their timer; the others queue for it in order (a channel's
	// senders are woken first come, first served). So a token that comes
	// back wakes one waiter, not all of them.
	turn chan struct{}
}

func newGates(cfg Config, now func() time.Time) *gates {
	return &gates{
		limiters: pacing.NewPool(cfg.Pacing, now),
		pause:    newPause(cfg.ProbeInterval),
		breaker:  newBreaker(cfg.BreakerThreshold, cfg.BreakerProbeInterval),
		changed:  make(chan struct{}),
		turn:     make(chan struct{}, 1),
	}
}

func (g *gates) broadcastLocked() {
	close(g.changed)
	g.changed = make(chan struct{})
}

// quotaKey is the limiter key of every call: one app and tenant today.
const quotaKey = ""

// limiter returns the limiter of the worker's quota.
func (g *gates) limiter() *pacing.Limiter { return g.limiters.For(quotaKey) }

// try asks for a call at now: ok with the probe it is, or the wait before
// asking again (0: wait for a change).
func (g *gates) try(now time.Time) (ok bool, probe probeKind, wait time.Duration, changed <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	changed = g.changed
	if ok, _, wait := g.pause.allow(now, false); !ok {
		return false, noProbe, wait, changed
	}
	if ok, _, wait := g.breaker.allow(now, false); !ok {
		return false, noProbe, wait, changed
	}
	if ok, wait := g.limiter().Take(now); !ok {
		return false, noProbe, wait, changed
	}
	// A token is taken; claim the probe slot where one is needed.
	if _, p, _ := g.pause.allow(now, true); p {
		return true, pauseProbe, 0, changed
	}
	if _, p, _ := g.breaker.allow(now, true); p {
		return true, breakerProbe, 0, changed
	}
	return true, noProbe, 0, changed
}

// errStopping is returned by acquire when shutdown began while waiting.
var errStopping = errors.New("worker: stopping")

// acquire blocks until a call may be made, returning which probe it is and
// how long it waited on the limiter (throttling, not the message's doing).
// Callers are let through in the order they came.
func (g *gates) acquire(ctx context.Context, stopping <-chan struct{}, clk Clock) (probeKind, time.Duration, error) {
	start := clk.Now()
	select {
	case g.turn <- struct{}{}:
	case <-stopping:
		return noProbe, 0, errStopping
	case <-ctx.Done():
		return noProbe, 0, context.Cause(ctx)
	}
	defer func() { <-g.turn }()
	for {
		select {
		case <-stopping:
			return noProbe, 0, errStopping
		default:
		}
		ok, probe, wait, changed := g.try(clk.Now())
		if ok {
			return probe, clk.Now().Sub(start), nil
		}
		var timer <-chan time.Time
		if wait > 0 {
			timer = clk.After(wait)
		}
		select {
		case <-changed:
		case <-timer:
		case <-stopping:
			return noProbe, 0, errStopping
		case <-ctx.Done():
			return noProbe, 0, context.Cause(ctx)
		}
	}
}

// release frees the probe slot of a probe that made no call.
func (g *gates) release(probe probeKind) {
	if probe == noProbe {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pause.probe.release()
	g.breaker.probe.release()
	g.broadcastLocked()
}

// report records the answer to a call made as probe, answered at now, for
// key (the user), feeding the limiter too. kind is 0 for a success, whose
// quota usage signal is usage.
func (g *gates) report(now time.Time, probe probeKind, key string, kind graph.Kind, usage float64, retryAfter time.Duration) transition {
	switch kind {
	case 0:
		g.limiter().OnSuccess(now, usage)
	case graph.KindThrottled:
		g.limiter().OnThrottled(now, retryAfter)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	tr := noTransition
	defer func() {
		// Wake waiters only when this answer can let one of them go: a
		// transition, a probe slot freed, a new Retry-After hold (intake
		// must stop at once), or a rate still climbing in slow start. A
		// plain success in the steady state changes nothing a waiter's
		// own timer does not already cover, and waking every waiter on
		// every answer was most of the worker's scheduling work.
		if tr != noTransition || probe != noProbe || kind == graph.KindThrottled ||
			(kind == 0 && g.limiter().Phase() == pacing.SlowStart) {
			g.broadcastLocked()
		}
	}()
	switch kind {
	case 0, graph.KindNotFound, graph.KindRejected:
		// Graph works: a success, or a verdict on one message.
		if g.breaker.healthy(now) {
			tr = resumed
		}
		if g.pause.healthy(now) {
			tr = resumed
		}
	case graph.KindThrottled:
		// Graph is up and says "slower": the limiter's business. It ends
		// an outage, not a systemic pause (a 429 says nothing about
		// permissions).
		if g.breaker.healthy(now) {
			tr = resumed
		}
		if probe == pauseProbe {
			g.pause.probe.release()
		}
	case graph.KindTransient:
		if probe == pauseProbe {
			g.pause.probe.failed(now)
		}
		if g.breaker.failed(now, key, probe == breakerProbe) {
			tr = breakerOpened
		}
	default: // unauthorized, forbidden, misconfigured
		if probe == breakerProbe {
			g.breaker.probe.release()
		}
		if g.pause.failed(now, kind, probe == pauseProbe) {
			tr = systemicPaused
		}
	}
	return tr
}

// forceOutage opens the breaker for a message that spent its budget with
// no sign that Graph works for anyone.
func (g *gates) forceOutage(now time.Time) transition {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.breaker.force(now) {
		return noTransition
	}
	g.broadcastLocked()
	return breakerOpened
}

// holding reports whether calls are held back at now (pause, breaker or a
// Retry-After), so intake should take nothing new, and the channel that
// closes on the next change.
func (g *gates) holding(now time.Time) (bool, <-chan struct{}) {
	_, held := g.limiter().Held(now)
	g.mu.Lock()
	defer g.mu.Unlock()
	return held || g.pause.active || g.breaker.open, g.changed
}

// state returns the readiness reason while paused ("" when not) and the
// gauges' view.
func (g *gates) state() (reason string, outage, systemic bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.pause.active:
		return g.pause.reason, g.breaker.open, true
	case g.breaker.open:
		return ReadyReasonOutage, true, false
	}
	return "", false, false
}

// pausedFor returns the time spent paused (breaker or systemic) up to now.
func (g *gates) pausedFor(now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.breaker.pausedFor(now) + g.pause.pausedFor(now)
}

// healthySince reports whether Graph gave a healthy answer after t.
func (g *gates) healthySince(t time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.breaker.healthySince(t)
}

// paused reports whether a pause or the breaker is in force.
func (g *gates) paused() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.pause.active || g.breaker.open
}
