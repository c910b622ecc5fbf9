package worker

import (
	"context"
	"sync"
	"time"

	"github.com/licensefix/licensefix/retry"
)

// pauseKind says why Graph calls are paused.
type pauseKind int

const (
	notPaused pauseKind = iota
	pausedOutage
	pausedSystemic
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

// callResult is what a Graph call tells the gate.
type callResult struct {
	// class is 0 for a success, else the failure class.
	class retry.Class
	// status is the HTTP status of a failure (0 for transport failures).
	status int
	// retryAfter is a 429's Retry-After (0 when absent).
	retryAfter time.Duration
	// key identifies the message that made the call.
	key string
}

// gate is the process-wide state every Graph call passes: the Retry-After
// throttle, the outage breaker and the systemic pause. Its decisions take
// the time as an argument so they can be tested without a clock.
type gate struct {
	threshold            int
	breakerProbeInterval time.Duration
	probeInterval        time.Duration

	mu            sync.Mutex
	throttleUntil time.Time
	failing       map[string]struct{} // messages failing transiently since the last healthy answer
	outage        bool
	systemic      bool
	systemicWhy   string // readiness reason while systemic
	pausedSince   time.Time
	pausedTotal   time.Duration // completed pauses
	probeBusy     bool
	nextProbe     time.Time
	lastHealthy   time.Time
	changed       chan struct{} // closed and replaced on every state change
}

func newGate(threshold int, breakerProbeInterval, probeInterval time.Duration) *gate {
	return &gate{
		threshold:            threshold,
		breakerProbeInterval: breakerProbeInterval,
		probeInterval:        probeInterval,
		failing:              map[string]struct{}{},
		changed:              make(chan struct{}),
	}
}

// broadcastLocked wakes every waiter.
func (g *gate) broadcastLocked() {
	close(g.changed)
	g.changed = make(chan struct{})
}

// pausedLocked reports the pause state.
func (g *gate) pausedLocked() pauseKind {
	switch {
	case g.systemic:
		return pausedSystemic
	case g.outage:
		return pausedOutage
	}
	return notPaused
}

// decision is what a caller asking for a Graph call at some time must do.
type decision struct {
	// proceed is true when the call may be made now.
	proceed bool
	// probe is true when the call is the single probe of a paused gate;
	// the caller must pass its result to report with probe=true.
	probe bool
	// wait, when > 0 and !proceed, is how long to wait before asking again
	// (the caller also wakes on any state change).
	wait time.Duration
}

// decideLocked decides whether a call may start at now, claiming the probe
// slot when it grants one.
func (g *gate) decideLocked(now time.Time) decision {
	throttled := now.Before(g.throttleUntil)
	if g.pausedLocked() == notPaused {
		if throttled {
			return decision{wait: g.throttleUntil.Sub(now)}
		}
		return decision{proceed: true}
	}
	if g.probeBusy {
		return decision{}
	}
	at := g.nextProbe
	if g.throttleUntil.After(at) {
		at = g.throttleUntil
	}
	if now.Before(at) {
		return decision{wait: at.Sub(now)}
	}
	g.probeBusy = true
	return decision{proceed: true, probe: true}
}

// decide is decideLocked under the lock, also returning the channel that
// closes on the next state change.
func (g *gate) decide(now time.Time) (decision, <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.decideLocked(now), g.changed
}

// releaseProbe frees the probe slot of a probe that made no call.
func (g *gate) releaseProbe() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.probeBusy {
		g.probeBusy = false
		g.broadcastLocked()
	}
}

// transition describes what a report changed, for logs and metrics.
type transition int

const (
	noTransition transition = iota
	breakerOpened
	systemicPaused
	resumed
)

