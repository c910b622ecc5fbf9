package dlq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

// DeadLetterReceiver is what Replay needs of a peek-lock receiver on the
// dead-letter subqueue. *azservicebus.Receiver implements it.
type DeadLetterReceiver interface {
	Peeker
	ReceiveMessages(ctx context.Context, maxMessages int, options *azservicebus.ReceiveMessagesOptions) ([]*azservicebus.ReceivedMessage, error)
	ReceiveDeferredMessages(ctx context.Context, sequenceNumbers []int64, options *azservicebus.ReceiveDeferredMessagesOptions) ([]*azservicebus.ReceivedMessage, error)
	CompleteMessage(ctx context.Context, message *azservicebus.ReceivedMessage, options *azservicebus.CompleteMessageOptions) error
	DeferMessage(ctx context.Context, message *azservicebus.ReceivedMessage, options *azservicebus.DeferMessageOptions) error
}

// Sender sends one message to the main queue. *azservicebus.Sender
// implements it.
type Sender interface {
	SendMessage(ctx context.Context, message *azservicebus.Message, options *azservicebus.SendMessageOptions) error
}

var (
	_ DeadLetterReceiver = (*azservicebus.Receiver)(nil)
	_ Sender             = (*azservicebus.Sender)(nil)
)

// Defaults of ReplayOptions.
const (
	DefaultMaxReplays     = 3
	DefaultReceiveTimeout = 30 * time.Second
	DefaultSettleTimeout  = 30 * time.Second
)

// ReplayOptions configures Replay. The zero value replays every message in
// the dead-letter queue, at full speed, with the defaults below.
type ReplayOptions struct {
	// Filter selects the messages to replay.
	Filter Filter
	// Max replays at most this many messages (in sequence order); 0 means no
	// limit.
	Max int
	// Rate limits sends to this many per second; 0 means no limit.
	Rate float64
	// DryRun peeks only and reports what would move; nothing is locked,
	// sent or completed.
	DryRun bool
	// MaxReplays skips messages already replayed this many times (loop
	// protection); default DefaultMaxReplays (3). Negative is invalid.
	MaxReplays int
	// Force replays messages even beyond MaxReplays.
	Force bool
	// ReceiveTimeout bounds the wait for each peek-lock receive; a selected
	// message that cannot be received in that time (locked by someone else,
	// or removed) is reported as failed. Default DefaultReceiveTimeout.
	ReceiveTimeout time.Duration
	// PageSize is how many messages each peek asks for; default
	// DefaultPageSize.
	PageSize int
	// Logger receives the replay_audit line and per-message debug lines;
	// nil discards them.
	Logger *slog.Logger
	// Actor and Host say who runs the replay, for the audit line.
	Actor, Host string
	// Progress, when set, is called after each selected message is handled
	// with the number handled and the number selected.
	Progress func(done, total int)
	// AfterSend, when set, is called after a copy has been sent and
	// confirmed and before the original is completed. A non-nil error stops
	// the replay at once, leaving the original in the DLQ (locked until its
	// lock expires) as a crash at that instant would; Replay returns that
	// error. Tests use it to interrupt a replay at its most delicate instant.
	AfterSend func(ctx context.Context, m Moved) error
	// SettleTimeout bounds completing an original whose copy has been sent.
	// That step runs even when ctx is cancelled meanwhile, so that stopping
	// a replay (Ctrl-C) does not leave a message in both queues. Default
	// DefaultSettleTimeout.
	SettleTimeout time.Duration
	// Now is the clock for rate limiting; default time.Now.
	Now func() time.Time
}

// SkipReason says why a selected message was left in the dead-letter queue.
type SkipReason string

// Skip reasons.
const (
	// SkipReplayLimit: already replayed MaxReplays times (loop protection).
	SkipReplayLimit SkipReason = "replay limit"
	// SkipInvalid: the body no longer passes validation.
	SkipInvalid SkipReason = "invalid body"
)

// Planned is a message selected for replay.
type Planned struct {
	SequenceNumber int64  `json:"sequenceNumber"`
	MessageID      string `json:"messageId"`
	NewMessageID   string `json:"newMessageId"`
	Reason         string `json:"reason"`
	UserID         string `json:"userId,omitempty"`
	State          string `json:"state"`
	ReplayCount    int    `json:"replayCount"`
	// CopyExists is true when a message with NewMessageID is already in the
	// queue or the dead-letter queue (an interrupted earlier replay): the
	// original is then completed without sending another copy.
	CopyExists bool `json:"copyExists,omitempty"`
}

