package chaos

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/licensefix/licensefix/dlq"
)

// Message is one message the harness sent. Every message has its own user,
// so a Graph call maps to exactly one message through its user id.
type Message struct {
	ID     string
	UserID string
	// Invalid marks a message sent with a body the worker must reject; only
	// such a message may be dead-lettered InvalidMessage.
	Invalid bool
}

// Call is one Graph call as the simulator recorded it.
type Call struct {
	Time            time.Time // when the request arrived
	UserID          string
	ClientRequestID string
	// Status is the status the simulator answered; 0 when no answer reached
	// the worker (it timed out first, or the connection was reset).
	Status int
}

// Outcome kinds, as the worker names them in its "message ..." log lines.
const (
	OutcomeCompleted    = "completed"
	OutcomeCoalesced    = "coalesced"
	OutcomeDeadLettered = "dead_lettered"
	OutcomeAbandoned    = "abandoned"
	OutcomeLockLost     = "lock_lost"
	OutcomeSettleFailed = "settle_failed"
)

// Outcome is one outcome line a worker logged for a message.
type Outcome struct {
	Time      time.Time
	Worker    string
	MessageID string
	Kind      string // one of the Outcome* constants
	// ClientRequestID names the call the worker acted on: for completed and
	// coalesced, the successful call that covers the message.
	ClientRequestID string
}

// DeadLetter is one message found in the dead-letter queue at the end.
type DeadLetter struct {
	MessageID string
	Reason    string
	// ClientRequestID is the licensefix-client-request-id property: the
	// last Graph call made for the message ("" when there was none).
	ClientRequestID string
	DeliveryCount   uint32
}

// Kill is one SIGKILL of a worker process.
type Kill struct {
	Time   time.Time
	Worker string
}

// History is everything a run observed: what was sent, every Graph call,
// every outcome line the workers logged, the kills, and the final state of
// the queue and its dead-letter queue.
type History struct {
	Sent        []Message
	Calls       []Call
	Outcomes    []Outcome
	Kills       []Kill
	Queued      []string // message ids peeked in the queue at the end
	DeadLetters []DeadLetter
	// MaxDeliveryCount is the queue's MaxDeliveryCount, which justifies a
	// MaxDeliveryCountExceeded dead letter.
	MaxDeliveryCount int
}

// Rule names a ledger rule a message broke.
type Rule string

// The rules; see the package documentation.
const (
	// RuleLost: the message is gone from the queue and the dead-letter
	// queue, but no worker logged completing it and no kill explains the
	// missing line, or its user never got a 2xx.
	RuleLost Rule = "lost"
	// RuleCompletedWithout2xx: a worker logged completing the message
	// naming a call that is not a 2xx for the message's user made before
	// the completion.
	RuleCompletedWithout2xx Rule = "completed_without_2xx"
	// RuleUnjustifiedDeadLetter: the dead-letter reason is not borne out
	// by the message's Graph history (or its delivery count).
	RuleUnjustifiedDeadLetter Rule = "unjustified_dead_letter"
	// RuleUnexplainedDuplicate: the user got another 2xx after one the
	// worker already had, with no kill in between.
	RuleUnexplainedDuplicate Rule = "unexplained_duplicate"
	// RuleTwoEndStates: the message is in more than one place at the end
	// (queued and dead-lettered, twice in one queue, or still present
	// after a worker logged completing it).
	RuleTwoEndStates Rule = "two_end_states"
	// RuleUnknownMessage: the final state holds a message nobody sent.
	RuleUnknownMessage Rule = "unknown_message"
)

// Violation is one broken rule.
type Violation struct {
	MessageID string
	Rule      Rule
	Detail    string
}

func (v Violation) String() string { return fmt.Sprintf("%s: %s: %s", v.MessageID, v.Rule, v.Detail) }

// Report is what Check found.
type Report struct {
	Messages     int // sent
	Completed    int // gone from both queues, with a 2xx for the user
	DeadLettered int
	Queued       int
	// Lost counts messages gone from both queues whose user never got a
	// 2xx: work the system dropped.
	Lost int
	// Duplicates counts 2xx answers beyond the first per message;
	// ExplainedDuplicates those with a kill between them and the previous
	// 2xx.
	Duplicates          int
	ExplainedDuplicates int
	Violations          []Violation
}

// OK reports whether no rule was broken.
func (r Report) OK() bool { return len(r.Violations) == 0 }

