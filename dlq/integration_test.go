package dlq_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/dlq"
	"github.com/licensefix/licensefix/sbemu"
)

const queue = "license-fixed"

// harness is an emulator with one queue and an SDK client on it.
type harness struct {
	srv    *sbemu.Server
	client *azservicebus.Client
}

type harnessOptions struct {
	duplicateDetection bool
	lockDuration       time.Duration
}

func newHarness(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	if o.lockDuration == 0 {
		o.lockDuration = time.Minute
	}
	cfg := &sbemu.Config{UserConfig: sbemu.UserConfig{Namespaces: []sbemu.Namespace{{
		Name: "sbemulatorns",
		Queues: []sbemu.Queue{{Name: queue, Properties: sbemu.QueueProperties{
			LockDuration:                        sbemu.Duration(o.lockDuration),
			MaxDeliveryCount:                    10,
			RequiresDuplicateDetection:          o.duplicateDetection,
			DuplicateDetectionHistoryTimeWindow: sbemu.Duration(10 * time.Minute),
		}}},
	}}}}
	return newHarnessWithConfig(t, cfg)
}

// newHarnessWithConfig starts an emulator with cfg and a client to it.
func newHarnessWithConfig(t *testing.T, cfg *sbemu.Config) *harness {
	t.Helper()
	srv, err := sbemu.NewServer(&sbemu.Options{TB: t, Config: cfg})
	require.NoError(t, err)
	client, err := azservicebus.NewClientFromConnectionString(srv.ConnectionString(), nil)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Close(ctx)
	})
	return &harness{srv: srv, client: client}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// seed describes one message to put in the dead-letter queue the way the
// worker does.
type seed struct {
	userID string
	reason string
	code   string         // Graph error code, if any
	body   string         // overrides the body built from userID
	props  map[string]any // application properties set when sending
}

// deadLetter sends each message to the queue, receives it and dead-letters
// it with reason, description and the worker's properties. DLQ sequence
// numbers follow the order of seeds.
func (h *harness) deadLetter(t *testing.T, seeds ...seed) {
	t.Helper()
	ctx := testCtx(t)
	sender, err := h.client.NewSender(queue, nil)
	require.NoError(t, err)
	defer sender.Close(ctx)
	rcv, err := h.client.NewReceiverForQueue(queue, nil)
	require.NoError(t, err)
	defer rcv.Close(ctx)
	for i, s := range seeds {
		body := s.body
		if body == "" {
			body = fmt.Sprintf(`{"userId":%q}`, s.userID)
		}
		id := fmt.Sprintf("msg-%d-%s", i, strings.ReplaceAll(s.userID, "@", "_"))
		require.NoError(t, sender.SendMessage(ctx, &azservicebus.Message{
			MessageID: &id, Body: []byte(body), ContentType: ptr("application/json"), CorrelationID: ptr("corr-" + id),
			ApplicationProperties: s.props,
		}, nil))
		msgs, err := rcv.ReceiveMessages(ctx, 1, nil)
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		require.Equal(t, id, msgs[0].MessageID)
		props := map[string]any{
			dlq.PropReason: s.reason, dlq.PropAttempts: int32(2), dlq.PropDeadLetteredAt: time.Now().UTC().Format(time.RFC3339),
			dlq.PropClientRequestID: "client-" + id, dlq.PropGraphRequestID: "graph-" + id,
		}
		if s.userID != "" && s.body == "" {
			props[dlq.PropUserID] = s.userID
		}
		if s.code != "" {
			props[dlq.PropGraphErrorCode] = s.code
			props[dlq.PropHTTPStatus] = int32(400)
		}
		require.NoError(t, rcv.DeadLetterMessage(ctx, msgs[0], &azservicebus.DeadLetterOptions{
			Reason: &s.reason, ErrorDescription: ptr("description of " + s.reason), PropertiesToModify: props,
		}))
	}
}

func ptr[T any](v T) *T { return &v }

// snap is what must not change on a message that replay does not touch.
type snap struct {
	seq      int64
	id       string
	state    azservicebus.MessageState
	delivery uint32
}

func (h *harness) peek(t *testing.T, subQueue azservicebus.SubQueue) []*azservicebus.ReceivedMessage {
	t.Helper()
	ctx := testCtx(t)
	rcv, err := h.client.NewReceiverForQueue(queue, &azservicebus.ReceiverOptions{SubQueue: subQueue})
	require.NoError(t, err)
	defer rcv.Close(ctx)
	var out []*azservicebus.ReceivedMessage
	from := int64(1)
	for {
		page, err := rcv.PeekMessages(ctx, 100, &azservicebus.PeekMessagesOptions{FromSequenceNumber: &from})
		require.NoError(t, err)
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		from = *page[len(page)-1].SequenceNumber + 1
	}
}

func (h *harness) dlqSnaps(t *testing.T) []snap {
	t.Helper()
	var out []snap
	for _, m := range h.peek(t, azservicebus.SubQueueDeadLetter) {
		out = append(out, snap{*m.SequenceNumber, m.MessageID, m.State, m.DeliveryCount})
	}
	return out
}

func (h *harness) queueMessages(t *testing.T) map[string]*azservicebus.ReceivedMessage {
	t.Helper()
	out := map[string]*azservicebus.ReceivedMessage{}
	for _, m := range h.peek(t, 0) {
		require.NotContains(t, out, m.MessageID, "duplicate message id in the queue")
		out[m.MessageID] = m
	}
	return out
}

