package chaos

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// two is the base of the synthetic histories: m1 (user u1) and m2 (u2).
func two() History {
	return History{
		Sent:             []Message{{ID: "m1", UserID: "u1@contoso.com"}, {ID: "m2", UserID: "u2@contoso.com"}},
		MaxDeliveryCount: 10,
	}
}

func call(s float64, user, crid string, status int) Call {
	return Call{Time: at(s), UserID: user, ClientRequestID: crid, Status: status}
}

func done(s float64, id, crid string) Outcome {
	return Outcome{Time: at(s), Worker: "w1", MessageID: id, Kind: OutcomeCompleted, ClientRequestID: crid}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		edit  func(h *History)
		rules []Rule // the violations expected, in order
		want  func(t *testing.T, r Report)
	}{
		{
			name: "both completed after a 2xx",
			edit: func(h *History) {
				h.Calls = []Call{call(1, "u1@contoso.com", "c1", 200), call(1, "U2@contoso.com", "c2", 204)}
				h.Outcomes = []Outcome{done(1.2, "m1", "c1"), done(1.3, "m2", "c2")}
			},
			want: func(t *testing.T, r Report) { assert.Equal(t, 2, r.Completed) },
		},
		{
			name: "retries after errors are not duplicates",
			edit: func(h *History) {
				h.Calls = []Call{call(1, "u1@contoso.com", "c1", 0), call(2, "u1@contoso.com", "c2", 503),
					call(3, "u1@contoso.com", "c3", 429), call(4, "u1@contoso.com", "c4", 200)}
				h.Outcomes = []Outcome{done(4.1, "m1", "c4")}
				h.Queued = []string{"m2"}
			},
			want: func(t *testing.T, r Report) {
				assert.Equal(t, 0, r.Duplicates)
				assert.Equal(t, 1, r.Queued)
			},
		},
		{
			name: "a coalesced redelivery names the earlier 2xx",
			edit: func(h *History) {
				h.Calls = []Call{call(1, "u1@contoso.com", "c1", 200)}
				h.Outcomes = []Outcome{{Time: at(1.1), MessageID: "m1", Kind: OutcomeSettleFailed, ClientRequestID: "c1"},
					{Time: at(9), MessageID: "m1", Kind: OutcomeCoalesced, ClientRequestID: "c1"}}
				h.Queued = []string{"m2"}
			},
			want: func(t *testing.T, r Report) { assert.Equal(t, 1, r.Completed) },
		},
		{
			name: "a duplicate with a kill between is explained",
			edit: func(h *History) {
				h.Calls = []Call{call(1, "u1@contoso.com", "c1", 200), call(7, "u1@contoso.com", "c2", 200)}
				h.Kills = []Kill{{Time: at(1.05), Worker: "w1"}}
				h.Outcomes = []Outcome{done(7.1, "m1", "c2")}
				h.Queued = []string{"m2"}
			},
			want: func(t *testing.T, r Report) {
				assert.Equal(t, 1, r.Duplicates)
				assert.Equal(t, 1, r.ExplainedDuplicates)
			},
		},
		{
			name: "gone without a completion line, explained by a later kill",
			edit: func(h *History) {
				h.Calls = []Call{call(1, "u1@contoso.com", "c1", 200)}
				h.Kills = []Kill{{Time: at(1.2)}}
				h.Queued = []string{"m2"}
			},
			want: func(t *testing.T, r Report) { assert.Equal(t, 1, r.Completed) },
		},
		{
			name: "gone after a failed settlement that names the 2xx",
			edit: func(h *History) {
				h.Calls = []Call{call(1, "u1@contoso.com", "c1", 200)}
				h.Outcomes = []Outcome{{Time: at(31), MessageID: "m1", Kind: OutcomeSettleFailed, ClientRequestID: "c1"}}
				h.Queued = []string{"m2"}
			},
			want: func(t *testing.T, r Report) { assert.Equal(t, 1, r.Completed) },
		},
		{
			name: "must fail: gone after a 2xx nobody acted on",
			edit: func(h *History) {
				h.Calls = []Call{call(1, "u1@contoso.com", "c1", 200)}
				h.Outcomes = []Outcome{{Time: at(31), MessageID: "m1", Kind: OutcomeSettleFailed, ClientRequestID: "c0"}}
				h.Kills = []Kill{{Time: at(0.5)}}
				h.Queued = []string{"m2"}
			},
			rules: []Rule{RuleLost},
			want:  func(t *testing.T, r Report) { assert.Zero(t, r.Lost, "a 2xx was seen: not work lost, but unexplained") },
		},
		{
			name: "justified dead letters",
			edit: func(h *History) {
				h.Sent = append(h.Sent, Message{ID: "m3", UserID: "u3"}, Message{ID: "m4", UserID: "u4"},
					Message{ID: "m5", UserID: "u5", Invalid: true}, Message{ID: "m6", UserID: "u6"})
				h.Calls = []Call{call(1, "u1@contoso.com", "c1", 404), call(1, "u2@contoso.com", "c2", 400),
					call(1, "u3", "c3", 503), call(2, "u3", "c4", 0), call(1, "u4", "c5", 501)}
				h.DeadLetters = []DeadLetter{{MessageID: "m1", Reason: "UserNotFound", ClientRequestID: "c1"},
					{MessageID: "m2", Reason: "GraphRejected", ClientRequestID: "c2"},
					{MessageID: "m3", Reason: "RetriesExhausted", ClientRequestID: "c4"},
					{MessageID: "m4", Reason: "GraphRejected", ClientRequestID: "c5"},
					{MessageID: "m5", Reason: "InvalidMessage"},
					{MessageID: "m6", Reason: "MaxDeliveryCountExceeded", DeliveryCount: 10}}
			},
			want: func(t *testing.T, r Report) { assert.Equal(t, 6, r.DeadLettered) },
		},
		{
			name: "must fail: completed without a 2xx",
			edit: func(h *History) {
				h.Calls = []Call{call(1, "u1@contoso.com", "c1", 503), call(2, "u1@contoso.com", "c2", 200)}
				h.Outcomes = []Outcome{done(1.1, "m1", "c1")}
				h.Queued = []string{"m2"}
			},
			rules: []Rule{RuleCompletedWithout2xx},
		},
		{
			name: "must fail: completion names a 2xx made after it",
			edit: func(h *History) {
				h.Calls = []Call{call(5, "u1@contoso.com", "c1", 200)}
				h.Outcomes = []Outcome{done(1, "m1", "c1")}
				h.Queued = []string{"m2"}
			},
			rules: []Rule{RuleCompletedWithout2xx},
		},
		{
			name: "must fail: gone and never a 2xx",
			edit: func(h *History) {
				h.Calls = []Call{call(1, "u1@contoso.com", "c1", 0)}
				h.Queued = []string{"m2"}
			},
			rules: []Rule{RuleLost},
			want:  func(t *testing.T, r Report) { assert.Equal(t, 1, r.Lost) },
		},
		{
			name: "must fail: neither completed nor dead-lettered nor queued",
			edit: func(h *History) {
				h.Calls = []Call{call(1, "u1@contoso.com", "c1", 200), call(1, "u2@contoso.com", "c2", 200)}
				h.Outcomes = []Outcome{done(1.1, "m1", "c1"), {Time: at(1.1), MessageID: "m2", Kind: OutcomeAbandoned}}
			},
			rules: []Rule{RuleLost},
		},
		{
			name: "must fail: an unexplained duplicate",
			edit: func(h *History) {
				h.Calls = []Call{call(1, "u1@contoso.com", "c1", 200), call(7, "u1@contoso.com", "c2", 200)}
				h.Kills = []Kill{{Time: at(0.5)}, {Time: at(8)}}
				h.Outcomes = []Outcome{done(1.1, "m1", "c1"), done(7.1, "m1", "c2")}
				h.Queued = []string{"m2"}
			},
			rules: []Rule{RuleUnexplainedDuplicate},
			want: func(t *testing.T, r Report) {
				assert.Equal(t, 1, r.Duplicates)
				assert.Equal(t, 0, r.ExplainedDuplicates)
			},
		},
		{
			name: "must fail: dead letters the history does not justify",
			edit: func(h *History) {
				h.Sent = append(h.Sent, Message{ID: "m3", UserID: "u3"}, Message{ID: "m4", UserID: "u4"}, Message{ID: "m5", UserID: "u5"})
				h.Calls = []Call{call(1, "u1@contoso.com", "c1", 503), call(1, "u2@contoso.com", "c2", 429),
					call(1, "u3", "c3", 200), call(2, "u3", "c4", 404)}
				h.DeadLetters = []DeadLetter{{MessageID: "m1", Reason: "UserNotFound", ClientRequestID: "c1"},
					{MessageID: "m2", Reason: "GraphRejected", ClientRequestID: "c2"},
					{MessageID: "m3", Reason: "UserNotFound", ClientRequestID: "c4"},
					{MessageID: "m4", Reason: "InvalidMessage"},
					{MessageID: "m5", Reason: "MaxDeliveryCountExceeded", DeliveryCount: 3}}
			},
			rules: []Rule{RuleUnjustifiedDeadLetter, RuleUnjustifiedDeadLetter, RuleUnjustifiedDeadLetter,
				RuleUnjustifiedDeadLetter, RuleUnjustifiedDeadLetter},
		},
		{
			name: "must fail: two end states and a stranger",
			edit: func(h *History) {
				h.Calls = []Call{call(1, "u1@contoso.com", "c1", 200)}
				h.Outcomes = []Outcome{done(1.1, "m1", "c1")}
				h.Queued = []string{"m1", "m2", "x9"}
				h.DeadLetters = []DeadLetter{{MessageID: "m2", Reason: "MaxDeliveryCountExceeded", DeliveryCount: 10}}
			},
			rules: []Rule{RuleUnknownMessage, RuleTwoEndStates, RuleTwoEndStates},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := two()
			tc.edit(&h)
			r, err := Check(h)
			require.NoError(t, err)
			var got []Rule
			for _, v := range r.Violations {
				got = append(got, v.Rule)
			}
			assert.Equal(t, tc.rules, got, "%s", r)
			assert.Equal(t, len(tc.rules) == 0, r.OK())
			if tc.want != nil {
				tc.want(t, r)
			}
		})
	}
}

func TestCheckRefusesAmbiguousHistories(t *testing.T) {
	t.Parallel()
	_, err := Check(History{Sent: []Message{{ID: "m1", UserID: "u"}, {ID: "m1", UserID: "v"}}})
	require.ErrorContains(t, err, "sent twice")
	_, err = Check(History{Sent: []Message{{ID: "m1", UserID: "u"}, {ID: "m2", UserID: "U"}}})
	require.ErrorContains(t, err, "share user")
}
