package dlq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

// PurgeOptions configures Purge. The zero value would remove every message
// in the dead-letter queue; callers make the caller's intent explicit (the
// CLI asks for --all when no filter is given).
type PurgeOptions struct {
	// Filter selects the messages to remove.
	Filter Filter
	// DryRun peeks only and reports what would be removed; nothing is
	// locked or removed.
	DryRun bool
	// Confirm, when set, is called with the selected messages after the
	// selection (which locks nothing) and before anything is received.
	// Returning false cancels the purge: nothing is touched and the report
	// says Declined. An error stops the purge the same way and is returned.
	// It is not called for a dry run or when nothing matches.
	Confirm func(ctx context.Context, selected []Purgeable) (bool, error)
	// ReceiveTimeout bounds the wait for each peek-lock receive; a selected
	// message that cannot be received in that time (locked by someone else,
	// or removed) is reported as failed. Default DefaultReceiveTimeout.
	ReceiveTimeout time.Duration
	// PageSize is how many messages each peek asks for; default
	// DefaultPageSize.
	PageSize int
	// Logger receives the purge_audit line and per-message debug lines;
	// nil discards them.
	Logger *slog.Logger
	// Actor and Host say who runs the purge, for the audit line.
	Actor, Host string
}

// Purgeable is a dead-lettered message selected for removal.
type Purgeable struct {
	SequenceNumber int64     `json:"sequenceNumber"`
	MessageID      string    `json:"messageId"`
	EnqueuedTime   time.Time `json:"enqueuedTime,omitzero"`
	State          string    `json:"state"`
	Reason         string    `json:"reason"`
	UserID         string    `json:"userId,omitempty"`
	DeliveryCount  uint32    `json:"deliveryCount"`
	Description    string    `json:"description,omitempty"`
}

// Purged is a message removed from the dead-letter queue.
type Purged struct {
	SequenceNumber int64  `json:"sequenceNumber"`
	MessageID      string `json:"messageId"`
}

// PurgeFailed is a selected message that was not removed; it is still in
// the dead-letter queue.
type PurgeFailed struct {
	SequenceNumber int64  `json:"sequenceNumber"`
	MessageID      string `json:"messageId"`
	Error          string `json:"error"`
}

// PurgeReport is the outcome of Purge.
type PurgeReport struct {
	DryRun bool `json:"dryRun"`
	// Declined is true when Confirm said no: nothing was touched.
	Declined bool `json:"declined"`
	// Selected lists the messages that matched the filter (what a dry run
	// would remove, and what Confirm was shown).
	Selected []Purgeable `json:"selected"`
	// Purged lists the messages removed.
	Purged []Purged `json:"purged"`
	// Deferred lists the sequence numbers of non-matching messages that had
	// to be received to reach a match and were deferred; they stay in the
	// dead-letter queue with their sequence number and delivery count.
	Deferred []int64 `json:"deferred"`
	// Failed lists selected messages that were not removed.
	Failed []PurgeFailed `json:"failed"`
}

// OK reports whether nothing failed.
func (r *PurgeReport) OK() bool { return len(r.Failed) == 0 }

// String is the one-line summary, e.g. "purged 3, failed 0".
func (r *PurgeReport) String() string {
	switch {
	case r.DryRun:
		return fmt.Sprintf("dry run: would purge %d", len(r.Selected))
	case r.Declined:
		return fmt.Sprintf("purge cancelled: %d matching message(s) left in the DLQ", len(r.Selected))
	}
	s := fmt.Sprintf("purged %d, failed %d", len(r.Purged), len(r.Failed))
	if len(r.Deferred) > 0 {
		s += fmt.Sprintf("; deferred %d non-matching messages to reach the matches; they remain in the DLQ, listed as deferred", len(r.Deferred))
	}
	return s
}

// Purge removes (completes) the dead-lettered messages that match
// opts.Filter and nothing else. It selects by peeking (no locks), then
// fetches deferred matches by sequence number and receives active ones one
// at a time in peek-lock, deferring any non-matching message that stands
// before a match, exactly as Replay does; see the package documentation.
// A received message is completed only when its sequence number and
// message id are those selected. Scheduled messages are never selected.
//
// It returns the report and an error only when it could not carry on (a
// peek failed, the context ended, Confirm failed); per-message failures are
// in PurgeReport.Failed. The report is returned, partially filled, even with
// an error. When ctx ends (Ctrl-C) the purge stops, but a message already
// received is settled first, within DefaultSettleTimeout: a selected one is
// completed (it is in PurgeReport.Purged) and a non-matching one deferred,
// so an immediate re-run finds every remaining match. A completion that
// fails is in PurgeReport.Failed, and that message stays locked until its
// lock expires. Every completion is bounded by DefaultSettleTimeout.
func Purge(ctx context.Context, dl DeadLetterReceiver, opts PurgeOptions) (*PurgeReport, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &purger{dl: dl, o: o, rep: &PurgeReport{DryRun: o.DryRun, Selected: []Purgeable{}, Purged: []Purged{}, Deferred: []int64{}, Failed: []PurgeFailed{}}}
	err = p.run(ctx)
	p.audit(ctx, err)
	return p.rep, err
}

