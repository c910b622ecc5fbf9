package dlq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/google/uuid"
)

// DeadLetterReceiver is what Replay needs of a peek-lock receiver on the
// dead-letter subqueue. *azservicebus.Receiver implements it.
type DeadLetterReceiver interface {
	Peeker
	ReceiveMessages(ctx context.Context, maxMessages int, options *azservicebus.ReceiveMessagesOptions) ([]*azservicebus.ReceivedMessage, error)
	ReceiveDeferredMessages(ctx context.Context, sequenceNumbers []int64, options *azservicebus.ReceiveDeferredMessagesOptions) ([]*azservicebus.ReceivedMessage, error)
	CompleteMessage(ctx context.Context, message *azservicebus.ReceivedMessage, options *azservicebus.CompleteMessageOptions) error
	DeferMessage(ctx context.Context, message *azservicebus.ReceivedMessage, options *azservicebus.DeferMessageOptions) error
	AbandonMessage(ctx context.Context, message *azservicebus.ReceivedMessage, options *azservicebus.AbandonMessageOptions) error
	RenewMessageLock(ctx context.Context, message *azservicebus.ReceivedMessage, options *azservicebus.RenewMessageLockOptions) error
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
	// Rate limits sends to this many per second; 0 means no limit. The
	// wait happens before a message is received, never while one is
	// locked, so any rate is safe with any lock duration.
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
	// AfterReceive, when set, is called once a selected message has been
	// received (and is locked) and before its copy is sent. A non-nil
	// error stops the replay at once, leaving the message locked as a
	// crash at that instant would; Replay returns that error. Tests use it
	// to interrupt a replay (cancel the context) or to hold a message
	// longer than its lock.
	AfterReceive func(ctx context.Context, p Planned) error
	// AfterSend, when set, is called after a copy has been sent and
	// confirmed and before the original is completed. A non-nil error stops
	// the replay at once, leaving the original in the DLQ (locked until its
	// lock expires) as a crash at that instant would; Replay returns that
	// error. Tests use it to interrupt a replay at its most delicate instant.
	AfterSend func(ctx context.Context, m Moved) error
	// SettleTimeout bounds each step that runs even when ctx is cancelled
	// meanwhile: sending a copy once it has started, completing an
	// original whose copy has been sent, deferring a non-matching message
	// and abandoning a message received but not sent. These steps ignore
	// cancellation so that stopping a replay (Ctrl-C) leaves no message in
	// both queues and none locked. Default DefaultSettleTimeout.
	SettleTimeout time.Duration
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
	// For a dry run it lists those a real run would defer: the active,
	// unselected messages standing before the last selected active one.
	Deferred []int64 `json:"deferred"`
	// Failed lists selected messages that did not move.
	Failed []Failed `json:"failed"`
	// Interrupted is true when the context was cancelled (Ctrl-C) before
	// every selected message was handled.
	Interrupted bool `json:"interrupted"`
	// Abandoned lists selected messages that had been received but whose
	// copy had not been sent when the replay was interrupted: they were
	// abandoned, so they are back in the dead-letter queue, unlocked, and
	// the next replay takes them at once.
	Abandoned []Moved `json:"abandoned"`
	// Unhandled counts selected messages that were neither moved nor
	// failed because the replay was interrupted (Abandoned included). They
	// are still in the dead-letter queue.
	Unhandled int `json:"unhandled"`
	// LockRenewals counts lock renewals of the messages the replay held.
	LockRenewals int `json:"lockRenewals"`
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
	if r.Interrupted {
		fmt.Fprintf(&b, "; interrupted: %d selected not handled and still in the DLQ", r.Unhandled)
		if len(r.Abandoned) > 0 {
			fmt.Fprintf(&b, " (%d received and abandoned unchanged)", len(r.Abandoned))
		}
	}
	switch {
	case len(r.Deferred) > 0 && r.DryRun:
		fmt.Fprintf(&b, "; would defer %d non-matching messages standing before a match (sequence numbers %s); they would remain in the DLQ, listed as deferred", len(r.Deferred), formatSeqs(r.Deferred))
	case len(r.Deferred) > 0:
		fmt.Fprintf(&b, "; deferred %d non-matching messages (sequence numbers %s) to reach the matches; they remain in the DLQ, listed as deferred, and any later replay can fetch them by sequence number", len(r.Deferred), formatSeqs(r.Deferred))
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
	// Sender sends to the main queue, or to the topic of a subscription.
	Sender Sender
	// ReplayTo, when not empty, is the subscription the copies are for:
	// the Sender sends to its topic and every copy carries PropReplayTo
	// with this value, so that the topic's rules deliver it to this
	// subscription only. [OpenSubscription] sets it.
	ReplayTo string
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

// OpenSubscription creates the endpoints for subscription of topic on
// client: receivers on the subscription's dead-letter subqueue and on the
// subscription itself, a sender to the topic, and ReplayTo set to the
// subscription. Close them when done.
func OpenSubscription(client *azservicebus.Client, topic, subscription string) (*Endpoints, error) {
	dl, err := client.NewReceiverForSubscription(topic, subscription, &azservicebus.ReceiverOptions{
		ReceiveMode: azservicebus.ReceiveModePeekLock, SubQueue: azservicebus.SubQueueDeadLetter,
	})
	if err != nil {
		return nil, fmt.Errorf("dead-letter receiver: %w", err)
	}
	q, err := client.NewReceiverForSubscription(topic, subscription, &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModePeekLock})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("subscription receiver: %w", err), dl.Close(context.Background()))
	}
	s, err := client.NewSender(topic, nil)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("sender: %w", err), dl.Close(context.Background()), q.Close(context.Background()))
	}
	return &Endpoints{DeadLetter: dl, Queue: q, Sender: s, ReplayTo: subscription}, nil
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
// is returned (partially filled) even with an error; when ctx was cancelled
// the error is ctx.Err() and Report.Interrupted is true.
func Replay(ctx context.Context, ep *Endpoints, opts ReplayOptions) (*Report, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &replayer{ep: ep, o: o, id: uuid.NewString(), rep: &Report{DryRun: o.DryRun, Planned: []Planned{}, Replayed: []Moved{},
		Recovered: []Moved{}, Skipped: []Skipped{}, Deferred: []int64{}, Failed: []Failed{}, Abandoned: []Moved{}}}
	r.pace = newPacer(o.Rate)
	r.auditStart(ctx)
	err = r.run(ctx)
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		r.rep.Interrupted = true
	}
	r.rep.Unhandled = len(r.rep.Planned) - len(r.rep.Replayed) - len(r.rep.Recovered) - len(r.rep.Failed)
	if r.rep.DryRun || r.rep.Unhandled < 0 {
		r.rep.Unhandled = 0
	}
	r.auditEnd(ctx, err)
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
	return o, nil
}

