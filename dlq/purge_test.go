package dlq_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/dlq"
)

func selectedSeqs(rep *dlq.PurgeReport) []int64 {
	var out []int64
	for _, s := range rep.Selected {
		out = append(out, s.SequenceNumber)
	}
	return out
}

func TestPurgeDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.deadLetter(t, mixed...)
	before := h.dlqSnaps(t)
	var logs strings.Builder
	logger := slog.New(slog.NewJSONHandler(&syncWriter{w: &logs}, nil))

	rep, err := dlq.Purge(testCtx(t), h.dlqReceiver(t), dlq.PurgeOptions{
		Filter: dlq.Filter{Reasons: []string{dlq.ReasonUserNotFound}}, DryRun: true, Logger: logger, Actor: "ops", Host: "box",
		Confirm: func(context.Context, []dlq.Purgeable) (bool, error) {
			t.Error("a dry run asks nothing")
			return false, nil
		},
	})
	require.NoError(t, err)
	assert.Equal(t, []int64{before[0].seq, before[2].seq}, selectedSeqs(rep))
	assert.Equal(t, "alice@contoso.com", rep.Selected[0].UserID)
	assert.Equal(t, dlq.ReasonUserNotFound, rep.Selected[0].Reason)
	assert.Empty(t, rep.Purged)
	assert.Equal(t, "dry run: would purge 2", rep.String())
	assert.Equal(t, before, h.dlqSnaps(t), "a dry run changes nothing")
	assert.Contains(t, logs.String(), `"msg":"purge_audit"`)
	assert.Contains(t, logs.String(), `"actor":"ops"`)
	assert.Contains(t, logs.String(), `"dry_run":true`)
	assert.Contains(t, logs.String(), `"filter":"reason=UserNotFound user_id=any since=any until=any"`)
	assert.Contains(t, logs.String(), `"selected_message_ids":["msg-0-alice_contoso.com","msg-2-carol_contoso.com"]`)
}

func TestPurgeRemovesOnlyMatches(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.deadLetter(t, mixed...)
	before := h.dlqSnaps(t)
	var logs strings.Builder
	logger := slog.New(slog.NewJSONHandler(&syncWriter{w: &logs}, nil))
	var shown []dlq.Purgeable

	rep, err := dlq.Purge(testCtx(t), h.dlqReceiver(t), dlq.PurgeOptions{
		Filter: dlq.Filter{Reasons: []string{dlq.ReasonUserNotFound}}, Logger: logger, Actor: "ops", Host: "box",
		Confirm: func(_ context.Context, sel []dlq.Purgeable) (bool, error) { shown = sel; return true, nil },
	})
	require.NoError(t, err)
	assert.True(t, rep.OK())
	require.Len(t, shown, 2, "Confirm sees the selection")
	assert.Equal(t, []dlq.Purged{{SequenceNumber: before[0].seq, MessageID: before[0].id}, {SequenceNumber: before[2].seq, MessageID: before[2].id}}, rep.Purged)
	// Bob stood between the two matches: deferred, with his sequence
	// number and delivery count. Dave and the second Alice come after the
	// last match and are never locked.
	assert.Equal(t, []int64{before[1].seq}, rep.Deferred)
	after := h.dlqSnaps(t)
	require.Len(t, after, 3)
	bob := bySeq(after, before[1].seq)
	assert.Equal(t, azservicebus.MessageStateDeferred, bob.state)
	assert.Equal(t, before[1].delivery, bob.delivery)
	assert.Equal(t, before[3], bySeq(after, before[3].seq))
	assert.Equal(t, before[4], bySeq(after, before[4].seq))
	assert.Contains(t, rep.String(), "purged 2, failed 0; deferred 1")
	assert.Contains(t, logs.String(), `"msg":"purge_audit"`)
	assert.Contains(t, logs.String(), `"purged":2`)
	assert.Contains(t, logs.String(), `"purged_message_ids":["msg-0-alice_contoso.com","msg-2-carol_contoso.com"]`)
	assert.Contains(t, logs.String(), `"deferred_sequence_numbers":"`)
}

