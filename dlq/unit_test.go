package dlq

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ptr[T any](v T) *T { return &v }

func TestFilterMatch(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	e := Entry{Reason: "GraphRejected", UserID: "Alice@Contoso.com", EnqueuedTime: t0}
	tests := []struct {
		name string
		f    Filter
		want bool
	}{
		{"zero filter matches", Filter{}, true},
		{"reason case-insensitive", Filter{Reasons: []string{"graphrejected"}}, true},
		{"one of several reasons", Filter{Reasons: []string{"UserNotFound", "GraphRejected"}}, true},
		{"other reason", Filter{Reasons: []string{"UserNotFound"}}, false},
		{"user case-insensitive", Filter{UserIDs: []string{"alice@contoso.com"}}, true},
		{"other user", Filter{UserIDs: []string{"bob@contoso.com"}}, false},
		{"since inclusive", Filter{Since: t0}, true},
		{"since after", Filter{Since: t0.Add(time.Second)}, false},
		{"until inclusive", Filter{Until: t0}, true},
		{"until before", Filter{Until: t0.Add(-time.Second)}, false},
		{"all fields", Filter{Reasons: []string{"GraphRejected"}, UserIDs: []string{"alice@contoso.com"}, Since: t0.Add(-time.Hour), Until: t0.Add(time.Hour)}, true},
		{"all but one field", Filter{Reasons: []string{"GraphRejected"}, UserIDs: []string{"alice@contoso.com"}, Since: t0.Add(time.Hour)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, tc.f.Match(e))
		})
	}
	assert.False(t, Filter{UserIDs: []string{"x@y.com"}}.Match(Entry{}), "entry without user id never matches a user filter")
}

func TestFilterValidateAndString(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	require.Error(t, Filter{Since: t0, Until: t0.Add(-time.Minute)}.Validate())
	require.NoError(t, Filter{Since: t0, Until: t0}.Validate())
	assert.Equal(t, "reason=a,b user_id=any since=2026-11-28T12:00:00Z until=any",
		Filter{Reasons: []string{"a", "b"}, Since: t0}.String())
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2026-11-27T10:00:00Z", time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)},
		{"2026-11-27T10:00:00.5+01:00", time.Date(2026, 11, 27, 9, 0, 0, 5e8, time.UTC)},
		{"24h", now.Add(-24 * time.Hour)},
		{" 90m ", now.Add(-90 * time.Minute)},
		{"7d", now.Add(-7 * 24 * time.Hour)},
		{"0s", now},
	}
	for _, tc := range tests {
		got, err := ParseTime(tc.in, now)
		require.NoError(t, err, tc.in)
		assert.True(t, tc.want.Equal(got), "%s: got %s", tc.in, got)
	}
	for _, bad := range []string{"", "yesterday", "-24h", "2026-11-27", "1.5d", "-1d", "99999999d"} {
		_, err := ParseTime(bad, now)
		assert.Error(t, err, bad)
	}
}

func TestReplayMessageID(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "abc-replay1-seq42", ReplayMessageID("abc", 42, 1))
	assert.Equal(t, ReplayMessageID("abc", 42, 1), ReplayMessageID("abc", 42, 1), "deterministic")
	assert.NotEqual(t, ReplayMessageID("abc", 42, 1), ReplayMessageID("abc", 43, 1), "sequence number matters")
	assert.NotEqual(t, ReplayMessageID("abc", 42, 1), ReplayMessageID("abc", 42, 2), "replay count matters")
	// A copy dead-lettered again and replayed: suffix replaced, not grown.
	assert.Equal(t, "abc-replay2-seq57", ReplayMessageID("abc-replay1-seq42", 57, 2))
	// Not a replay suffix: kept.
	assert.Equal(t, "a-replayX-seq1-replay1-seq2", ReplayMessageID("a-replayX-seq1", 2, 1))
	// Long ids fall back to a hash that still fits.
	long := strings.Repeat("x", 128)
	id := ReplayMessageID(long, 7, 1)
	assert.LessOrEqual(t, len(id), 128)
	assert.True(t, strings.HasPrefix(id, "replay1-"))
	assert.NotEqual(t, id, ReplayMessageID(long, 8, 1))
	assert.Equal(t, id, ReplayMessageID(long, 7, 1))
	// Never the original id itself.
	self := "m-replay1-seq5"
	assert.NotEqual(t, self, ReplayMessageID(self, 5, 1))
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	entries := []Entry{
		{Reason: ReasonGraphRejected, GraphErrorCode: "Request_BadRequest"},
		{Reason: ReasonGraphRejected, GraphErrorCode: "Request_BadRequest"},
		{Reason: ReasonGraphRejected},
		{Reason: ReasonRetriesExhausted, GraphErrorCode: "TooManyRequests"},
		{Reason: ReasonUserNotFound, GraphErrorCode: "Request_ResourceNotFound"},
		{Reason: ReasonUserNotFound},
		{Reason: ReasonInvalidMessage},
	}
	s := Summarize(entries)
	assert.Equal(t, Summary{Total: 7, Reasons: []ReasonSummary{
		{Reason: ReasonGraphRejected, Count: 3, GraphErrorCodes: []CodeCount{{"Request_BadRequest", 2}, {"", 1}}},
		{Reason: ReasonUserNotFound, Count: 2},
		{Reason: ReasonInvalidMessage, Count: 1},
		{Reason: ReasonRetriesExhausted, Count: 1, GraphErrorCodes: []CodeCount{{"TooManyRequests", 1}}},
	}}, s)
	assert.Equal(t, Summary{Total: 0, Reasons: []ReasonSummary{}}, Summarize(nil))

	var b bytes.Buffer
	require.NoError(t, WriteSummary(&b, s))
	assert.Equal(t, `REASON                COUNT
GraphRejected         3
  Request_BadRequest  2
  (no code)           1
UserNotFound          2
InvalidMessage        1
RetriesExhausted      1
  TooManyRequests     1
TOTAL                 7
`, b.String())
}

