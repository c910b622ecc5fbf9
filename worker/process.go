package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/licensefix/licensefix/graph"
	"github.com/licensefix/licensefix/messages"
)

// kind is what happens to a message at the end.
type kind int

const (
	kindComplete kind = iota + 1
	// kindCoalesced: complete, covered by a successful call made for
	// another message of the same user (or remembered from before).
	kindCoalesced
	kindDeadLetter
	kindAbandon
	kindLockLost
)

// result is the end of one message's work.
type result struct {
	kind         kind
	reason       Reason
	attempts     int
	ok           graph.Result // the successful call
	last         *graph.Error // the last failure, if any
	userID       string       // "" when the message was invalid
	invalidField string
	description  string
}

// settleGrace is how long after a lock's expiry settlement keeps trying
// (clock skew between us and Service Bus).
const settleGrace = 2 * time.Second

// maxDescription bounds the dead-letter description.
const maxDescription = 1024

// process works one message from decoding to settlement; epoch is the
// Service Bus connection epoch from before m was received.
func (w *Worker) process(m *azservicebus.ReceivedMessage, epoch int64) {
	start := w.clock.Now()
	raw := messages.Raw{ApplicationProperties: m.ApplicationProperties, Body: m.Body}
	if m.ContentType != nil {
		raw.ContentType = *m.ContentType
	}
	lf, err := messages.Decode(raw, messages.DecodeOptions{CloudEventTypes: w.cfg.CloudEventTypes})
	if err != nil {
		r := result{kind: kindDeadLetter, reason: ReasonInvalidMessage, description: err.Error()}
		var ie *messages.InvalidError
		if errors.As(err, &ie) {
			r.invalidField = ie.Field
		}
		w.settle(m, epoch, r, start)
		return
	}
	if w.cfg.TenantID != "" && lf.TenantID != "" && !strings.EqualFold(lf.TenantID, w.cfg.TenantID) {
		w.settle(m, epoch, result{kind: kindDeadLetter, reason: ReasonInvalidMessage, invalidField: messages.FieldTenantID, userID: lf.UserID,
			description: fmt.Sprintf("tenantId %s names another tenant than this worker's (%s): the message belongs to a deployment for that tenant", lf.TenantID, w.cfg.TenantID)}, start)
		return
	}
	var enqueued time.Time
	if m.EnqueuedTime != nil {
		enqueued = *m.EnqueuedTime
	}
	hit, wt, newCall := w.calls.join(lf.UserID, sequenceNumber(m), enqueued, w.clock.Now())
	if hit != nil {
		w.settle(m, epoch, result{kind: kindCoalesced, ok: hit.res, userID: lf.UserID}, start)
		return
	}
	if newCall != nil {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			w.runCall(newCall)
		}()
	}

	ctx, cancel := context.WithCancel(w.callCtx)
	lost := make(chan struct{})
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		w.renewLock(ctx, m, func() { close(lost) })
	}()
	r := w.await(lf.UserID, wt, lost)
	cancel()
	<-renewed
	r.userID = lf.UserID
	w.settle(m, epoch, r, start)
}

// sequenceNumber is m's sequence number, -1 when it has none.
func sequenceNumber(m *azservicebus.ReceivedMessage) int64 {
	if m.SequenceNumber == nil {
		return -1
	}
	return *m.SequenceNumber
}

// await waits for the result of the call wt waits on, leaving the call
// when the lock is lost, or at shutdown unless the call in flight covers
// the message.
func (w *Worker) await(user string, wt *waiter, lost <-chan struct{}) result {
	stopping := w.stopping
	for {
		select {
		case r := <-wt.done:
			return r
		case <-lost:
			w.calls.leave(user, wt, false)
			return result{kind: kindLockLost}
		case <-stopping:
			if w.calls.leave(user, wt, true) {
				return result{kind: kindAbandon}
			}
			stopping = nil // the call in flight covers us: wait for it
		}
	}
}

// noteTransition logs a change of the gate's state and updates the gauges.
func (w *Worker) noteTransition(tr transition, ge *graph.Error) {
	if tr == noTransition {
		return
	}
	why, outage, systemic := w.gates.state()
	w.metrics.setPause(outage, systemic)
	attrs := []any{slog.String("reason", why)}
	if ge != nil {
		attrs = append(attrs, slog.Int("http_status", ge.StatusCode), slog.String("graph_error_code", ge.Code),
			slog.String("graph_request_id", ge.RequestID), slog.String("client_request_id", ge.ClientRequestID))
	}
	switch tr {
	case breakerOpened:
		w.log.Warn("graph outage breaker opened; intake paused", attrs...)
	case systemicPaused:
		if why == ReadyReasonPermissionMissing {
			attrs = append(attrs, slog.String("missing_permission", missingPermission(w.cfg.GraphAPI)))
			w.log.Error("graph permission missing; intake paused until a probe call succeeds", attrs...)
		} else {
			w.log.Error("graph refused the deployment's credentials or configuration; intake paused until a probe call succeeds", attrs...)
		}
	case resumed:
		w.log.Info("graph calls resumed")
	}
}