func (h *harness) open(t *testing.T) *dlq.Endpoints {
	t.Helper()
	ep, err := dlq.Open(h.client, queue)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = ep.Close(ctx)
	})
	return ep
}

func (h *harness) dlqReceiver(t *testing.T) *azservicebus.Receiver {
	t.Helper()
	rcv, err := h.client.NewReceiverForQueue(queue, &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = rcv.Close(ctx)
	})
	return rcv
}

func bySeq(snaps []snap, seq int64) snap {
	for _, s := range snaps {
		if s.seq == seq {
			return s
		}
	}
	return snap{}
}

var mixed = []seed{
	{userID: "alice@contoso.com", reason: dlq.ReasonUserNotFound, code: "Request_ResourceNotFound"},
	{userID: "bob@contoso.com", reason: dlq.ReasonGraphRejected, code: "Request_BadRequest"},
	{userID: "carol@contoso.com", reason: dlq.ReasonUserNotFound},
	{userID: "dave@contoso.com", reason: dlq.ReasonRetriesExhausted, code: "TooManyRequests"},
	{userID: "alice@contoso.com", reason: dlq.ReasonGraphRejected, code: "Request_BadRequest"},
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.deadLetter(t, mixed...)
	before := h.dlqSnaps(t)
	rcv := h.dlqReceiver(t)
	ctx := testCtx(t)

	seqs := func(es []dlq.Entry) []int64 {
		var out []int64
		for _, e := range es {
			out = append(out, e.SequenceNumber)
		}
		return out
	}
	all, err := dlq.List(ctx, rcv, dlq.Filter{}, nil)
	require.NoError(t, err)
	require.Len(t, all, 5)
	first := all[0].SequenceNumber
	assert.Equal(t, dlq.ReasonUserNotFound, all[0].Reason)
	assert.Equal(t, "description of UserNotFound", all[0].Description)
	assert.Equal(t, "alice@contoso.com", all[0].UserID)
	assert.Equal(t, "Request_ResourceNotFound", all[0].GraphErrorCode)
	assert.Equal(t, dlq.StateActive, all[0].State)
	assert.Equal(t, "client-msg-0-alice_contoso.com", all[0].ApplicationProperties[dlq.PropClientRequestID])

	got, err := dlq.List(ctx, rcv, dlq.Filter{Reasons: []string{"usernotfound"}}, nil)
	require.NoError(t, err)
	assert.Equal(t, []int64{first, first + 2}, seqs(got))

	got, err = dlq.List(ctx, rcv, dlq.Filter{UserIDs: []string{"ALICE@contoso.com"}}, nil)
	require.NoError(t, err)
	assert.Equal(t, []int64{first, first + 4}, seqs(got))

	got, err = dlq.List(ctx, rcv, dlq.Filter{Reasons: []string{dlq.ReasonGraphRejected}, UserIDs: []string{"alice@contoso.com"}}, nil)
	require.NoError(t, err)
	assert.Equal(t, []int64{first + 4}, seqs(got))

	got, err = dlq.List(ctx, rcv, dlq.Filter{}, &dlq.ListOptions{Limit: 2, PageSize: 1})
	require.NoError(t, err)
	assert.Equal(t, []int64{first, first + 1}, seqs(got))

	now := time.Now()
	got, err = dlq.List(ctx, rcv, dlq.Filter{Since: now.Add(-time.Hour), Until: now.Add(time.Hour)}, nil)
	require.NoError(t, err)
	assert.Len(t, got, 5)
	got, err = dlq.List(ctx, rcv, dlq.Filter{Since: now.Add(time.Hour)}, nil)
	require.NoError(t, err)
	assert.Empty(t, got)
	got, err = dlq.List(ctx, rcv, dlq.Filter{Until: now.Add(-time.Hour)}, nil)
	require.NoError(t, err)
	assert.Empty(t, got)

	s := dlq.Summarize(all)
	assert.Equal(t, 5, s.Total)
	assert.Equal(t, dlq.ReasonGraphRejected, s.Reasons[0].Reason)
	assert.Equal(t, []dlq.CodeCount{{Code: "Request_BadRequest", Count: 2}}, s.Reasons[0].GraphErrorCodes)

	assert.Equal(t, before, h.dlqSnaps(t), "listing changes nothing")
}