func TestWriteTable(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	require.NoError(t, WriteTable(&b, []Entry{
		{SequenceNumber: 3, EnqueuedTime: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC), State: StateActive,
			Reason: ReasonGraphRejected, UserID: "alice@contoso.com", DeliveryCount: 1,
			Description: "Graph said no:\tline one\nline two \x1b[31mred" + strings.Repeat(" long", 20)},
		{SequenceNumber: 12, State: StateDeferred, DeliveryCount: 4},
	}))
	assert.Equal(t, `SEQ  ENQUEUED              STATE     REASON         USER               DELIVERIES  DESCRIPTION
3    2026-11-28T12:00:00Z  active    GraphRejected  alice@contoso.com  1           Graph said no: line one line two [31mred long long long long…
12   -                     deferred  -              -                  4           -
`, b.String())
	assert.NotContains(t, b.String(), "\x1b")
}

func TestNewEntry(t *testing.T) {
	t.Parallel()
	enq := time.Date(2026, 11, 28, 12, 0, 0, 0, time.FixedZone("x", 3600))
	m := &azservicebus.ReceivedMessage{
		MessageID: "m1", SequenceNumber: ptr(int64(9)), EnqueuedTime: &enq, DeliveryCount: 2,
		State: azservicebus.MessageStateDeferred, ContentType: ptr("application/json"),
		DeadLetterReason: ptr(ReasonGraphRejected), DeadLetterErrorDescription: ptr("no"),
		ApplicationProperties: map[string]any{PropGraphErrorCode: "Request_BadRequest", PropReplayCount: int32(2)},
		Body:                  []byte(`{"userId":"alice@contoso.com"}`),
	}
	e := NewEntry(m)
	assert.Equal(t, int64(9), e.SequenceNumber)
	assert.Equal(t, StateDeferred, e.State)
	assert.Equal(t, enq.UTC(), e.EnqueuedTime)
	assert.Equal(t, "alice@contoso.com", e.UserID, "from the body")
	assert.Equal(t, "Request_BadRequest", e.GraphErrorCode)
	assert.Equal(t, 2, e.ReplayCount)
	assert.Empty(t, e.Invalid)
	assert.Equal(t, `{"userId":"alice@contoso.com"}`, e.Body)

	m.ApplicationProperties[PropUserID] = "bob@contoso.com"
	assert.Equal(t, "bob@contoso.com", NewEntry(m).UserID, "property wins over the body")

	bad := &azservicebus.ReceivedMessage{MessageID: "m2", Body: []byte{0xff, 0xfe},
		ApplicationProperties: map[string]any{PropDeadLetterReason: ReasonInvalidMessage, PropReplayCount: "x"}}
	e = NewEntry(bad)
	assert.Equal(t, ReasonInvalidMessage, e.Reason, "reason from the property")
	assert.Equal(t, StateActive, e.State)
	assert.NotEmpty(t, e.Invalid)
	assert.Empty(t, e.UserID)
	assert.Equal(t, 0, e.ReplayCount)
	assert.Equal(t, []byte{0xff, 0xfe}, e.BodyBase64)
}

