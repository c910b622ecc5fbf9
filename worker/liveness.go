package worker

import (
	"sync"
	"time"
)

// The loops the liveness watchdog watches.
const (
	loopIntake = "intake"
	loopProbe  = "servicebus_probe"
)

// DefaultLivenessGrace is the default Config.LivenessGrace.
const DefaultLivenessGrace = 30 * time.Second

// watchdog tracks the worker's own progress for /livez. Each loop
// announces, before every step that may block, the longest the step may
// take (a receive: ReceiveWait; a pause: its length); the loop is wedged
// when it has not come back within that plus the grace. Each settlement
// in progress is wedged once it has run SettleTimeout plus the grace. An
// empty queue is no failure: an empty poll is a step like any other.
type watchdog struct {
	grace  time.Duration
	settle time.Duration

	mu       sync.Mutex
	due      map[string]time.Time // loop -> when its step must have ended
	settling map[*settleMark]struct{}
}

// settleMark is one settlement in progress.
type settleMark struct{ start time.Time }

func newWatchdog(grace, settleTimeout time.Duration) *watchdog {
	return &watchdog{grace: grace, settle: settleTimeout, due: map[string]time.Time{}, settling: map[*settleMark]struct{}{}}
}

// expect notes that loop starts, at now, a step that takes at most d.
func (d *watchdog) expect(loop string, now time.Time, step time.Duration) {
	d.mu.Lock()
	d.due[loop] = now.Add(step + d.grace)
	d.mu.Unlock()
}

// stop notes that loop has ended (shutdown): it is no longer watched.
func (d *watchdog) stop(loop string) {
	d.mu.Lock()
	delete(d.due, loop)
	d.mu.Unlock()
}

// settlingFrom notes a settlement starting at now; call the returned func when
// it ends.
func (d *watchdog) settlingFrom(now time.Time) func() {
	m := &settleMark{start: now}
	d.mu.Lock()
	d.settling[m] = struct{}{}
	d.mu.Unlock()
	return func() {
		d.mu.Lock()
		delete(d.settling, m)
		d.mu.Unlock()
	}
}

// wedged reports the first loop (or "settlement") that is overdue at now,
// and by how long; "" when everything makes progress.
func (d *watchdog) wedged(now time.Time) (string, time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, loop := range []string{loopIntake, loopProbe} {
		if due, ok := d.due[loop]; ok && now.After(due) {
			return loop, now.Sub(due)
		}
	}
	for m := range d.settling {
		if due := m.start.Add(d.settle + d.grace); now.After(due) {
			return "settlement", now.Sub(due)
		}
	}
	return "", 0
}