func TestReplayByReasonDefersOnlyWhatStandsBefore(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.deadLetter(t, mixed...)
	before := h.dlqSnaps(t)
	first := before[0].seq
	ep := h.open(t)
	ctx := testCtx(t)

	var progress []int
	rep, err := dlq.Replay(ctx, ep, dlq.ReplayOptions{
		Filter:   dlq.Filter{Reasons: []string{dlq.ReasonUserNotFound}},
		Progress: func(done, total int) { progress = append(progress, done, total) },
	})
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%+v", rep.Failed)
	assert.Equal(t, 2, rep.Matched)
	require.Len(t, rep.Replayed, 2)
	assert.Equal(t, []int64{first + 1}, rep.Deferred, "only bob stood before a match")
	assert.Equal(t, []int{1, 2, 2, 2}, progress)

	// The copies: same body, content type, correlation id and custom
	// properties; no dead-letter properties; replay count and origin.
	q := h.queueMessages(t)
	require.Len(t, q, 2)
	copyA := q[dlq.ReplayMessageID("msg-0-alice_contoso.com", first, 1)]
	require.NotNil(t, copyA, "copy ids: %v", keys(q))
	assert.JSONEq(t, `{"userId":"alice@contoso.com"}`, string(copyA.Body))
	assert.Equal(t, "application/json", *copyA.ContentType)
	assert.Equal(t, "corr-msg-0-alice_contoso.com", *copyA.CorrelationID)
	assert.Equal(t, int64(1), copyA.ApplicationProperties[dlq.PropReplayCount])
	assert.Equal(t, dlq.ReasonUserNotFound, copyA.ApplicationProperties[dlq.PropReplayedFrom])
	for _, k := range []string{"DeadLetterReason", "DeadLetterErrorDescription", dlq.PropReason, dlq.PropUserID,
		dlq.PropGraphErrorCode, dlq.PropHTTPStatus, dlq.PropAttempts, dlq.PropClientRequestID, dlq.PropGraphRequestID, dlq.PropDeadLetteredAt} {
		assert.NotContains(t, copyA.ApplicationProperties, k)
	}
	assert.Nil(t, copyA.DeadLetterReason)
	require.NotNil(t, q[dlq.ReplayMessageID("msg-2-carol_contoso.com", first+2, 1)])

	// What stays: bob deferred, dave and alice's second untouched, all with
	// their sequence numbers and delivery counts.
	after := h.dlqSnaps(t)
	require.Len(t, after, 3)
	for _, seq := range []int64{first + 1, first + 3, first + 4} {
		b, a := bySeq(before, seq), bySeq(after, seq)
		assert.Equal(t, b.id, a.id)
		assert.Equal(t, b.delivery, a.delivery, "delivery count of %d", seq)
	}
	assert.Equal(t, azservicebus.MessageStateDeferred, bySeq(after, first+1).state)
	assert.Equal(t, azservicebus.MessageStateActive, bySeq(after, first+3).state, "after the last match: never locked")
	assert.Equal(t, azservicebus.MessageStateActive, bySeq(after, first+4).state)

	// List shows the deferred message like any other.
	all, err := dlq.List(ctx, ep.DeadLetter, dlq.Filter{}, nil)
	require.NoError(t, err)
	require.Len(t, all, 3)
	assert.Equal(t, dlq.StateDeferred, all[0].State)

	// A second replay reaches the deferred message by sequence number.
	rep, err = dlq.Replay(ctx, ep, dlq.ReplayOptions{Filter: dlq.Filter{Reasons: []string{dlq.ReasonGraphRejected}}})
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%+v", rep.Failed)
	assert.Len(t, rep.Replayed, 2)
	assert.Equal(t, []int64{first + 3}, rep.Deferred, "dave stood before alice's second")
	assert.Len(t, h.queueMessages(t), 4)
	after = h.dlqSnaps(t)
	require.Len(t, after, 1)
	assert.Equal(t, snap{first + 3, before[3].id, azservicebus.MessageStateDeferred, before[3].delivery}, after[0])
}

func keys(m map[string]*azservicebus.ReceivedMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestReplayByUserAndMax(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.deadLetter(t, mixed...)
	before := h.dlqSnaps(t)
	first := before[0].seq
	ep := h.open(t)
	ctx := testCtx(t)

	rep, err := dlq.Replay(ctx, ep, dlq.ReplayOptions{Filter: dlq.Filter{UserIDs: []string{"alice@contoso.com"}}, Max: 1})
	require.NoError(t, err)
	assert.Equal(t, 2, rep.Matched)
	assert.Equal(t, 1, rep.NotSelected)
	require.Len(t, rep.Replayed, 1)
	assert.Equal(t, first, rep.Replayed[0].SequenceNumber)
	assert.Empty(t, rep.Deferred, "the first message matched: nothing else was received")
	assert.Len(t, h.queueMessages(t), 1)
	assert.Equal(t, before[1:], h.dlqSnaps(t), "everything else untouched")

	rep, err = dlq.Replay(ctx, ep, dlq.ReplayOptions{Filter: dlq.Filter{UserIDs: []string{"alice@contoso.com"}}})
	require.NoError(t, err)
	require.Len(t, rep.Replayed, 1)
	assert.Equal(t, first+4, rep.Replayed[0].SequenceNumber)
	assert.Equal(t, []int64{first + 1, first + 2, first + 3}, rep.Deferred)
	assert.Len(t, h.queueMessages(t), 2)
}

func TestReplayDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.deadLetter(t, mixed...)
	before := h.dlqSnaps(t)
	first := before[0].seq
	ep := h.open(t)
	var logs strings.Builder
	logger := slog.New(slog.NewJSONHandler(&syncWriter{w: &logs}, nil))
	filter := dlq.Filter{Reasons: []string{dlq.ReasonGraphRejected}}

	rep, err := dlq.Replay(testCtx(t), ep, dlq.ReplayOptions{Filter: filter, DryRun: true, Logger: logger, Actor: "ops", Host: "box"})
	require.NoError(t, err)
	assert.True(t, rep.DryRun)
	require.Len(t, rep.Planned, 2)
	assert.Equal(t, before[1].seq, rep.Planned[0].SequenceNumber)
	assert.Equal(t, dlq.ReplayMessageID(before[1].id, before[1].seq, 1), rep.Planned[0].NewMessageID)
	assert.Equal(t, "bob@contoso.com", rep.Planned[0].UserID)
	assert.Empty(t, rep.Replayed)
	// bob (seq+1) and alice's second (seq+4) match; alice, carol and dave
	// stand before alice's second and would be deferred.
	assert.Equal(t, []int64{first, first + 2, first + 3}, rep.Deferred)
	assert.Equal(t, fmt.Sprintf("dry run: would replay 2, skipped 0; would defer 3 non-matching messages standing before a match (sequence numbers %d,%d,%d); they would remain in the DLQ, listed as deferred", first, first+2, first+3), rep.String())

	assert.Equal(t, before, h.dlqSnaps(t))
	assert.Empty(t, h.queueMessages(t))
	lines := auditLines(t, logs.String())
	require.Len(t, lines, 2)
	for _, l := range lines {
		assert.Equal(t, "ops", l["actor"])
		assert.Equal(t, "box", l["host"])
		assert.Equal(t, true, l["dry_run"])
		assert.Equal(t, "reason=GraphRejected user_id=any since=any until=any", l["filter"])
	}

	// The real run defers exactly what the dry run announced.
	real, err := dlq.Replay(testCtx(t), ep, dlq.ReplayOptions{Filter: filter})
	require.NoError(t, err)
	assert.True(t, real.OK(), "%+v", real.Failed)
	assert.Len(t, real.Replayed, 2)
	assert.Equal(t, rep.Deferred, real.Deferred)
}