func TestIntProp(t *testing.T) {
	t.Parallel()
	for _, v := range []any{int(3), int8(3), int16(3), int32(3), int64(3), uint8(3), uint16(3), uint32(3), uint64(3), " 3 "} {
		n, ok := intProp(map[string]any{"k": v}, "k")
		assert.True(t, ok, "%T", v)
		assert.Equal(t, 3, n, "%T", v)
	}
	_, ok := intProp(map[string]any{"k": 3.5}, "k")
	assert.False(t, ok)
	_, ok = intProp(nil, "k")
	assert.False(t, ok)
	n, _ := intProp(map[string]any{"k": int64(1) << 40}, "k")
	assert.Equal(t, 1<<31-1, n)
}

func TestReplayCopy(t *testing.T) {
	t.Parallel()
	m := &azservicebus.ReceivedMessage{
		MessageID: "orig", Body: []byte("body"), ContentType: ptr("application/json"), CorrelationID: ptr("corr"),
		Subject: ptr("subj"),
		ApplicationProperties: map[string]any{
			"custom": "kept", PropDeadLetterReason: "GraphRejected", PropDeadLetterDescription: "d",
			PropReason: "x", PropHTTPStatus: int32(400), PropGraphErrorCode: "c", PropGraphRequestID: "r",
			PropClientRequestID: "cr", PropAttempts: int32(3), PropUserID: "u", PropDeadLetteredAt: "t",
			PropInvalidField: "f", PropReplayCount: int64(1), PropReplayedFrom: "UserNotFound",
		},
	}
	c := replayCopy(m, &Planned{NewMessageID: "orig-replay2-seq4", Reason: ReasonGraphRejected, ReplayCount: 1}, "")
	assert.Equal(t, "orig-replay2-seq4", *c.MessageID)
	assert.Equal(t, []byte("body"), c.Body)
	assert.Equal(t, "application/json", *c.ContentType)
	assert.Equal(t, "corr", *c.CorrelationID)
	assert.Equal(t, "subj", *c.Subject)
	assert.Equal(t, map[string]any{"custom": "kept", PropReplayCount: int64(2), PropReplayedFrom: ReasonGraphRejected}, c.ApplicationProperties)
	assert.Len(t, m.ApplicationProperties, 14, "the original's map is not modified")
}

func TestReplayCopyForASubscription(t *testing.T) {
	t.Parallel()
	m := &azservicebus.ReceivedMessage{MessageID: "orig", Body: []byte("body"),
		ApplicationProperties: map[string]any{"custom": "kept", PropReplayTo: "elsewhere", PropDeadLetterReason: "GraphRejected"}}
	p := &Planned{NewMessageID: "orig-replay1-seq7", Reason: ReasonGraphRejected}
	c := replayCopy(m, p, "licensefix")
	assert.Equal(t, map[string]any{"custom": "kept", PropReplayCount: int64(1), PropReplayedFrom: ReasonGraphRejected, PropReplayTo: "licensefix"},
		c.ApplicationProperties, "the copy names this subscription, whatever the original named")
	c = replayCopy(m, p, "")
	assert.NotContains(t, c.ApplicationProperties, PropReplayTo, "a queue's copy names no subscription")
}

func TestPacerHoldsAnUnspentSlot(t *testing.T) {
	t.Parallel()
	// One send an hour: only the first slot is free. rate.Limiter's Wait
	// fails at once when the wait would outlast the context's deadline, so
	// "would have to wait" shows without any clock.
	p := newPacer(1.0 / 3600)
	short := func() context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		t.Cleanup(cancel)
		return ctx
	}
	require.NoError(t, p.acquire(short()), "the first send does not wait")
	require.NoError(t, p.acquire(short()), "a slot not yet spent (message deferred, not sent) is kept")
	p.spend()
	err := p.acquire(short())
	require.Error(t, err, "after a send the next one waits for the rate")
	assert.NotErrorIs(t, err, context.DeadlineExceeded, "reported before the deadline, as the wait would outlast it")

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, p.acquire(cancelled), context.Canceled)
	assert.ErrorIs(t, newPacer(0).acquire(cancelled), context.Canceled, "a cancelled replay stops even without a limit")

	unlimited := newPacer(0)
	for range 3 {
		require.NoError(t, unlimited.acquire(short()))
		unlimited.spend()
	}
}

