package worker

import (
	"testing"
	"time"

	"github.com/licensefix/licensefix/graph"
	"github.com/stretchr/testify/assert"
)

func TestDecide(t *testing.T) {
	t.Parallel()
	within := budgetState{spent: time.Second, max: time.Minute, next: time.Second}
	spent := budgetState{spent: time.Minute, max: time.Minute, next: time.Second}
	healthy := gateState{healthyRecently: true}
	for _, tc := range []struct {
		name string
		o    outcome
		b    budgetState
		g    gateState
		want decision
	}{
		{"success", outcome{}, within, healthy, decision{action: actComplete}},
		{"success after the budget", outcome{}, spent, healthy, decision{action: actComplete}},
		{"cancelled by us", outcome{kind: graph.KindTransient, cancelled: true}, within, healthy, decision{action: actAbandon}},
		{"throttled", outcome{kind: graph.KindThrottled}, within, healthy, decision{action: actReacquire}},
		{"throttled with the budget spent", outcome{kind: graph.KindThrottled}, spent, healthy, decision{action: actReacquire}},
		{"throttled during an outage", outcome{kind: graph.KindThrottled}, spent, gateState{}, decision{action: actReacquire}},
		{"not found", outcome{kind: graph.KindNotFound}, within, healthy, decision{action: actDeadLetter, reason: ReasonUserNotFound}},
		{"rejected", outcome{kind: graph.KindRejected}, within, healthy, decision{action: actDeadLetter, reason: ReasonGraphRejected}},
		{"forbidden", outcome{kind: graph.KindForbidden}, spent, healthy, decision{action: actReacquire}},
		{"unauthorized", outcome{kind: graph.KindUnauthorized}, spent, healthy, decision{action: actReacquire}},
		{"misconfigured", outcome{kind: graph.KindMisconfigured}, spent, healthy, decision{action: actReacquire}},
		{"transient within budget", outcome{kind: graph.KindTransient}, within, healthy, decision{action: actBackoff}},
		{"transient while paused", outcome{kind: graph.KindTransient}, spent, gateState{paused: true}, decision{action: actBackoff}},
		{"transient, budget spent, others healthy", outcome{kind: graph.KindTransient}, spent, healthy, decision{action: actDeadLetter, reason: ReasonRetriesExhausted}},
		{"transient, budget spent, nobody healthy", outcome{kind: graph.KindTransient}, spent, gateState{}, decision{action: actForceOutage}},
		{"transient, next delay would pass the budget", outcome{kind: graph.KindTransient}, budgetState{spent: 59 * time.Second, max: time.Minute, next: 2 * time.Second}, healthy, decision{action: actDeadLetter, reason: ReasonRetriesExhausted}},
	} {
		assert.Equal(t, tc.want, decide(tc.o, tc.b, tc.g), tc.name)
	}
}