// auditLines returns the replay_audit lines of a JSON log.
func auditLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		if m["msg"] == "replay_audit" {
			out = append(out, m)
		}
	}
	return out
}

func TestReplayAuditStartAndEnd(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{lockDuration: 2 * time.Second})
	h.deadLetter(t, seed{userID: "a@contoso.com", reason: dlq.ReasonGraphRejected}, seed{userID: "b@contoso.com", reason: dlq.ReasonGraphRejected})
	// A third message without a message id.
	ctx := testCtx(t)
	sender, err := h.client.NewSender(queue, nil)
	require.NoError(t, err)
	require.NoError(t, sender.SendMessage(ctx, &azservicebus.Message{Body: []byte(`{"userId":"noid@contoso.com"}`)}, nil))
	require.NoError(t, sender.Close(ctx))
	rcv, err := h.client.NewReceiverForQueue(queue, nil)
	require.NoError(t, err)
	got, err := rcv.ReceiveMessages(ctx, 1, nil)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Empty(t, got[0].MessageID, "the emulator keeps a message without id")
	require.NoError(t, rcv.DeadLetterMessage(ctx, got[0], &azservicebus.DeadLetterOptions{Reason: ptr(dlq.ReasonGraphRejected)}))
	require.NoError(t, rcv.Close(ctx))
	before := h.dlqSnaps(t)
	noIDSeq := before[2].seq

	var logs strings.Builder
	logger := slog.New(slog.NewJSONHandler(&syncWriter{w: &logs}, nil))
	// Killed while holding the second message: the start line is already
	// written, so a replay that never ends still leaves a trace.
	errKilled := errors.New("killed")
	var atKill []map[string]any
	_, err = dlq.Replay(testCtx(t), h.open(t), dlq.ReplayOptions{Logger: logger, Actor: "ops", Host: "box", Rate: 50,
		AfterReceive: func(_ context.Context, p dlq.Planned) error {
			if p.SequenceNumber == before[1].seq {
				atKill = auditLines(t, logs.String())
				return errKilled
			}
			return nil
		}})
	require.ErrorIs(t, err, errKilled)
	require.Len(t, atKill, 1, "only the start line exists while the replay runs")
	start := atKill[0]
	assert.Equal(t, "start", start["phase"])
	assert.Equal(t, "ops", start["actor"])
	assert.Equal(t, "box", start["host"])
	assert.Equal(t, "reason=any user_id=any since=any until=any", start["filter"])
	assert.InDelta(t, 50, start["rate"], 0)
	assert.NotEmpty(t, start["replay_id"])
	assert.NotContains(t, start, "replayed")

	// The next run (the held lock expires first) replays the rest; its end
	// line names the message without id by sequence number.
	logs.Reset()
	rep, err := dlq.Replay(testCtx(t), h.open(t), dlq.ReplayOptions{Logger: logger, Actor: "ops", Host: "box", ReceiveTimeout: 20 * time.Second})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%+v", rep.Failed)
	lines := auditLines(t, logs.String())
	require.Len(t, lines, 2)
	assert.Equal(t, "start", lines[0]["phase"])
	end := lines[1]
	assert.Equal(t, "end", end["phase"])
	assert.Equal(t, lines[0]["replay_id"], end["replay_id"], "start and end lines correlate")
	assert.NotEqual(t, start["replay_id"], end["replay_id"])
	assert.InDelta(t, 2, end["replayed"], 0)
	assert.InDelta(t, 0, end["failed"], 0)
	assert.Equal(t, false, end["interrupted"])
	noIDRef := fmt.Sprintf("seq:%d", noIDSeq)
	assert.ElementsMatch(t, []any{before[1].id, noIDRef}, end["planned_messages"])
	assert.ElementsMatch(t, []any{
		before[1].id + "->" + dlq.ReplayMessageID(before[1].id, before[1].seq, 1),
		noIDRef + "->" + dlq.ReplayMessageID("", noIDSeq, 1),
	}, end["replayed_messages"])
	assert.NotContains(t, logs.String(), `""`, "no message shows as an empty string")
}

type syncWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func TestReplayLoopProtection(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.deadLetter(t,
		seed{userID: "loop@contoso.com", reason: dlq.ReasonGraphRejected, props: map[string]any{dlq.PropReplayCount: int64(3), "custom": "kept"}},
		seed{userID: "fresh@contoso.com", reason: dlq.ReasonGraphRejected, props: map[string]any{dlq.PropReplayCount: int64(2)}},
	)
	before := h.dlqSnaps(t)
	ep := h.open(t)
	ctx := testCtx(t)

	rep, err := dlq.Replay(ctx, ep, dlq.ReplayOptions{})
	require.NoError(t, err)
	require.Len(t, rep.Skipped, 1)
	assert.Equal(t, dlq.SkipReplayLimit, rep.Skipped[0].Why)
	assert.Equal(t, before[0].seq, rep.Skipped[0].SequenceNumber)
	require.Len(t, rep.Replayed, 1)
	assert.Equal(t, []int64{before[0].seq}, rep.Deferred, "the skipped message stood before the match")
	q := h.queueMessages(t)
	fresh := q[dlq.ReplayMessageID(before[1].id, before[1].seq, 3)]
	require.NotNil(t, fresh, "ids: %v", keys(q))
	assert.Equal(t, int64(3), fresh.ApplicationProperties[dlq.PropReplayCount])
	assert.Contains(t, rep.String(), "skipped 1 (replay limit 1)")

	rep, err = dlq.Replay(ctx, ep, dlq.ReplayOptions{MaxReplays: 5})
	require.NoError(t, err)
	require.Len(t, rep.Replayed, 1, "a higher limit lets it through")
	q = h.queueMessages(t)
	loop := q[dlq.ReplayMessageID(before[0].id, before[0].seq, 4)]
	require.NotNil(t, loop, "ids: %v", keys(q))
	assert.Equal(t, int64(4), loop.ApplicationProperties[dlq.PropReplayCount])
	assert.Equal(t, "kept", loop.ApplicationProperties["custom"])
	assert.Empty(t, h.dlqSnaps(t))
}

func TestReplayForceBeyondLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.deadLetter(t, seed{userID: "loop@contoso.com", reason: dlq.ReasonRetriesExhausted, props: map[string]any{dlq.PropReplayCount: int32(7)}})
	rep, err := dlq.Replay(testCtx(t), h.open(t), dlq.ReplayOptions{Force: true})
	require.NoError(t, err)
	assert.Empty(t, rep.Skipped)
	require.Len(t, rep.Replayed, 1)
	assert.Len(t, h.queueMessages(t), 1)
}

func TestReplaySkipsInvalidBodies(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.deadLetter(t,
		seed{userID: "good@contoso.com", reason: dlq.ReasonGraphRejected},
		seed{body: `{"userId":"not a user"}`, reason: dlq.ReasonGraphRejected},
	)
	before := h.dlqSnaps(t)
	rep, err := dlq.Replay(testCtx(t), h.open(t), dlq.ReplayOptions{})
	require.NoError(t, err)
	require.Len(t, rep.Skipped, 1)
	assert.Equal(t, dlq.SkipInvalid, rep.Skipped[0].Why)
	assert.Contains(t, rep.Skipped[0].Detail, "userId")
	assert.Len(t, rep.Replayed, 1)
	assert.True(t, rep.OK())
	assert.Equal(t, before[1:], h.dlqSnaps(t), "the invalid message is untouched")
}

func TestReplayInterruptedThenRerun(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{duplicateDetection: true, lockDuration: 2 * time.Second})
	h.deadLetter(t,
		seed{userID: "a1@contoso.com", reason: dlq.ReasonRetriesExhausted},
		seed{userID: "b@contoso.com", reason: dlq.ReasonUserNotFound},
		seed{userID: "a2@contoso.com", reason: dlq.ReasonRetriesExhausted},
		seed{userID: "a3@contoso.com", reason: dlq.ReasonRetriesExhausted},
	)
	before := h.dlqSnaps(t)
	ep := h.open(t)
	filter := dlq.Filter{Reasons: []string{dlq.ReasonRetriesExhausted}}

	// Run 1 crashes right after the second copy was confirmed.
	errKilled := errors.New("killed")
	sends := 0
	rep, err := dlq.Replay(testCtx(t), ep, dlq.ReplayOptions{Filter: filter, AfterSend: func(context.Context, dlq.Moved) error {
		sends++
		if sends == 2 {
			return errKilled
		}
		return nil
	}})
	require.ErrorIs(t, err, errKilled)
	require.Len(t, rep.Replayed, 1)
	q := h.queueMessages(t)
	assert.Len(t, q, 2, "two copies sent")
	dl := h.dlqSnaps(t)
	assert.Len(t, dl, 3, "a2 is in both the queue and the DLQ: never neither")

	// Run 2, on fresh links, once a2's lock has expired: a2's copy is
	// recognised and only the original completed; a3 is replayed.
	ep2 := h.open(t)
	rep, err = dlq.Replay(testCtx(t), ep2, dlq.ReplayOptions{Filter: filter, ReceiveTimeout: 20 * time.Second})
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%+v", rep.Failed)
	require.Len(t, rep.Recovered, 1)
	assert.Equal(t, before[2].seq, rep.Recovered[0].SequenceNumber)
	require.Len(t, rep.Replayed, 1)
	assert.Equal(t, before[3].seq, rep.Replayed[0].SequenceNumber)

	q = h.queueMessages(t)
	assert.Len(t, q, 3, "exactly one copy each: %v", keys(q))
	for _, i := range []int{0, 2, 3} {
		assert.Contains(t, q, dlq.ReplayMessageID(before[i].id, before[i].seq, 1))
	}
	dl = h.dlqSnaps(t)
	require.Len(t, dl, 1)
	assert.Equal(t, snap{before[1].seq, before[1].id, azservicebus.MessageStateDeferred, before[1].delivery}, dl[0])
}