func TestReportString(t *testing.T) {
	t.Parallel()
	r := &Report{
		Replayed:    []Moved{{}, {}},
		Recovered:   []Moved{{}},
		Skipped:     []Skipped{{Why: SkipReplayLimit}, {Why: SkipInvalid}, {Why: SkipReplayLimit}},
		NotSelected: 4,
		Failed:      []Failed{{}},
		Deferred:    []int64{1, 2},
	}
	assert.Equal(t, "replayed 3 (1 of them already copied by an earlier run), skipped 3 (invalid body 1, replay limit 2), 4 more matching left by --max, failed 1; deferred 2 non-matching messages (sequence numbers 1,2) to reach the matches; they remain in the DLQ, listed as deferred, and any later replay can fetch them by sequence number", r.String())
	assert.False(t, r.OK())
	assert.Equal(t, "dry run: would replay 2, skipped 0", (&Report{DryRun: true, Planned: []Planned{{}, {}}}).String())
	assert.Equal(t, "dry run: would replay 1, skipped 0; would defer 2 non-matching messages standing before a match (sequence numbers 3,5); they would remain in the DLQ, listed as deferred",
		(&Report{DryRun: true, Planned: []Planned{{}}, Deferred: []int64{3, 5}}).String())
	assert.Equal(t, "replayed 1, skipped 0, failed 0; interrupted: 2 selected not handled and still in the DLQ (1 received and abandoned unchanged)",
		(&Report{Replayed: []Moved{{}}, Interrupted: true, Unhandled: 2, Abandoned: []Moved{{}}}).String())
}

func TestWouldDefer(t *testing.T) {
	t.Parallel()
	entries := []Entry{
		{SequenceNumber: 1, State: StateActive},   // planned
		{SequenceNumber: 2, State: StateActive},   // stands before 4: deferred
		{SequenceNumber: 3, State: StateDeferred}, // already deferred: never received by a plain receive
		{SequenceNumber: 4, State: StateActive},   // planned, the last active one
		{SequenceNumber: 5, State: StateActive},   // after the last match: untouched
		{SequenceNumber: 6, State: StateDeferred}, // planned, fetched by sequence number
	}
	plan := map[int64]*Planned{1: {State: StateActive}, 4: {State: StateActive}, 6: {State: StateDeferred}}
	assert.Equal(t, []int64{2}, wouldDefer(entries, plan))
	assert.Empty(t, wouldDefer(entries, map[int64]*Planned{6: {State: StateDeferred}}), "only deferred matches: nothing is received")
	assert.Empty(t, wouldDefer(entries, map[int64]*Planned{}))
	assert.Equal(t, []int64{1, 2, 4}, wouldDefer(entries, map[int64]*Planned{5: {State: StateActive}}))
}

func TestReplayOptionsValidation(t *testing.T) {
	t.Parallel()
	for _, o := range []ReplayOptions{{Max: -1}, {Rate: -1}, {MaxReplays: -1}, {ReceiveTimeout: -1},
		{Filter: Filter{Since: time.Unix(10, 0), Until: time.Unix(5, 0)}}} {
		_, err := o.withDefaults()
		assert.Error(t, err, "%+v", o)
	}
	o, err := ReplayOptions{}.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, DefaultMaxReplays, o.MaxReplays)
	assert.Equal(t, DefaultReceiveTimeout, o.ReceiveTimeout)
}

func TestEntryJSONSurvivesOddProperties(t *testing.T) {
	t.Parallel()
	e := Entry{SequenceNumber: 1, State: StateActive, ApplicationProperties: map[string]any{
		"nan": math.NaN(), "inf": float32(math.Inf(1)), "n": int64(3), "s": "x", "ch": make(chan int),
		"t": time.Date(2026, 11, 28, 12, 0, 0, 0, time.FixedZone("x", 3600)),
	}}
	b, err := json.Marshal(e)
	require.NoError(t, err)
	var back map[string]any
	require.NoError(t, json.Unmarshal(b, &back))
	props := back["applicationProperties"].(map[string]any)
	assert.Equal(t, "NaN", props["nan"])
	assert.Equal(t, "+Inf", props["inf"])
	assert.InDelta(t, 3, props["n"], 0)
	assert.Equal(t, "2026-11-28T11:00:00Z", props["t"])
	assert.IsType(t, "", props["ch"])
	var round Entry
	require.NoError(t, json.Unmarshal(b, &round))
	assert.Equal(t, int64(1), round.SequenceNumber)
}