type replayer struct {
	ep   *Endpoints
	o    ReplayOptions
	id   string // correlates the audit lines of one replay
	rep  *Report
	pace *pacer

	plan     map[int64]*Planned
	existing map[string]bool // message ids present in the queue or the DLQ
	dlq      []Entry         // every DLQ message peeked, in sequence order
	done     int
}

func (r *replayer) run(ctx context.Context) error {
	if err := r.selectPlan(ctx); err != nil {
		return err
	}
	if r.o.DryRun {
		r.rep.Deferred = wouldDefer(r.dlq, r.plan)
		return nil
	}
	if len(r.rep.Planned) == 0 {
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
		if err := r.replayDeferred(ctx, seq); err != nil {
			return err
		}
	}
	return r.replayActive(ctx, active)
}

// wouldDefer predicts which messages a real run defers: peek-lock receives
// deliver the lowest-numbered available message, so every active message
// standing before the last planned active one that is not itself planned
// (non-matching, or matching but skipped or beyond Max) is received and
// deferred. Messages locked by another receiver at the time of the real run
// are passed over by it, so the prediction can only be larger.
func wouldDefer(entries []Entry, plan map[int64]*Planned) []int64 {
	last := int64(-1)
	for seq, p := range plan {
		if p.State != StateDeferred && seq > last {
			last = seq
		}
	}
	out := []int64{}
	for _, e := range entries {
		if e.State == StateActive && e.SequenceNumber < last && plan[e.SequenceNumber] == nil {
			out = append(out, e.SequenceNumber)
		}
	}
	return out
}