func TestReplayRerunAfterCopyConsumedReliesOnDuplicateDetection(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{duplicateDetection: true, lockDuration: 2 * time.Second})
	h.deadLetter(t, seed{userID: "a@contoso.com", reason: dlq.ReasonGraphRejected})
	ep := h.open(t)
	errKilled := errors.New("killed")
	_, err := dlq.Replay(testCtx(t), ep, dlq.ReplayOptions{AfterSend: func(context.Context, dlq.Moved) error { return errKilled }})
	require.ErrorIs(t, err, errKilled)

	// The worker consumes the copy before the re-run.
	rcv, err := h.client.NewReceiverForQueue(queue, nil)
	require.NoError(t, err)
	msgs, err := rcv.ReceiveMessages(testCtx(t), 1, nil)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.NoError(t, rcv.CompleteMessage(testCtx(t), msgs[0], nil))
	require.NoError(t, rcv.Close(testCtx(t)))

	rep, err := dlq.Replay(testCtx(t), h.open(t), dlq.ReplayOptions{ReceiveTimeout: 20 * time.Second})
	require.NoError(t, err)
	require.Len(t, rep.Replayed, 1, "the copy is gone, so it is sent again...")
	assert.Empty(t, h.queueMessages(t), "...and the broker's duplicate detection drops it")
	assert.Empty(t, h.dlqSnaps(t))
}

func TestReplayReportsMatchLockedElsewhere(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.deadLetter(t,
		seed{userID: "locked@contoso.com", reason: dlq.ReasonGraphRejected},
		seed{userID: "free@contoso.com", reason: dlq.ReasonGraphRejected},
	)
	// Someone else holds the first message.
	other := h.dlqReceiver(t)
	held, err := other.ReceiveMessages(testCtx(t), 1, nil)
	require.NoError(t, err)
	require.Len(t, held, 1)

	rep, err := dlq.Replay(testCtx(t), h.open(t), dlq.ReplayOptions{ReceiveTimeout: time.Second})
	require.NoError(t, err)
	require.Len(t, rep.Replayed, 1)
	require.Len(t, rep.Failed, 1)
	assert.Equal(t, *held[0].SequenceNumber, rep.Failed[0].SequenceNumber)
	assert.False(t, rep.Failed[0].Sent)
	assert.False(t, rep.OK())
	assert.Contains(t, rep.String(), "failed 1")
	require.NoError(t, other.AbandonMessage(testCtx(t), held[0], nil))
	assert.Len(t, h.dlqSnaps(t), 1)
}

func TestReplayRateLimits(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.deadLetter(t, seed{userID: "a@contoso.com", reason: dlq.ReasonGraphRejected}, seed{userID: "b@contoso.com", reason: dlq.ReasonGraphRejected})
	var mu sync.Mutex
	var at []time.Time
	rep, err := dlq.Replay(testCtx(t), h.open(t), dlq.ReplayOptions{Rate: 5, AfterSend: func(context.Context, dlq.Moved) error {
		mu.Lock()
		at = append(at, time.Now())
		mu.Unlock()
		return nil
	}})
	require.NoError(t, err)
	require.Len(t, rep.Replayed, 2)
	require.Len(t, at, 2)
	assert.GreaterOrEqual(t, at[1].Sub(at[0]), 150*time.Millisecond, "sends are spaced by about 1/rate")
}

func TestReplayEmptyDLQ(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	rep, err := dlq.Replay(testCtx(t), h.open(t), dlq.ReplayOptions{})
	require.NoError(t, err)
	assert.Equal(t, "replayed 0, skipped 0, failed 0", rep.String())
	_, err = dlq.Replay(testCtx(t), h.open(t), dlq.ReplayOptions{Max: -1})
	require.Error(t, err)
}

// TestReplayRateSlowerThanLockMovesEachOnce paces sends further apart than
// the lock lasts. The pacing happens before each receive, so no lock runs
// out between receive and complete, and every match moves exactly once; the
// non-matching messages between them are deferred without costing a send
// slot.
func TestReplayRateSlowerThanLockMovesEachOnce(t *testing.T) {
	t.Parallel()
	const lock = 2 * time.Second
	const rate = 0.35 // one send per 2.9 s, longer than the lock
	h := newHarness(t, harnessOptions{lockDuration: lock})
	h.deadLetter(t,
		seed{userID: "a@contoso.com", reason: dlq.ReasonRetriesExhausted},
		seed{userID: "x@contoso.com", reason: dlq.ReasonUserNotFound},
		seed{userID: "b@contoso.com", reason: dlq.ReasonRetriesExhausted},
		seed{userID: "y@contoso.com", reason: dlq.ReasonUserNotFound},
		seed{userID: "c@contoso.com", reason: dlq.ReasonRetriesExhausted},
	)
	before := h.dlqSnaps(t)
	var mu sync.Mutex
	var sentAt []time.Time
	rep, err := dlq.Replay(testCtx(t), h.open(t), dlq.ReplayOptions{
		Filter: dlq.Filter{Reasons: []string{dlq.ReasonRetriesExhausted}}, Rate: rate,
		AfterSend: func(context.Context, dlq.Moved) error {
			mu.Lock()
			sentAt = append(sentAt, time.Now())
			mu.Unlock()
			return nil
		},
	})
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%+v", rep.Failed)
	require.Len(t, rep.Replayed, 3)
	assert.Equal(t, []int64{before[1].seq, before[3].seq}, rep.Deferred)
	require.Len(t, sentAt, 3)
	for i := 1; i < len(sentAt); i++ {
		assert.Greater(t, sentAt[i].Sub(sentAt[i-1]), lock, "the test really paces slower than the lock")
	}
	// The waits happened while nothing was locked: no lock needed renewing
	// (a renewal comes after half the lock, 1 s, far more than a loopback
	// send and complete take). Pacing after the receive would hold each
	// message through a 2.9 s wait and renew it at least twice.
	assert.Zero(t, rep.LockRenewals, "no message was held through a pacing wait")

	q := h.queueMessages(t)
	assert.Len(t, q, 3, "exactly one copy each: %v", keys(q))
	for _, i := range []int{0, 2, 4} {
		assert.Contains(t, q, dlq.ReplayMessageID(before[i].id, before[i].seq, 1))
	}
	left := h.dlqSnaps(t)
	require.Len(t, left, 2, "no original left behind in the DLQ")
	for j, i := range []int{1, 3} {
		assert.Equal(t, snap{before[i].seq, before[i].id, azservicebus.MessageStateDeferred, before[i].delivery}, left[j])
	}
}

