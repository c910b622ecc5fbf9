package worker

import (
	"time"

	"github.com/licensefix/licensefix/graph"
)

// action is what the call loop does after an answer.
type action int

const (
	// actComplete: the call succeeded; complete the messages it covers.
	actComplete action = iota + 1
	// actDeadLetter: the call can never succeed; dead-letter with reason.
	actDeadLetter
	// actBackoff: a transient failure; wait the next backoff delay, then call again.
	actBackoff
	// actReacquire: call again as soon as the gates allow (throttled, or a
	// systemic pause began): no backoff, no budget spent.
	actReacquire
	// actForceOutage: the budget ran out with no sign Graph works for
	// anyone: open the breaker, restart the budget, call again.
	actForceOutage
	// actAbandon: our own side stopped the call (lock lost, shutdown).
	actAbandon
)

// outcome is what a call ended in, as the decision sees it.
type outcome struct {
	// kind is 0 for a success, else the failure's kind.
	kind graph.Kind
	// cancelled is true when our context ended the call, not Graph.
	cancelled bool
}

// budgetState is a call's retry budget: spent counts only the time of the
// call's own transient failures and their backoff, never a wait on the
// limiter, a Retry-After or a pause.
type budgetState struct {
	spent, max, next time.Duration
}

// gateState is what the decision needs of the gates.
type gateState struct {
	// paused: the breaker is open or a systemic pause is on.
	paused bool
	// healthyRecently: some call got a healthy answer during this call's
	// retries or one budget before.
	healthyRecently bool
}

// decision is an action with its dead-letter reason.
type decision struct {
	action action
	reason Reason
}

// decide maps (call outcome, budget, gate state) to the next action. It is
// the whole per-call policy, and pure.
func decide(o outcome, b budgetState, g gateState) decision {
	switch {
	case o.cancelled:
		return decision{action: actAbandon}
	case o.kind == 0:
		return decision{action: actComplete}
	}
	switch o.kind {
	case graph.KindThrottled:
		return decision{action: actReacquire}
	case graph.KindNotFound:
		return decision{action: actDeadLetter, reason: ReasonUserNotFound}
	case graph.KindRejected:
		return decision{action: actDeadLetter, reason: ReasonGraphRejected}
	case graph.KindUnauthorized, graph.KindForbidden, graph.KindMisconfigured:
		return decision{action: actReacquire}
	}
	// Transient.
	if g.paused || b.spent+b.next <= b.max {
		return decision{action: actBackoff}
	}
	if g.healthyRecently {
		return decision{action: actDeadLetter, reason: ReasonRetriesExhausted}
	}
	return decision{action: actForceOutage}
}