// selectPlan peeks the DLQ and the queue; nothing is locked.
func (r *replayer) selectPlan(ctx context.Context) error {
	r.plan = map[int64]*Planned{}
	r.existing = map[string]bool{}
	var matches []Entry
	err := peekAll(ctx, r.ep.DeadLetter, r.o.PageSize, func(m *azservicebus.ReceivedMessage) bool {
		e := NewEntry(m)
		r.existing[e.MessageID] = true
		r.dlq = append(r.dlq, e)
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
	if !p.CopyExists {
		// Pace now, while nothing is locked.
		if err := r.pace.acquire(ctx); err != nil {
			return err
		}
	}
	msgs, err := r.ep.DeadLetter.ReceiveDeferredMessages(ctx, []int64{seq}, nil)
	if len(msgs) == 0 {
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

// needsSend reports whether any pending message will be sent (rather than
// only completed because its copy exists).
func (r *replayer) needsSend(pending map[int64]bool) bool {
	for seq := range pending {
		if !r.plan[seq].CopyExists {
			return true
		}
	}
	return false
}

// replayActive receives one message at a time until every selected active
// message has been handled.
func (r *replayer) replayActive(ctx context.Context, seqs []int64) error {
	return activeWalk{
		dl: r.ep.DeadLetter, receiveTimeout: r.o.ReceiveTimeout, settleTimeout: r.o.SettleTimeout, logger: r.o.Logger,
		// Pace before receiving: the wait never runs while a lock is held.
		// A slot acquired but not spent (the message received was deferred)
		// is kept for the next receive.
		beforeReceive: func(ctx context.Context, pending map[int64]bool) error {
			if r.needsSend(pending) {
				return r.pace.acquire(ctx)
			}
			return nil
		},
		take: func(ctx context.Context, seq int64, m *azservicebus.ReceivedMessage) error {
			return r.move(ctx, r.plan[seq], m)
		},
		fail:     r.failPending,
		deferred: &r.rep.Deferred,
	}.run(ctx, seqs)
}

// settleCtx bounds a step that must run even when ctx has been cancelled.
func (r *replayer) settleCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), r.o.SettleTimeout)
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
// already present (from an interrupted run) is not sent again. m's lock is
// renewed for as long as move holds it. When ctx is cancelled before the
// copy is sent, m is abandoned (unlocked, left in the DLQ) and move returns
// ctx.Err(); once the send has started, the send and the completion run to
// their end regardless.
func (r *replayer) move(ctx context.Context, p *Planned, m *azservicebus.ReceivedMessage) error {
	moved := Moved{SequenceNumber: p.SequenceNumber, MessageID: p.MessageID, NewMessageID: p.NewMessageID}
	log := r.o.Logger.With(slog.Int64("sequence_number", p.SequenceNumber), slog.String("message_id", p.MessageID), slog.String("new_message_id", p.NewMessageID))
	renewing := r.keepLocked(ctx, m, log)
	stopRenewing := func() { r.rep.LockRenewals += renewing() }
	if r.o.AfterReceive != nil {
		if err := r.o.AfterReceive(ctx, *p); err != nil {
			stopRenewing()
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		stopRenewing()
		r.abandon(ctx, p, m, moved, log)
		return err
	}
	recovered := p.CopyExists
	if !recovered {
		r.pace.spend()
		sctx, cancel := r.settleCtx(ctx)
		err := r.ep.Sender.SendMessage(sctx, replayCopy(m, p, r.ep.ReplayTo), nil)
		cancel()
		if err != nil {
			// The copy may or may not have reached the queue: release the
			// original so that a re-run (which looks for the copy) can take
			// it at once.
			stopRenewing()
			r.abandonAfterFailure(ctx, m, log)
			r.fail(p, false, fmt.Errorf("send copy: %w", err))
			return nil
		}
		if r.o.AfterSend != nil {
			if err := r.o.AfterSend(ctx, moved); err != nil {
				stopRenewing()
				return err
			}
		}
	}
	stopRenewing()
	// The copy is safe in the queue: finish this message even if ctx was
	// cancelled meanwhile, within SettleTimeout.
	sctx, cancel := r.settleCtx(ctx)
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

// abandon releases m, received but not sent when the replay was
// interrupted.
func (r *replayer) abandon(ctx context.Context, p *Planned, m *azservicebus.ReceivedMessage, moved Moved, log *slog.Logger) {
	sctx, cancel := r.settleCtx(ctx)
	err := r.ep.DeadLetter.AbandonMessage(sctx, m, nil)
	cancel()
	if err != nil {
		r.fail(p, false, fmt.Errorf("interrupted; abandoning the received original failed (it stays locked until its lock expires): %w", err))
		return
	}
	r.rep.Abandoned = append(r.rep.Abandoned, moved)
	log.DebugContext(ctx, "dlq_abandoned_on_interrupt")
}

func (r *replayer) abandonAfterFailure(ctx context.Context, m *azservicebus.ReceivedMessage, log *slog.Logger) {
	sctx, cancel := r.settleCtx(ctx)
	defer cancel()
	if err := r.ep.DeadLetter.AbandonMessage(sctx, m, nil); err != nil {
		log.WarnContext(ctx, "dlq_abandon_failed", slog.String("error", err.Error()))
	}
}

// Lock renewal timing: renew at half of the remaining lock time, as the
// worker does, never sooner than minRenewWait apart.
const (
	fallbackLockDuration = 30 * time.Second
	minRenewWait         = 10 * time.Millisecond
)

// keepLocked renews m's lock until the returned stop is called; stop waits
// for the renewing goroutine to end and returns the number of renewals.
// Renewal ignores ctx's cancellation: after Ctrl-C the message is still
// being abandoned or finished, which needs its lock. The goroutine is the
// only one touching m.LockedUntil while it runs.
func (r *replayer) keepLocked(ctx context.Context, m *azservicebus.ReceivedMessage, log *slog.Logger) (stop func() int) {
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan int, 1)
	go func() {
		renewals := 0
		defer func() { done <- renewals }()
		until := time.Now().Add(fallbackLockDuration)
		if m.LockedUntil != nil {
			until = *m.LockedUntil
		}
		for {
			t := time.NewTimer(max(time.Until(until)/2, minRenewWait))
			select {
			case <-rctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			err := r.ep.DeadLetter.RenewMessageLock(rctx, m, nil)
			switch {
			case err == nil:
				renewals++
				until = time.Now().Add(fallbackLockDuration)
				if m.LockedUntil != nil {
					until = *m.LockedUntil
				}
			case rctx.Err() != nil:
				return
			case !time.Now().Before(until):
				log.WarnContext(rctx, "dlq_lock_lost", slog.String("error", err.Error()))
				return
			default:
				log.WarnContext(rctx, "dlq_lock_renewal_failed", slog.String("error", err.Error()))
			}
		}
	}()
	return func() int {
		cancel()
		return <-done
	}
}

// replayCopy builds the message sent for original m; replayTo, when not
// empty, is the subscription it is for (PropReplayTo).
func replayCopy(m *azservicebus.ReceivedMessage, p *Planned, replayTo string) *azservicebus.Message {
	props := make(map[string]any, len(m.ApplicationProperties)+3)
	for k, v := range m.ApplicationProperties {
		props[k] = v
	}
	for _, k := range deadLetterProps {
		delete(props, k)
	}
	delete(props, PropReplayTo)
	props[PropReplayCount] = int64(p.ReplayCount + 1)
	props[PropReplayedFrom] = p.Reason
	if replayTo != "" {
		props[PropReplayTo] = replayTo
	}
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

// auditRef names a message in the audit line: its id, or "seq:N" when it
// has none.
func auditRef(id string, seq int64) string {
	if id == "" {
		return "seq:" + strconv.FormatInt(seq, 10)
	}
	return id
}

// auditStart writes the replay_audit line with phase "start", before
// anything is read or locked, so that even a replay killed at once leaves a
// trace of who ran what.
func (r *replayer) auditStart(ctx context.Context) {
	attrs := []slog.Attr{
		slog.String("phase", "start"),
		slog.String("replay_id", r.id),
		slog.String("actor", r.o.Actor),
		slog.String("host", r.o.Host),
		slog.Bool("dry_run", r.o.DryRun),
		slog.String("filter", r.o.Filter.String()),
		slog.Int("max", r.o.Max),
		slog.Float64("rate", r.o.Rate),
		slog.Int("max_replays", r.o.MaxReplays),
		slog.Bool("force", r.o.Force),
	}
	if r.ep.ReplayTo != "" {
		// The subscription the copies are for (PropReplayTo).
		attrs = append(attrs, slog.String("replay_to", r.ep.ReplayTo))
	}
	r.o.Logger.LogAttrs(ctx, slog.LevelInfo, "replay_audit", attrs...)
}

// auditEnd writes the replay_audit line with phase "end": the counts and
// every message concerned (id, or sequence number where it has none).
func (r *replayer) auditEnd(ctx context.Context, err error) {
	rep := r.rep
	moves := func(ms []Moved) []string {
		out := make([]string, len(ms))
		for i, m := range ms {
			out[i] = auditRef(m.MessageID, m.SequenceNumber) + "->" + m.NewMessageID
		}
		return out
	}
	failed := make([]string, len(rep.Failed))
	for i, f := range rep.Failed {
		failed[i] = auditRef(f.MessageID, f.SequenceNumber)
	}
	skipped := make([]string, len(rep.Skipped))
	for i, s := range rep.Skipped {
		skipped[i] = auditRef(s.MessageID, s.SequenceNumber)
	}
	planned := make([]string, len(rep.Planned))
	for i, p := range rep.Planned {
		planned[i] = auditRef(p.MessageID, p.SequenceNumber)
	}
	attrs := []slog.Attr{
		slog.String("phase", "end"),
		slog.String("replay_id", r.id),
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
		slog.Bool("interrupted", rep.Interrupted),
		slog.Int("abandoned", len(rep.Abandoned)),
		slog.Int("unhandled", rep.Unhandled),
		slog.Int("lock_renewals", rep.LockRenewals),
		slog.Any("planned_messages", planned),
		slog.Any("replayed_messages", moves(rep.Replayed)),
		slog.Any("recovered_messages", moves(rep.Recovered)),
		slog.Any("abandoned_messages", moves(rep.Abandoned)),
		slog.Any("skipped_messages", skipped),
		slog.Any("failed_messages", failed),
		slog.Any("deferred_sequence_numbers", rep.Deferred),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	r.o.Logger.LogAttrs(context.WithoutCancel(ctx), slog.LevelInfo, "replay_audit", attrs...)
}