// String summarises the report on one line, then one line per violation.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "messages=%d completed=%d dead_lettered=%d queued=%d lost=%d duplicates=%d (explained %d) violations=%d",
		r.Messages, r.Completed, r.DeadLettered, r.Queued, r.Lost, r.Duplicates, r.ExplainedDuplicates, len(r.Violations))
	for _, v := range r.Violations {
		b.WriteString("\n  ")
		b.WriteString(v.String())
	}
	return b.String()
}

// Check applies the ledger rules to h. It returns an error only when h
// cannot be judged: two sent messages share an id or a user.
func Check(h History) (Report, error) {
	rep := Report{Messages: len(h.Sent)}
	byID := map[string]Message{}
	byUser := map[string]string{} // folded user id -> message id
	for _, m := range h.Sent {
		if _, dup := byID[m.ID]; dup {
			return rep, fmt.Errorf("chaos: message id %q sent twice", m.ID)
		}
		u := strings.ToLower(m.UserID)
		if other, dup := byUser[u]; dup {
			return rep, fmt.Errorf("chaos: messages %q and %q share user %q", other, m.ID, m.UserID)
		}
		byID[m.ID], byUser[u] = m, m.ID
	}
	calls := map[string][]Call{} // message id -> its user's calls, in time order
	for _, c := range h.Calls {
		if id, ok := byUser[strings.ToLower(c.UserID)]; ok {
			calls[id] = append(calls[id], c)
		}
	}
	for id := range calls {
		slices.SortStableFunc(calls[id], func(a, b Call) int { return a.Time.Compare(b.Time) })
	}
	completions := map[string][]Outcome{}
	settles := map[string][]Outcome{} // failed attempts to complete
	for _, o := range h.Outcomes {
		switch o.Kind {
		case OutcomeCompleted, OutcomeCoalesced:
			completions[o.MessageID] = append(completions[o.MessageID], o)
		case OutcomeSettleFailed, OutcomeLockLost:
			settles[o.MessageID] = append(settles[o.MessageID], o)
		}
	}
	queued := map[string]int{}
	for _, id := range h.Queued {
		queued[id]++
	}
	dead := map[string][]DeadLetter{}
	for _, d := range h.DeadLetters {
		dead[d.MessageID] = append(dead[d.MessageID], d)
	}
	violate := func(id string, r Rule, format string, args ...any) {
		rep.Violations = append(rep.Violations, Violation{MessageID: id, Rule: r, Detail: fmt.Sprintf(format, args...)})
	}
	for _, id := range slices.Sorted(maps.Keys(queued)) {
		if _, ok := byID[id]; !ok {
			violate(id, RuleUnknownMessage, "queued at the end but never sent")
		}
	}
	for _, id := range slices.Sorted(maps.Keys(dead)) {
		if _, ok := byID[id]; !ok {
			violate(id, RuleUnknownMessage, "dead-lettered but never sent")
		}
	}

	for _, m := range h.Sent {
		cs := calls[m.ID]
		nq, nd, done := queued[m.ID], len(dead[m.ID]), completions[m.ID]
		switch {
		case nq+nd > 1:
			violate(m.ID, RuleTwoEndStates, "%d copies queued and %d dead-lettered at the end", nq, nd)
		case nq+nd == 1 && len(done) > 0:
			violate(m.ID, RuleTwoEndStates, "still present at the end after %s logged completing it at %s",
				done[0].Worker, done[0].Time.Format(time.RFC3339Nano))
		}
		switch {
		case nq > 0:
			rep.Queued++
		case nd > 0:
			rep.DeadLettered++
			d := dead[m.ID][0]
			if why := justify(m, d, cs, h.MaxDeliveryCount); why != "" {
				violate(m.ID, RuleUnjustifiedDeadLetter, "reason %s: %s", d.Reason, why)
			}
		default:
			firstOK := -1
			for i, c := range cs {
				if is2xx(c.Status) {
					firstOK = i
					break
				}
			}
			if firstOK < 0 {
				rep.Lost++
				violate(m.ID, RuleLost, "gone from the queue and the dead-letter queue, but user %s never got a 2xx (%d calls)", m.UserID, len(cs))
				break
			}
			rep.Completed++
			if len(done) == 0 && !sawSettle(settles[m.ID], cs) && !killedAfter(h.Kills, cs[firstOK].Time) {
				violate(m.ID, RuleLost, "gone with a 2xx at %s but no worker logged settling it after a 2xx and no kill came after",
					cs[firstOK].Time.Format(time.RFC3339Nano))
			}
		}
		for _, o := range done {
			if !named2xx(cs, o) {
				violate(m.ID, RuleCompletedWithout2xx, "%s logged %s naming client-request-id %q, which is no 2xx call for %s before %s",
					o.Worker, o.Kind, o.ClientRequestID, m.UserID, o.Time.Format(time.RFC3339Nano))
			}
		}
		var prev *Call
		for i := range cs {
			c := &cs[i]
			if !is2xx(c.Status) {
				continue
			}
			if prev != nil {
				rep.Duplicates++
				if killedBetween(h.Kills, prev.Time, c.Time) {
					rep.ExplainedDuplicates++
				} else {
					violate(m.ID, RuleUnexplainedDuplicate, "user %s got 2xx at %s (client-request-id %s) and again at %s (%s) with no kill between",
						m.UserID, prev.Time.Format(time.RFC3339Nano), prev.ClientRequestID, c.Time.Format(time.RFC3339Nano), c.ClientRequestID)
				}
			}
			prev = c
		}
	}
	return rep, nil
}