// TestReplayRenewsTheLockItHolds holds a received message three times as
// long as its lock before sending: the lock is renewed and the message
// still moves exactly once.
func TestReplayRenewsTheLockItHolds(t *testing.T) {
	t.Parallel()
	const lock = time.Second
	h := newHarness(t, harnessOptions{lockDuration: lock})
	h.deadLetter(t, seed{userID: "a@contoso.com", reason: dlq.ReasonGraphRejected}, seed{userID: "b@contoso.com", reason: dlq.ReasonGraphRejected})
	before := h.dlqSnaps(t)
	rep, err := dlq.Replay(testCtx(t), h.open(t), dlq.ReplayOptions{AfterReceive: func(ctx context.Context, p dlq.Planned) error {
		if p.SequenceNumber == before[0].seq {
			time.Sleep(3 * lock)
		}
		return nil
	}})
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%+v", rep.Failed)
	require.Len(t, rep.Replayed, 2)
	assert.GreaterOrEqual(t, rep.LockRenewals, 2)
	assert.Len(t, h.queueMessages(t), 2)
	assert.Empty(t, h.dlqSnaps(t))
}

// TestReplayCtrlCBeforeSendAbandons cancels the replay after a selected
// message was received and before its copy was sent: the message is
// abandoned, not left locked, so an immediate second run moves it.
func TestReplayCtrlCBeforeSendAbandons(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{}) // one-minute lock: an expiry cannot help the re-run
	h.deadLetter(t,
		seed{userID: "a@contoso.com", reason: dlq.ReasonGraphRejected},
		seed{userID: "b@contoso.com", reason: dlq.ReasonGraphRejected},
		seed{userID: "c@contoso.com", reason: dlq.ReasonGraphRejected},
	)
	before := h.dlqSnaps(t)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	rep, err := dlq.Replay(ctx, h.open(t), dlq.ReplayOptions{AfterReceive: func(_ context.Context, p dlq.Planned) error {
		if p.SequenceNumber == before[1].seq {
			cancel()
		}
		return nil
	}})
	require.ErrorIs(t, err, context.Canceled)
	assert.True(t, rep.Interrupted)
	require.Len(t, rep.Replayed, 1)
	require.Len(t, rep.Abandoned, 1)
	assert.Equal(t, before[1].seq, rep.Abandoned[0].SequenceNumber)
	assert.Empty(t, rep.Failed)
	assert.Equal(t, 2, rep.Unhandled)
	assert.Equal(t, "replayed 1, skipped 0, failed 0; interrupted: 2 selected not handled and still in the DLQ (1 received and abandoned unchanged)", rep.String())
	assert.Len(t, h.queueMessages(t), 1, "nothing sent for the abandoned message")
	after := h.dlqSnaps(t)
	require.Len(t, after, 2)
	assert.Equal(t, azservicebus.MessageStateActive, after[0].state)
	assert.Equal(t, before[1].delivery+1, after[0].delivery, "abandoned once")
	assert.Equal(t, before[2], after[1], "the message not reached is untouched")

	rep, err = dlq.Replay(testCtx(t), h.open(t), dlq.ReplayOptions{ReceiveTimeout: 2 * time.Second})
	require.NoError(t, err)
	assert.True(t, rep.OK(), "not locked by the interrupted run: %+v", rep.Failed)
	assert.Len(t, rep.Replayed, 2)
	assert.Len(t, h.queueMessages(t), 3)
	assert.Empty(t, h.dlqSnaps(t))
}

// TestReplayCtrlCAfterSendFinishes cancels the replay once a copy has been
// sent and before its original is completed: that message is still
// completed (never in both places), the rest is untouched and unlocked.
func TestReplayCtrlCAfterSendFinishes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.deadLetter(t,
		seed{userID: "a@contoso.com", reason: dlq.ReasonGraphRejected},
		seed{userID: "b@contoso.com", reason: dlq.ReasonGraphRejected},
	)
	before := h.dlqSnaps(t)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	rep, err := dlq.Replay(ctx, h.open(t), dlq.ReplayOptions{AfterSend: func(context.Context, dlq.Moved) error {
		cancel()
		return nil
	}})
	require.ErrorIs(t, err, context.Canceled)
	assert.True(t, rep.Interrupted)
	require.Len(t, rep.Replayed, 1)
	assert.Empty(t, rep.Abandoned)
	assert.Equal(t, 1, rep.Unhandled)
	assert.Len(t, h.queueMessages(t), 1)
	assert.Equal(t, before[1:], h.dlqSnaps(t), "no message in both places, the rest untouched")

	rep, err = dlq.Replay(testCtx(t), h.open(t), dlq.ReplayOptions{ReceiveTimeout: 2 * time.Second})
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%+v", rep.Failed)
	assert.Len(t, rep.Replayed, 1)
	assert.Empty(t, rep.Recovered, "the first message was finished, not left for recovery")
	assert.Len(t, h.queueMessages(t), 2)
}