// Moved is a message that left the dead-letter queue.
type Moved struct {
	SequenceNumber int64  `json:"sequenceNumber"`
	MessageID      string `json:"messageId"`
	NewMessageID   string `json:"newMessageId"`
}

// Skipped is a matching message that was not replayed and not touched.
type Skipped struct {
	SequenceNumber int64      `json:"sequenceNumber"`
	MessageID      string     `json:"messageId"`
	Why            SkipReason `json:"why"`
	Detail         string     `json:"detail,omitempty"`
}

// Failed is a selected message that could not be replayed. It is still in
// the dead-letter queue (and, when Sent is true, its copy is in the queue
// too: a later replay recognises the copy and only completes the original).
type Failed struct {
	SequenceNumber int64  `json:"sequenceNumber"`
	MessageID      string `json:"messageId"`
	Sent           bool   `json:"sent"`
	Error          string `json:"error"`
}

// Report is the outcome of Replay.
type Report struct {
	DryRun bool `json:"dryRun"`
	// Matched counts messages that passed the filter.
	Matched int `json:"matched"`
	// Planned lists the messages selected to move (all of them for a dry
	// run).
	Planned []Planned `json:"planned"`
	// Replayed lists the messages copied to the queue and completed.
	Replayed []Moved `json:"replayed"`
	// Recovered lists originals completed without a new send because their
	// copy was already there.
	Recovered []Moved `json:"recovered"`
	// Skipped lists matching messages left untouched.
	Skipped []Skipped `json:"skipped"`
	// NotSelected counts matches left out by Max.
	NotSelected int `json:"notSelected"`
	// Deferred lists the sequence numbers of non-matching messages that
	// had to be received to reach a match and were deferred; they stay in
	// the dead-letter queue with their sequence number and delivery count.
	Deferred []int64 `json:"deferred"`
	// Failed lists selected messages that did not move.
	Failed []Failed `json:"failed"`
}

// OK reports whether nothing failed.
func (r *Report) OK() bool { return len(r.Failed) == 0 }

// String is the one-line summary, e.g.
// "replayed 3, skipped 1 (replay limit 1), failed 0".
func (r *Report) String() string {
	var b strings.Builder
	if r.DryRun {
		fmt.Fprintf(&b, "dry run: would replay %d", len(r.Planned))
	} else {
		fmt.Fprintf(&b, "replayed %d", len(r.Replayed)+len(r.Recovered))
		if len(r.Recovered) > 0 {
			fmt.Fprintf(&b, " (%d of them already copied by an earlier run)", len(r.Recovered))
		}
	}
	fmt.Fprintf(&b, ", skipped %d", len(r.Skipped))
	if len(r.Skipped) > 0 {
		counts := map[SkipReason]int{}
		for _, s := range r.Skipped {
			counts[s.Why]++
		}
		var parts []string
		for _, why := range slices.Sorted(maps.Keys(counts)) {
			parts = append(parts, fmt.Sprintf("%s %d", why, counts[why]))
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(parts, ", "))
	}
	if r.NotSelected > 0 {
		fmt.Fprintf(&b, ", %d more matching left by --max", r.NotSelected)
	}
	if !r.DryRun {
		fmt.Fprintf(&b, ", failed %d", len(r.Failed))
	}
	if len(r.Deferred) > 0 {
		fmt.Fprintf(&b, "; deferred %d non-matching messages to reach the matches; they remain in the DLQ, listed as deferred, and any later replay can fetch them by sequence number", len(r.Deferred))
	}
	return b.String()
}

// Endpoints are the links Replay works through.
type Endpoints struct {
	// DeadLetter is a peek-lock receiver on the queue's dead-letter subqueue.
	DeadLetter DeadLetterReceiver
	// Queue peeks the main queue (to recognise copies already sent); it
	// never receives.
	Queue Peeker
	// Sender sends to the main queue.
	Sender Sender
}

// Open creates the endpoints for queue on client. Close them when done.
// Creating receivers in the SDK is lazy: nothing is locked until Replay
// receives.
func Open(client *azservicebus.Client, queue string) (*Endpoints, error) {
	dl, err := client.NewReceiverForQueue(queue, &azservicebus.ReceiverOptions{
		ReceiveMode: azservicebus.ReceiveModePeekLock, SubQueue: azservicebus.SubQueueDeadLetter,
	})
	if err != nil {
		return nil, fmt.Errorf("dead-letter receiver: %w", err)
	}
	q, err := client.NewReceiverForQueue(queue, &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModePeekLock})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("queue receiver: %w", err), dl.Close(context.Background()))
	}
	s, err := client.NewSender(queue, nil)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("sender: %w", err), dl.Close(context.Background()), q.Close(context.Background()))
	}
	return &Endpoints{DeadLetter: dl, Queue: q, Sender: s}, nil
}