func TestPurgeReachesDeferredMessages(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.deadLetter(t, mixed...)
	before := h.dlqSnaps(t)
	rcv := h.dlqReceiver(t)
	// A first purge of Carol defers Alice and Bob on the way.
	rep, err := dlq.Purge(testCtx(t), rcv, dlq.PurgeOptions{Filter: dlq.Filter{UserIDs: []string{"carol@contoso.com"}}})
	require.NoError(t, err)
	require.Len(t, rep.Purged, 1)
	assert.Equal(t, []int64{before[0].seq, before[1].seq}, rep.Deferred)

	// A standard receive cannot reach deferred messages; purge fetches them
	// by sequence number.
	rep, err = dlq.Purge(testCtx(t), rcv, dlq.PurgeOptions{Filter: dlq.Filter{Reasons: []string{dlq.ReasonGraphRejected}}})
	require.NoError(t, err)
	assert.True(t, rep.OK())
	assert.Equal(t, []dlq.Purged{{SequenceNumber: before[1].seq, MessageID: before[1].id}, {SequenceNumber: before[4].seq, MessageID: before[4].id}}, rep.Purged)
	after := h.dlqSnaps(t)
	require.Len(t, after, 2)
	assert.Equal(t, before[0].seq, after[0].seq)
	assert.Equal(t, azservicebus.MessageStateDeferred, after[0].state, "the deferred non-match stays")
	assert.Equal(t, before[3].seq, after[1].seq)
}

func TestPurgeDeclinedTouchesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.deadLetter(t, mixed...)
	before := h.dlqSnaps(t)
	rep, err := dlq.Purge(testCtx(t), h.dlqReceiver(t), dlq.PurgeOptions{
		Confirm: func(context.Context, []dlq.Purgeable) (bool, error) { return false, nil },
	})
	require.NoError(t, err)
	assert.True(t, rep.Declined)
	assert.Len(t, rep.Selected, 5)
	assert.Empty(t, rep.Purged)
	assert.Equal(t, "purge cancelled: 5 matching message(s) left in the DLQ", rep.String())
	assert.Equal(t, before, h.dlqSnaps(t))

	boom := errors.New("no terminal")
	rep, err = dlq.Purge(testCtx(t), h.dlqReceiver(t), dlq.PurgeOptions{
		Confirm: func(context.Context, []dlq.Purgeable) (bool, error) { return true, boom },
	})
	require.ErrorIs(t, err, boom)
	assert.True(t, rep.Declined)
	assert.Equal(t, before, h.dlqSnaps(t))
}

func TestPurgeReportsMatchLockedElsewhere(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.deadLetter(t,
		seed{userID: "locked@contoso.com", reason: dlq.ReasonGraphRejected},
		seed{userID: "free@contoso.com", reason: dlq.ReasonGraphRejected},
	)
	other := h.dlqReceiver(t)
	held, err := other.ReceiveMessages(testCtx(t), 1, nil)
	require.NoError(t, err)
	require.Len(t, held, 1)

	rep, err := dlq.Purge(testCtx(t), h.dlqReceiver(t), dlq.PurgeOptions{ReceiveTimeout: time.Second})
	require.NoError(t, err)
	require.Len(t, rep.Purged, 1)
	require.Len(t, rep.Failed, 1)
	assert.Equal(t, *held[0].SequenceNumber, rep.Failed[0].SequenceNumber)
	assert.Equal(t, "msg-0-locked_contoso.com", rep.Failed[0].MessageID)
	assert.False(t, rep.OK())
	require.NoError(t, other.AbandonMessage(testCtx(t), held[0], nil))
	assert.Len(t, h.dlqSnaps(t), 1)
}

func TestPurgeEmptyAndInvalidOptions(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	rep, err := dlq.Purge(testCtx(t), h.dlqReceiver(t), dlq.PurgeOptions{
		Confirm: func(context.Context, []dlq.Purgeable) (bool, error) { t.Error("nothing to confirm"); return false, nil },
	})
	require.NoError(t, err)
	assert.Equal(t, "purged 0, failed 0", rep.String())
	_, err = dlq.Purge(testCtx(t), h.dlqReceiver(t), dlq.PurgeOptions{ReceiveTimeout: -1})
	assert.Error(t, err)
	now := time.Now()
	_, err = dlq.Purge(testCtx(t), h.dlqReceiver(t), dlq.PurgeOptions{Filter: dlq.Filter{Since: now, Until: now.Add(-time.Hour)}})
	assert.Error(t, err)
}