// settle applies r to m with the settlement context, then logs and counts.
// A settlement whose link or connection is gone counts as lock lost: the
// message comes back after its lock, and a success it was recording stays
// remembered, so the redelivery is completed without a second call.
func (w *Worker) settle(m *azservicebus.ReceivedMessage, epoch int64, r result, start time.Time) {
	if r.kind == kindLockLost {
		w.finish(m, r, start, outcomeLockLost, nil)
		return
	}
	ctx, cancel := context.WithTimeout(w.settleCtx, w.cfg.SettleTimeout)
	defer cancel()
	if m.LockedUntil != nil {
		// Settling after the lock has expired cannot succeed, and the SDK's
		// own settlement retries (seconds apart after a dropped connection)
		// would hold the slot for nothing: give up shortly after the lock.
		var cancelLock context.CancelFunc
		ctx, cancelLock = context.WithDeadline(ctx, m.LockedUntil.Add(settleGrace))
		defer cancelLock()
	}
	var op func(context.Context, *azservicebus.ReceivedMessage) error
	outcome := ""
	switch r.kind {
	case kindComplete, kindCoalesced:
		outcome = outcomeCompleted
		if r.kind == kindCoalesced {
			outcome = outcomeCoalesced
		}
		op = func(ctx context.Context, m *azservicebus.ReceivedMessage) error {
			return w.recv.CompleteMessage(ctx, m, nil)
		}
	case kindDeadLetter:
		outcome = outcomeDeadLettered
		reason := string(r.reason)
		desc := describe(r)
		props := deadLetterProperties(r, w.clock.Now())
		op = func(ctx context.Context, m *azservicebus.ReceivedMessage) error {
			return w.recv.DeadLetterMessage(ctx, m, &azservicebus.DeadLetterOptions{
				Reason:             &reason,
				ErrorDescription:   &desc,
				PropertiesToModify: props,
			})
		}
	default:
		outcome = outcomeAbandoned
		op = func(ctx context.Context, m *azservicebus.ReceivedMessage) error {
			return w.recv.AbandonMessage(ctx, m, nil)
		}
	}
	linkGone, err := w.settleWatched(ctx, epoch, func(ctx context.Context) error { return op(ctx, m) })
	if err != nil && ctx.Err() == nil && (linkGone || isConnectionCause(classify(err))) && !isLockLost(err) {
		// The link the message arrived on is gone, but its lock need not
		// be: Service Bus settles by lock token on $management while the
		// lock holds (sbemu/LINKLOSS.md), and the SDK takes that path for
		// a message that carries only its lock token. So the message is
		// settled now instead of coming back after its lock expires.
		w.serviceBusFailedWith(opSettle, CauseConnectionLost, err)
		w.log.Debug("settlement link gone; settling by lock token", slog.String("message_id", m.MessageID))
		if err = op(ctx, lockTokenOnly(m)); err == nil {
			w.metrics.settledByLockToken.Inc()
		}
	}
	if err != nil {
		cause := classify(err)
		if linkGone {
			cause = CauseConnectionLost
		}
		switch w.serviceBusFailedWith(opSettle, cause, err); {
		case linkGone || cause == CauseLockLost || (cause != CauseTimeout && isConnectionCause(cause)),
			// Still unsettled when the lock ran out: it is lost.
			m.LockedUntil != nil && errors.Is(err, context.DeadlineExceeded) && !w.clock.Now().Before(*m.LockedUntil):
			outcome = outcomeLockLost
		default:
			outcome = outcomeSettleFailed
			w.metrics.settleErrors.Inc()
		}
	}
	w.finish(m, r, start, outcome, err)
}

// lockTokenOnly is m as the SDK settles on the $management link: only
// its lock token (and, for logs, its ids) and no AMQP message, so the SDK
// cannot use the dead link m arrived on.
func lockTokenOnly(m *azservicebus.ReceivedMessage) *azservicebus.ReceivedMessage {
	return &azservicebus.ReceivedMessage{LockToken: m.LockToken, MessageID: m.MessageID, SequenceNumber: m.SequenceNumber}
}

// errLinkGone cancels a settlement whose message arrived on a connection
// or link that has since been lost.
var errLinkGone = errors.New("worker: the link the message arrived on is gone")

// settleWatched runs one settlement call. azservicebus v1.11.0 settles on
// the link the message arrived on and, when that link's connection is gone
// (an *amqp.ConnError, not the *amqp.LinkError after which it would use the
// $management link), retries it seconds apart until ctx ends. So a call
// still running after SettleStallTimeout is given up (linkGone true) at
// once if a connection or link was lost since the message was received
// (the epoch moved), else when the quick probe it asks for has run (which
// moves the epoch; see probeServiceBus).
func (w *Worker) settleWatched(ctx context.Context, epoch int64, op func(context.Context) error) (linkGone bool, err error) {
	defer w.live.settlingFrom(w.clock.Now())()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stalled := time.AfterFunc(w.cfg.SettleStallTimeout, func() {
		cur, moved := w.sb.current()
		if cur != epoch {
			cancel(errLinkGone)
			return
		}
		w.kickProbe()
		go func() {
			select {
			case <-moved:
				cancel(errLinkGone)
			case <-ctx.Done():
			}
		}()
	})
	err = op(ctx)
	stalled.Stop()
	return err != nil && errors.Is(context.Cause(ctx), errLinkGone), err
}