// Close closes every endpoint that has a Close method.
func (e *Endpoints) Close(ctx context.Context) error {
	var errs []error
	for _, c := range []any{e.DeadLetter, e.Queue, e.Sender} {
		if cl, ok := c.(interface{ Close(context.Context) error }); ok {
			errs = append(errs, cl.Close(ctx))
		}
	}
	return errors.Join(errs...)
}

// Replay moves the dead-lettered messages that match opts.Filter back to
// the queue, following the design in the package documentation. It returns
// the report and an error only when it could not carry on (a peek failed,
// the context ended); per-message failures are in Report.Failed. The report
// is returned (partially filled) even with an error.
func Replay(ctx context.Context, ep *Endpoints, opts ReplayOptions) (*Report, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &replayer{ep: ep, o: o, rep: &Report{DryRun: o.DryRun, Planned: []Planned{}, Replayed: []Moved{},
		Recovered: []Moved{}, Skipped: []Skipped{}, Deferred: []int64{}, Failed: []Failed{}}}
	r.pace = newPacer(o.Rate, o.Now)
	err = r.run(ctx)
	r.audit(ctx, err)
	return r.rep, err
}

func (o ReplayOptions) withDefaults() (ReplayOptions, error) {
	switch {
	case o.Max < 0:
		return o, errors.New("dlq: Max must not be negative")
	case o.Rate < 0:
		return o, errors.New("dlq: Rate must not be negative")
	case o.MaxReplays < 0:
		return o, errors.New("dlq: MaxReplays must not be negative")
	case o.ReceiveTimeout < 0:
		return o, errors.New("dlq: ReceiveTimeout must not be negative")
	case o.SettleTimeout < 0:
		return o, errors.New("dlq: SettleTimeout must not be negative")
	}
	if err := o.Filter.Validate(); err != nil {
		return o, fmt.Errorf("dlq: %w", err)
	}
	if o.MaxReplays == 0 {
		o.MaxReplays = DefaultMaxReplays
	}
	if o.ReceiveTimeout == 0 {
		o.ReceiveTimeout = DefaultReceiveTimeout
	}
	if o.SettleTimeout == 0 {
		o.SettleTimeout = DefaultSettleTimeout
	}
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}

type replayer struct {
	ep   *Endpoints
	o    ReplayOptions
	rep  *Report
	pace *pacer

	plan     map[int64]*Planned
	existing map[string]bool // message ids present in the queue or the DLQ
	done     int
}

func (r *replayer) run(ctx context.Context) error {
	if err := r.selectPlan(ctx); err != nil {
		return err
	}
	if r.o.DryRun || len(r.rep.Planned) == 0 {
		return nil
	}
	var deferred, active []int64
	for _, p := range r.rep.Planned {
		if p.State == StateDeferred {
			deferred = append(deferred, p.SequenceNumber)
		} else {
			active = append(active, p.SequenceNumber)
		}
	}
	for _, seq := range deferred {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.replayDeferred(ctx, seq); err != nil {
			return err
		}
	}
	return r.replayActive(ctx, active)
}