func (o PurgeOptions) withDefaults() (PurgeOptions, error) {
	switch {
	case o.ReceiveTimeout < 0:
		return o, errors.New("dlq: ReceiveTimeout must not be negative")
	}
	if err := o.Filter.Validate(); err != nil {
		return o, fmt.Errorf("dlq: %w", err)
	}
	if o.ReceiveTimeout == 0 {
		o.ReceiveTimeout = DefaultReceiveTimeout
	}
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

type purger struct {
	dl  DeadLetterReceiver
	o   PurgeOptions
	rep *PurgeReport
	// byID maps a selected sequence number to its message id.
	byID map[int64]string
}

func (p *purger) run(ctx context.Context) error {
	p.byID = map[int64]string{}
	err := peekAll(ctx, p.dl, p.o.PageSize, func(m *azservicebus.ReceivedMessage) bool {
		e := NewEntry(m)
		if e.State != StateScheduled && p.o.Filter.Match(e) {
			p.rep.Selected = append(p.rep.Selected, Purgeable{
				SequenceNumber: e.SequenceNumber, MessageID: e.MessageID, EnqueuedTime: e.EnqueuedTime, State: e.State,
				Reason: e.Reason, UserID: e.UserID, DeliveryCount: e.DeliveryCount, Description: e.Description,
			})
			p.byID[e.SequenceNumber] = e.MessageID
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("dead-letter queue: %w", err)
	}
	if p.o.DryRun || len(p.rep.Selected) == 0 {
		return nil
	}
	if p.o.Confirm != nil {
		ok, err := p.o.Confirm(ctx, slices.Clone(p.rep.Selected))
		if err != nil || !ok {
			p.rep.Declined = true
			return err
		}
	}
	var active []int64
	for _, s := range p.rep.Selected {
		if s.State != StateDeferred {
			active = append(active, s.SequenceNumber)
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := p.purgeDeferred(ctx, s.SequenceNumber); err != nil {
			return err
		}
	}
	return p.purgeActive(ctx, active)
}

// purgeDeferred fetches one deferred message by sequence number and
// completes it.
func (p *purger) purgeDeferred(ctx context.Context, seq int64) error {
	msgs, err := p.dl.ReceiveDeferredMessages(ctx, []int64{seq}, nil)
	if len(msgs) == 0 {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			err = errors.New("not found")
		}
		p.fail(seq, fmt.Errorf("receive deferred message: %w", err))
		return nil
	}
	return p.complete(ctx, seq, msgs[0])
}

// purgeActive receives one message at a time until every selected active
// message has been handled, deferring the non-matching ones in between.
func (p *purger) purgeActive(ctx context.Context, seqs []int64) error {
	return activeWalk{
		dl: p.dl, receiveTimeout: p.o.ReceiveTimeout, settleTimeout: DefaultSettleTimeout, logger: p.o.Logger,
		take: p.complete, fail: p.failAll, deferred: &p.rep.Deferred,
	}.run(ctx, seqs)
}

// complete removes m, the message received for the selected sequence
// number seq, after checking that it is the message selected.
func (p *purger) complete(ctx context.Context, seq int64, m *azservicebus.ReceivedMessage) error {
	if m.MessageID != p.byID[seq] {
		// Never remove what was not selected: leave it for its lock to lapse.
		p.fail(seq, fmt.Errorf("received message id %q, selected %q: not removed", m.MessageID, p.byID[seq]))
		return nil
	}
	// The message in hand is selected and confirmed: it is completed even
	// after Ctrl-C, so that it is not left locked for a re-run to trip on,
	// and the walk stops after it.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultSettleTimeout)
	err := p.dl.CompleteMessage(sctx, m, nil)
	cancel()
	if err != nil {
		p.fail(seq, fmt.Errorf("complete: %w", err))
		return ctx.Err()
	}
	p.rep.Purged = append(p.rep.Purged, Purged{SequenceNumber: seq, MessageID: m.MessageID})
	p.o.Logger.DebugContext(ctx, "dlq_purged", slog.Int64("sequence_number", seq), slog.String("message_id", m.MessageID))
	return ctx.Err()
}

func (p *purger) failAll(pending map[int64]bool, err error) {
	for _, seq := range slices.Sorted(maps.Keys(pending)) {
		p.fail(seq, err)
	}
}

func (p *purger) fail(seq int64, err error) {
	p.rep.Failed = append(p.rep.Failed, PurgeFailed{SequenceNumber: seq, MessageID: p.byID[seq], Error: err.Error()})
}

// audit writes the purge_audit line.
func (p *purger) audit(ctx context.Context, err error) {
	rep := p.rep
	var selected, purged, failed []string
	for _, s := range rep.Selected {
		selected = append(selected, s.MessageID)
	}
	for _, s := range rep.Purged {
		purged = append(purged, s.MessageID)
	}
	for _, f := range rep.Failed {
		failed = append(failed, f.MessageID)
	}
	attrs := []slog.Attr{
		slog.String("actor", p.o.Actor),
		slog.String("host", p.o.Host),
		slog.Bool("dry_run", p.o.DryRun),
		slog.Bool("declined", rep.Declined),
		slog.String("filter", p.o.Filter.String()),
		slog.Int("matched", len(rep.Selected)),
		slog.Int("purged", len(rep.Purged)),
		slog.Int("failed", len(rep.Failed)),
		slog.Int("deferred", len(rep.Deferred)),
		slog.Any("selected_message_ids", selected),
		slog.Any("purged_message_ids", purged),
		slog.Any("failed_message_ids", failed),
		slog.String("deferred_sequence_numbers", formatSeqs(rep.Deferred)),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	p.o.Logger.LogAttrs(context.WithoutCancel(ctx), slog.LevelInfo, "purge_audit", attrs...)
}