// TestReplayCtrlCWhilePacingLocksNothing cancels a replay waiting for its
// next send slot: nothing is locked during that wait, so an immediate second
// run takes the remaining message.
func TestReplayCtrlCWhilePacingLocksNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.deadLetter(t,
		seed{userID: "a@contoso.com", reason: dlq.ReasonGraphRejected},
		seed{userID: "b@contoso.com", reason: dlq.ReasonGraphRejected},
	)
	before := h.dlqSnaps(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rep, err := dlq.Replay(ctx, h.open(t), dlq.ReplayOptions{Rate: 0.001, Progress: func(done, _ int) {
		if done == 1 {
			time.AfterFunc(300*time.Millisecond, cancel) // while the replay waits ~17 minutes for its slot
		}
	}})
	require.ErrorIs(t, err, context.Canceled)
	assert.True(t, rep.Interrupted)
	require.Len(t, rep.Replayed, 1)
	assert.Empty(t, rep.Abandoned)
	assert.Equal(t, before[1:], h.dlqSnaps(t))

	rep, err = dlq.Replay(testCtx(t), h.open(t), dlq.ReplayOptions{ReceiveTimeout: 2 * time.Second})
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%+v", rep.Failed)
	assert.Len(t, rep.Replayed, 1)
}

// TestReplayCtrlCOnDeferredMatchKeepsItDeferred interrupts the replay of a
// match fetched by sequence number: abandoning it returns it to the
// deferred state, where the next run fetches it again.
func TestReplayCtrlCOnDeferredMatchKeepsItDeferred(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.deadLetter(t,
		seed{userID: "x@contoso.com", reason: dlq.ReasonUserNotFound},
		seed{userID: "a@contoso.com", reason: dlq.ReasonGraphRejected},
	)
	before := h.dlqSnaps(t)
	// Defer x by replaying a.
	_, err := dlq.Replay(testCtx(t), h.open(t), dlq.ReplayOptions{Filter: dlq.Filter{Reasons: []string{dlq.ReasonGraphRejected}}})
	require.NoError(t, err)
	require.Equal(t, azservicebus.MessageStateDeferred, h.dlqSnaps(t)[0].state)

	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	rep, err := dlq.Replay(ctx, h.open(t), dlq.ReplayOptions{AfterReceive: func(context.Context, dlq.Planned) error {
		cancel()
		return nil
	}})
	require.ErrorIs(t, err, context.Canceled)
	require.Len(t, rep.Abandoned, 1)
	left := h.dlqSnaps(t)
	require.Len(t, left, 1)
	assert.Equal(t, before[0].seq, left[0].seq)
	assert.Equal(t, azservicebus.MessageStateDeferred, left[0].state)

	rep, err = dlq.Replay(testCtx(t), h.open(t), dlq.ReplayOptions{})
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%+v", rep.Failed)
	assert.Len(t, rep.Replayed, 1)
	assert.Empty(t, h.dlqSnaps(t))
}

func TestReplayRerunRecognisesCopyDeadLetteredAgain(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{lockDuration: 2 * time.Second})
	h.deadLetter(t, seed{userID: "a@contoso.com", reason: dlq.ReasonRetriesExhausted})
	orig := h.dlqSnaps(t)[0]
	errKilled := errors.New("killed")
	_, err := dlq.Replay(testCtx(t), h.open(t), dlq.ReplayOptions{AfterSend: func(context.Context, dlq.Moved) error { return errKilled }})
	require.ErrorIs(t, err, errKilled)

	// The worker fails the copy again and dead-letters it.
	ctx := testCtx(t)
	rcv, err := h.client.NewReceiverForQueue(queue, nil)
	require.NoError(t, err)
	msgs, err := rcv.ReceiveMessages(ctx, 1, nil)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	copyID := dlq.ReplayMessageID(orig.id, orig.seq, 1)
	require.Equal(t, copyID, msgs[0].MessageID)
	reason := dlq.ReasonRetriesExhausted
	require.NoError(t, rcv.DeadLetterMessage(ctx, msgs[0], &azservicebus.DeadLetterOptions{Reason: &reason}))
	require.NoError(t, rcv.Close(ctx))

	// The re-run finds the copy in the DLQ: the original is only completed,
	// and the copy (a real new failure) is replayed as its second replay.
	rep, err := dlq.Replay(testCtx(t), h.open(t), dlq.ReplayOptions{ReceiveTimeout: 20 * time.Second})
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%+v", rep.Failed)
	require.Len(t, rep.Recovered, 1)
	assert.Equal(t, orig.seq, rep.Recovered[0].SequenceNumber)
	require.Len(t, rep.Replayed, 1)
	assert.Equal(t, copyID, rep.Replayed[0].MessageID)
	q := h.queueMessages(t)
	require.Len(t, q, 1)
	for id, m := range q {
		assert.True(t, strings.HasPrefix(id, orig.id+"-replay2-seq"), id)
		assert.Equal(t, int64(2), m.ApplicationProperties[dlq.PropReplayCount])
	}
	assert.Empty(t, h.dlqSnaps(t))
}