// selectPlan peeks the DLQ and the queue; nothing is locked.
func (r *replayer) selectPlan(ctx context.Context) error {
	r.plan = map[int64]*Planned{}
	r.existing = map[string]bool{}
	var matches []Entry
	err := peekAll(ctx, r.ep.DeadLetter, r.o.PageSize, func(m *azservicebus.ReceivedMessage) bool {
		e := NewEntry(m)
		r.existing[e.MessageID] = true
		if e.State != StateScheduled && r.o.Filter.Match(e) {
			matches = append(matches, e)
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("dead-letter queue: %w", err)
	}
	if r.ep.Queue != nil {
		err = peekAll(ctx, r.ep.Queue, r.o.PageSize, func(m *azservicebus.ReceivedMessage) bool {
			r.existing[m.MessageID] = true
			return true
		})
		if err != nil {
			return fmt.Errorf("queue: %w", err)
		}
	}
	r.rep.Matched = len(matches)
	for _, e := range matches {
		switch {
		case e.ReplayCount >= r.o.MaxReplays && !r.o.Force:
			r.rep.Skipped = append(r.rep.Skipped, Skipped{SequenceNumber: e.SequenceNumber, MessageID: e.MessageID, Why: SkipReplayLimit,
				Detail: fmt.Sprintf("replayed %d times already; --force replays it anyway", e.ReplayCount)})
		case e.Invalid != "":
			r.rep.Skipped = append(r.rep.Skipped, Skipped{SequenceNumber: e.SequenceNumber, MessageID: e.MessageID, Why: SkipInvalid, Detail: e.Invalid})
		case r.o.Max > 0 && len(r.rep.Planned) >= r.o.Max:
			r.rep.NotSelected++
		default:
			newID := ReplayMessageID(e.MessageID, e.SequenceNumber, e.ReplayCount+1)
			r.rep.Planned = append(r.rep.Planned, Planned{
				SequenceNumber: e.SequenceNumber, MessageID: e.MessageID, NewMessageID: newID,
				Reason: e.Reason, UserID: e.UserID, State: e.State, ReplayCount: e.ReplayCount,
				CopyExists: r.existing[newID],
			})
		}
	}
	for i := range r.rep.Planned {
		r.plan[r.rep.Planned[i].SequenceNumber] = &r.rep.Planned[i]
	}
	return nil
}

func (r *replayer) replayDeferred(ctx context.Context, seq int64) error {
	p := r.plan[seq]
	msgs, err := r.ep.DeadLetter.ReceiveDeferredMessages(ctx, []int64{seq}, nil)
	if err != nil || len(msgs) == 0 {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.fail(p, false, fmt.Errorf("receive deferred message: %w", orNotFound(err)))
		return nil
	}
	return r.move(ctx, p, msgs[0])
}

func orNotFound(err error) error {
	if err == nil {
		return errors.New("not found")
	}
	return err
}

// replayActive receives one message at a time until every selected active
// message has been handled.
func (r *replayer) replayActive(ctx context.Context, seqs []int64) error {
	pending := map[int64]bool{}
	for _, s := range seqs {
		pending[s] = true
	}
	for len(pending) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		rctx, cancel := context.WithTimeout(ctx, r.o.ReceiveTimeout)
		msgs, err := r.ep.DeadLetter.ReceiveMessages(rctx, 1, nil)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if len(msgs) == 0 {
			if err == nil || errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("not received within %s (locked by another receiver, or removed)", r.o.ReceiveTimeout)
			}
			r.failPending(pending, err)
			return nil
		}
		m := msgs[0]
		seq := int64(-1)
		if m.SequenceNumber != nil {
			seq = *m.SequenceNumber
		}
		if pending[seq] {
			delete(pending, seq)
			if err := r.move(ctx, r.plan[seq], m); err != nil {
				return err
			}
			continue
		}
		// Not selected: it stood before a match. Defer it, which keeps its
		// sequence number and delivery count.
		if err := r.ep.DeadLetter.DeferMessage(ctx, m, nil); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.failPending(pending, fmt.Errorf("could not set aside non-matching message %d: %w", seq, err))
			return nil
		}
		r.rep.Deferred = append(r.rep.Deferred, seq)
		r.o.Logger.DebugContext(ctx, "dlq_deferred_non_matching", slog.Int64("sequence_number", seq))
		if seq > slices.Max(slices.Collect(maps.Keys(pending))) {
			// Every pending match has a lower sequence number yet was not
			// delivered first, so it is locked elsewhere or gone.
			r.failPending(pending, errors.New("not available (locked by another receiver, or removed)"))
			return nil
		}
	}
	return nil
}

func (r *replayer) failPending(pending map[int64]bool, err error) {
	for _, seq := range slices.Sorted(maps.Keys(pending)) {
		r.fail(r.plan[seq], false, err)
	}
}

func (r *replayer) fail(p *Planned, sent bool, err error) {
	r.rep.Failed = append(r.rep.Failed, Failed{SequenceNumber: p.SequenceNumber, MessageID: p.MessageID, Sent: sent, Error: err.Error()})
	r.progress()
}

func (r *replayer) progress() {
	r.done++
	if r.o.Progress != nil {
		r.o.Progress(r.done, len(r.rep.Planned))
	}
}