// report records the result of a call made at now. Any answer that shows
// Graph working (a success or a permanent rejection of one message) clears
// the breaker's count and ends a pause.
func (g *gate) report(now time.Time, probe bool, r callResult) transition {
	g.mu.Lock()
	defer g.mu.Unlock()
	if probe {
		g.probeBusy = false
	}
	tr := noTransition
	switch r.class {
	case 0, retry.Permanent:
		g.lastHealthy = now
		clear(g.failing)
		if g.pausedLocked() != notPaused {
			g.pausedTotal += now.Sub(g.pausedSince)
			g.outage, g.systemic, g.systemicWhy = false, false, ""
			tr = resumed
		}
	case retry.Transient:
		if r.status == 429 && r.retryAfter > 0 {
			if until := now.Add(r.retryAfter); until.After(g.throttleUntil) {
				g.throttleUntil = until
			}
		}
		g.failing[r.key] = struct{}{}
		switch {
		case g.pausedLocked() != notPaused:
			if probe {
				g.nextProbe = now.Add(g.breakerProbeInterval)
				if g.systemic {
					g.nextProbe = now.Add(g.probeInterval)
				}
			}
		case len(g.failing) >= g.threshold:
			g.openLocked(now, g.breakerProbeInterval)
			g.outage = true
			tr = breakerOpened
		}
	case retry.Systemic:
		if !g.systemic {
			g.openLocked(now, g.probeInterval)
			tr = systemicPaused
		}
		g.systemic = true
		g.systemicWhy = systemicReason(r.status)
		if probe {
			g.nextProbe = now.Add(g.probeInterval)
		}
	}
	g.broadcastLocked()
	return tr
}

// openLocked starts a pause at now (unless one is running) with the first
// probe due after interval.
func (g *gate) openLocked(now time.Time, interval time.Duration) {
	if g.pausedLocked() == notPaused {
		g.pausedSince = now
	}
	g.nextProbe = now.Add(interval)
}

// forceOutage opens the breaker although fewer than threshold messages
// failed: a message spent its whole budget without any sign that Graph
// works, which is an outage, not a bad message.
func (g *gate) forceOutage(now time.Time) transition {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pausedLocked() != notPaused {
		return noTransition
	}
	g.openLocked(now, g.breakerProbeInterval)
	g.outage = true
	g.broadcastLocked()
	return breakerOpened
}

func systemicReason(status int) string {
	switch status {
	case 403:
		return ReadyReasonPermissionMissing
	case 401:
		return ReadyReasonUnauthorized
	}
	return ReadyReasonMisconfigured
}

// state returns the pause kind and readiness reason.
func (g *gate) state() (pauseKind, string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch k := g.pausedLocked(); k {
	case pausedSystemic:
		return k, g.systemicWhy
	case pausedOutage:
		return k, ReadyReasonOutage
	default:
		return k, ""
	}
}

// pausedFor returns the total time spent paused up to now.
func (g *gate) pausedFor(now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	d := g.pausedTotal
	if g.pausedLocked() != notPaused && now.After(g.pausedSince) {
		d += now.Sub(g.pausedSince)
	}
	return d
}

// healthySince reports whether Graph gave a healthy answer after t.
func (g *gate) healthySince(t time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lastHealthy.After(t)
}

// intakeWait returns whether intake is paused and the channel that closes
// on the next change.
func (g *gate) intakeWait() (bool, <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.pausedLocked() != notPaused, g.changed
}

// errStopping is returned by acquire when shutdown began while waiting.
var errStopping = context.Canceled

// acquire blocks until a call may be made, returning whether it is the
// probe. It returns an error when ctx ends or stopping closes first.
func (g *gate) acquire(ctx context.Context, stopping <-chan struct{}, clk Clock) (bool, error) {
	for {
		select {
		case <-stopping:
			// Shutdown began: no new call, even if one were allowed.
			return false, errStopping
		default:
		}
		d, changed := g.decide(clk.Now())
		if d.proceed {
			return d.probe, nil
		}
		var timer <-chan time.Time
		if d.wait > 0 {
			timer = clk.After(d.wait)
		}
		select {
		case <-changed:
		case <-timer:
		case <-stopping:
			return false, errStopping
		case <-ctx.Done():
			return false, context.Cause(ctx)
		}
	}
}

// budget accounts a message's retry time, leaving out time the gate spent
// paused.
type budget struct {
	max         time.Duration
	start       time.Time
	pausedStart time.Duration
	started     bool
}

// begin starts the budget at now unless it runs already.
func (b *budget) begin(now time.Time, pausedFor time.Duration) {
	if !b.started {
		b.start, b.pausedStart, b.started = now, pausedFor, true
	}
}

// restart forgets the time spent so far.
func (b *budget) restart() { b.started = false }

// active returns the unpaused time since the budget began.
func (b *budget) active(now time.Time, pausedFor time.Duration) time.Duration {
	if !b.started {
		return 0
	}
	d := now.Sub(b.start) - (pausedFor - b.pausedStart)
	if d < 0 {
		return 0
	}
	return d
}

// exceeded reports whether waiting next more would pass the budget.
func (b *budget) exceeded(now time.Time, pausedFor, next time.Duration) bool {
	return b.active(now, pausedFor)+next > b.max
}