// justify returns "" when d's reason is borne out by the message's Graph
// calls (or its delivery count), else why not.
func justify(m Message, d DeadLetter, cs []Call, maxDelivery int) string {
	if d.Reason == dlq.ReasonMaxDeliveryCountExceeded {
		if maxDelivery > 0 && int(d.DeliveryCount) >= maxDelivery {
			return ""
		}
		return fmt.Sprintf("delivery count %d is below the queue's MaxDeliveryCount %d", d.DeliveryCount, maxDelivery)
	}
	if d.Reason == dlq.ReasonInvalidMessage {
		switch {
		case !m.Invalid:
			return "the message was valid"
		case len(cs) > 0:
			return fmt.Sprintf("Graph was called %d times for it", len(cs))
		}
		return ""
	}
	for _, c := range cs {
		if is2xx(c.Status) {
			return fmt.Sprintf("user %s got %d at %s", m.UserID, c.Status, c.Time.Format(time.RFC3339Nano))
		}
	}
	var named *Call
	for i := range cs {
		if d.ClientRequestID != "" && cs[i].ClientRequestID == d.ClientRequestID {
			named = &cs[i]
		}
	}
	if named == nil {
		return fmt.Sprintf("no Graph call for %s has client-request-id %q", m.UserID, d.ClientRequestID)
	}
	st := named.Status
	switch d.Reason {
	case dlq.ReasonUserNotFound:
		if st == 404 {
			return ""
		}
	case dlq.ReasonGraphRejected:
		if st >= 400 && st < 500 && !transientOrSystemic(st) && st != 404 || st == 501 {
			return ""
		}
	case dlq.ReasonRetriesExhausted:
		if st == 0 || st == 408 || st == 409 || st >= 500 && st != 501 {
			return ""
		}
	default:
		return "not a reason licensefix or Service Bus writes for a valid message"
	}
	return fmt.Sprintf("the call it names (%s) was answered %d", d.ClientRequestID, st)
}

// transientOrSystemic reports the 4xx statuses that never justify a
// permanent dead letter: 408 and 409 are retried, 429 is throttling, 401
// and 403 pause the worker.
func transientOrSystemic(st int) bool {
	return st == 401 || st == 403 || st == 408 || st == 409 || st == 429
}

func is2xx(st int) bool { return st >= 200 && st < 300 }

// named2xx reports whether o names a 2xx call in cs made before o.
func named2xx(cs []Call, o Outcome) bool {
	for _, c := range cs {
		if c.ClientRequestID == o.ClientRequestID && is2xx(c.Status) && !c.Time.After(o.Time) {
			return true
		}
	}
	return false
}

// sawSettle reports whether one of os (failed settlements) names a 2xx
// call in cs: the worker saw the 2xx and tried to complete, and the broker
// may have completed the message although the answer never arrived.
func sawSettle(os []Outcome, cs []Call) bool {
	for _, o := range os {
		if o.ClientRequestID != "" && named2xx(cs, o) {
			return true
		}
	}
	return false
}

func killedAfter(kills []Kill, t time.Time) bool {
	for _, k := range kills {
		if !k.Time.Before(t) {
			return true
		}
	}
	return false
}

func killedBetween(kills []Kill, from, to time.Time) bool {
	for _, k := range kills {
		if !k.Time.Before(from) && !k.Time.After(to) {
			return true
		}
	}
	return false
}