// move sends the copy of the locked original m, then completes m. A copy
// already present (from an interrupted run) is not sent again.
func (r *replayer) move(ctx context.Context, p *Planned, m *azservicebus.ReceivedMessage) error {
	moved := Moved{SequenceNumber: p.SequenceNumber, MessageID: p.MessageID, NewMessageID: p.NewMessageID}
	log := r.o.Logger.With(slog.Int64("sequence_number", p.SequenceNumber), slog.String("message_id", p.MessageID), slog.String("new_message_id", p.NewMessageID))
	recovered := p.CopyExists
	if !recovered {
		if err := r.pace.wait(ctx); err != nil {
			return err
		}
		if err := r.ep.Sender.SendMessage(ctx, replayCopy(m, p), nil); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.fail(p, false, fmt.Errorf("send copy: %w", err))
			return nil
		}
		if r.o.AfterSend != nil {
			if err := r.o.AfterSend(ctx, moved); err != nil {
				return err
			}
		}
	}
	// The copy is safe in the queue: finish this message even if ctx was
	// cancelled meanwhile, within SettleTimeout.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.o.SettleTimeout)
	err := r.ep.DeadLetter.CompleteMessage(sctx, m, nil)
	cancel()
	if err != nil {
		r.fail(p, true, fmt.Errorf("complete original (the copy is in the queue; a re-run completes it): %w", err))
		return nil
	}
	if recovered {
		r.rep.Recovered = append(r.rep.Recovered, moved)
		log.DebugContext(ctx, "dlq_original_completed_copy_existed")
	} else {
		r.rep.Replayed = append(r.rep.Replayed, moved)
		log.DebugContext(ctx, "dlq_replayed")
	}
	r.progress()
	return nil
}

// replayCopy builds the message sent for original m.
func replayCopy(m *azservicebus.ReceivedMessage, p *Planned) *azservicebus.Message {
	props := make(map[string]any, len(m.ApplicationProperties)+2)
	for k, v := range m.ApplicationProperties {
		props[k] = v
	}
	for _, k := range deadLetterProps {
		delete(props, k)
	}
	props[PropReplayCount] = int64(p.ReplayCount + 1)
	props[PropReplayedFrom] = p.Reason
	id := p.NewMessageID
	return &azservicebus.Message{
		MessageID:             &id,
		Body:                  m.Body,
		ContentType:           m.ContentType,
		CorrelationID:         m.CorrelationID,
		Subject:               m.Subject,
		ReplyTo:               m.ReplyTo,
		ReplyToSessionID:      m.ReplyToSessionID,
		To:                    m.To,
		SessionID:             m.SessionID,
		PartitionKey:          m.PartitionKey,
		ApplicationProperties: props,
	}
}

// audit writes the replay_audit line.
func (r *replayer) audit(ctx context.Context, err error) {
	rep := r.rep
	ids := func(ms []Moved) []string {
		out := make([]string, len(ms))
		for i, m := range ms {
			out[i] = m.MessageID + "->" + m.NewMessageID
		}
		return out
	}
	var failed []string
	for _, f := range rep.Failed {
		failed = append(failed, f.MessageID)
	}
	var skipped []string
	for _, s := range rep.Skipped {
		skipped = append(skipped, s.MessageID)
	}
	var planned []string
	for _, p := range rep.Planned {
		planned = append(planned, p.MessageID)
	}
	attrs := []slog.Attr{
		slog.String("actor", r.o.Actor),
		slog.String("host", r.o.Host),
		slog.Bool("dry_run", r.o.DryRun),
		slog.String("filter", r.o.Filter.String()),
		slog.Int("max", r.o.Max),
		slog.Float64("rate", r.o.Rate),
		slog.Int("max_replays", r.o.MaxReplays),
		slog.Bool("force", r.o.Force),
		slog.Int("matched", rep.Matched),
		slog.Int("planned", len(rep.Planned)),
		slog.Int("replayed", len(rep.Replayed)),
		slog.Int("recovered", len(rep.Recovered)),
		slog.Int("skipped", len(rep.Skipped)),
		slog.Int("failed", len(rep.Failed)),
		slog.Int("deferred", len(rep.Deferred)),
		slog.Any("planned_message_ids", planned),
		slog.Any("replayed_message_ids", ids(rep.Replayed)),
		slog.Any("recovered_message_ids", ids(rep.Recovered)),
		slog.Any("skipped_message_ids", skipped),
		slog.Any("failed_message_ids", failed),
		slog.String("deferred_sequence_numbers", formatSeqs(rep.Deferred)),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	r.o.Logger.LogAttrs(context.WithoutCancel(ctx), slog.LevelInfo, "replay_audit", attrs...)
}