// finish counts and logs one message's outcome.
func (w *Worker) finish(m *azservicebus.ReceivedMessage, r result, start time.Time, outcome string, err error) {
	reason := ""
	if outcome == outcomeDeadLettered {
		reason = string(r.reason)
	}
	w.metrics.messages.WithLabelValues(outcome, reason).Inc()
	if outcome == outcomeLockLost {
		w.metrics.lockLosses.Inc()
	}
	attrs := []any{
		slog.String("message_id", m.MessageID),
		slog.String("user_id", r.userID),
		slog.Int("delivery_count", int(m.DeliveryCount)),
		slog.Int("attempts", r.attempts),
		slog.String("reason", reason),
		slog.Duration("duration", w.clock.Now().Sub(start)),
	}
	switch {
	case r.kind == kindComplete || r.kind == kindCoalesced:
		attrs = append(attrs, slog.String("graph_request_id", r.ok.RequestID),
			slog.String("client_request_id", r.ok.ClientRequestID), slog.Int("http_status", r.ok.StatusCode))
	case r.last != nil:
		attrs = append(attrs, slog.String("graph_request_id", r.last.RequestID),
			slog.String("client_request_id", r.last.ClientRequestID), slog.Int("http_status", r.last.StatusCode),
			slog.String("graph_error_code", r.last.Code))
	}
	if r.invalidField != "" {
		attrs = append(attrs, slog.String("invalid_field", r.invalidField))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	switch outcome {
	case outcomeCompleted:
		w.log.Info("message completed", attrs...)
	case outcomeCoalesced:
		// client_request_id names the call that covered this message.
		w.log.Info("message coalesced", attrs...)
	case outcomeDeadLettered:
		w.log.Warn("message dead-lettered", attrs...)
	case outcomeAbandoned:
		w.log.Info("message abandoned", attrs...)
	case outcomeLockLost:
		w.log.Warn("message lock lost; not settled", attrs...)
	default:
		w.log.Error("message settlement failed", attrs...)
	}
}

// describe writes the dead-letter description: the reason in words, then
// the HTTP status, Graph error code, request ids and attempt count.
func describe(r result) string {
	var b strings.Builder
	switch r.reason {
	case ReasonInvalidMessage:
		b.WriteString(r.description)
		b.WriteString("; Graph was not called (attempts=0)")
		return truncate(b.String())
	case ReasonUserNotFound:
		b.WriteString("Graph does not know the user")
	case ReasonGraphRejected:
		b.WriteString("Graph rejected the request permanently")
	case ReasonRetriesExhausted:
		b.WriteString("transient Graph failures outlasted the retry budget")
	}
	fmt.Fprintf(&b, " after %d attempt(s)", r.attempts)
	if e := r.last; e != nil {
		if e.StatusCode != 0 {
			fmt.Fprintf(&b, "; http_status=%d", e.StatusCode)
		} else {
			b.WriteString("; no HTTP response (network error or timeout)")
		}
		if e.Code != "" {
			fmt.Fprintf(&b, " graph_error_code=%s", e.Code)
		}
		if e.RequestID != "" {
			fmt.Fprintf(&b, " request-id=%s", e.RequestID)
		}
		if e.ClientRequestID != "" {
			fmt.Fprintf(&b, " client-request-id=%s", e.ClientRequestID)
		}
	}
	fmt.Fprintf(&b, " attempts=%d", r.attempts)
	return truncate(b.String())
}

func truncate(s string) string {
	if len(s) <= maxDescription {
		return s
	}
	return s[:maxDescription]
}

// deadLetterProperties returns the application properties stamped on a
// dead-lettered message.
func deadLetterProperties(r result, now time.Time) map[string]any {
	p := map[string]any{
		PropReason:         string(r.reason),
		PropAttempts:       r.attempts,
		PropDeadLetteredAt: now.UTC().Format(time.RFC3339),
	}
	if r.userID != "" {
		p[PropUserID] = r.userID
	}
	if r.invalidField != "" {
		p[PropInvalidField] = r.invalidField
	}
	if e := r.last; e != nil {
		if e.StatusCode != 0 {
			p[PropHTTPStatus] = e.StatusCode
		}
		if e.Code != "" {
			p[PropGraphErrorCode] = e.Code
		}
		if e.RequestID != "" {
			p[PropGraphRequestID] = e.RequestID
		}
		if e.ClientRequestID != "" {
			p[PropClientRequestID] = e.ClientRequestID
		}
	}
	return p
}