// cancelOnReceive is the real dead-letter receiver with one change: it
// cancels the purge's context as soon as the message with sequence number
// seq has been received, as Ctrl-C between a receive and its settlement
// would.
type cancelOnReceive struct {
	*azservicebus.Receiver
	seq    int64
	cancel context.CancelFunc
}

func (c *cancelOnReceive) ReceiveMessages(ctx context.Context, n int, o *azservicebus.ReceiveMessagesOptions) ([]*azservicebus.ReceivedMessage, error) {
	msgs, err := c.Receiver.ReceiveMessages(ctx, n, o)
	for _, m := range msgs {
		if m.SequenceNumber != nil && *m.SequenceNumber == c.seq {
			c.cancel()
		}
	}
	return msgs, err
}

// purgeInterruptedAt purges the UserNotFound dead letters of mixed (alice
// and carol, with bob between them) and cancels once the message at
// position i has been received. It returns the report, the snapshots taken
// before, and Purge's error.
func purgeInterruptedAt(t *testing.T, h *harness, i int) (*dlq.PurgeReport, []snap, error) {
	t.Helper()
	h.deadLetter(t, mixed...)
	before := h.dlqSnaps(t)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	rep, err := dlq.Purge(ctx, &cancelOnReceive{Receiver: h.dlqReceiver(t), seq: before[i].seq, cancel: cancel},
		dlq.PurgeOptions{Filter: dlq.Filter{Reasons: []string{dlq.ReasonUserNotFound}}})
	return rep, before, err
}

// rerunPurgesCarol purges again at once, with a receive timeout far below
// the harness's one-minute lock: it succeeds only if nothing was left
// locked.
func rerunPurgesCarol(t *testing.T, h *harness, carol snap) {
	t.Helper()
	rep, err := dlq.Purge(testCtx(t), h.dlqReceiver(t), dlq.PurgeOptions{
		Filter: dlq.Filter{Reasons: []string{dlq.ReasonUserNotFound}}, ReceiveTimeout: 2 * time.Second,
	})
	require.NoError(t, err)
	assert.True(t, rep.OK(), "nothing left locked by the interrupted run: %+v", rep.Failed)
	assert.Equal(t, []dlq.Purged{{SequenceNumber: carol.seq, MessageID: carol.id}}, rep.Purged)
}

// TestPurgeCtrlCCompletesTheMatchInHand interrupts a purge between
// receiving a selected message and completing it: the message is still
// completed (not left locked), and the purge stops there.
func TestPurgeCtrlCCompletesTheMatchInHand(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{}) // one-minute lock: an expiry cannot help the re-run
	rep, before, err := purgeInterruptedAt(t, h, 0)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, []dlq.Purged{{SequenceNumber: before[0].seq, MessageID: before[0].id}}, rep.Purged, "the message in hand is completed")
	assert.Empty(t, rep.Failed)
	assert.Empty(t, rep.Deferred, "the purge stopped before bob")
	assert.Equal(t, before[1:], h.dlqSnaps(t), "the rest untouched")
	rerunPurgesCarol(t, h, before[2])
}

// TestPurgeCtrlCDefersTheNonMatchInHand interrupts a purge that has just
// received a message standing before a match: it is deferred (not left
// locked), and the purge stops there.
func TestPurgeCtrlCDefersTheNonMatchInHand(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	rep, before, err := purgeInterruptedAt(t, h, 1)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, []dlq.Purged{{SequenceNumber: before[0].seq, MessageID: before[0].id}}, rep.Purged)
	assert.Equal(t, []int64{before[1].seq}, rep.Deferred)
	assert.Empty(t, rep.Failed)
	after := h.dlqSnaps(t)
	require.Len(t, after, 4)
	assert.Equal(t, azservicebus.MessageStateDeferred, bySeq(after, before[1].seq).state, "bob set aside")
	assert.Equal(t, before[2], bySeq(after, before[2].seq), "carol untouched")
	rerunPurgesCarol(t, h, before[2])
}
