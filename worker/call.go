package worker

import (
	"errors"
	"log/slog"
	"time"

	"github.com/licensefix/licensefix/graph"
)

// runCall is a user's call loop: acquire a slot and the gates, call, act on
// the decision, wait. It ends when nobody waits for the call any more, when
// a verdict is reached or when shutdown stops it.
func (w *Worker) runCall(call *userCall) {
	bo := w.cfg.Retry.NewBackoff(nil)
	var spent time.Duration // this round's budget; see budgetState
	var roundStart time.Time
	attempts := 0
	var last *graph.Error
	for {
		n, ok := w.calls.next(call, w.clock.Now())
		if !ok {
			return
		}
		if !w.takeSlot() {
			w.calls.finish(call, result{kind: kindAbandon, attempts: attempts, last: last})
			return
		}
		probe, waited, err := w.gates.acquire(w.callCtx, w.stopping, w.clock)
		w.metrics.throttleWait.Add(waited.Seconds())
		if err != nil {
			w.releaseSlot()
			w.calls.finish(call, result{kind: kindAbandon, attempts: attempts, last: last})
			return
		}
		start := w.clock.Now()
		if attempts > 0 {
			w.metrics.retries.Inc()
		}
		if roundStart.IsZero() {
			roundStart = start
		}
		attempts++
		w.metrics.callsInFlight.Inc()
		res, callErr := w.graph.Reprocess(w.callCtx, call.user)
		w.metrics.callsInFlight.Dec()
		w.releaseSlot()
		done := w.clock.Now()
		w.noteLatency(done.Sub(start))

		o := outcome{kind: graph.KindOf(callErr), cancelled: callErr != nil && w.callCtx.Err() != nil}
		var ge *graph.Error
		if callErr != nil && !errors.As(callErr, &ge) {
			ge = &graph.Error{Class: graph.ClassOf(callErr), Err: callErr}
		}
		var retryAfter time.Duration
		if ge != nil {
			w.metrics.observeCall(ge.StatusCode, done.Sub(start))
			if ge.HasRetryAfter {
				retryAfter = ge.RetryAfter
			}
		} else {
			w.metrics.observeCall(res.StatusCode, done.Sub(start))
		}
		if o.cancelled {
			w.gates.release(probe)
		} else {
			w.noteTransition(w.gates.report(done, probe, call.user, o.kind, res.ThrottleLimitPercentage, retryAfter), ge)
		}
		if o.kind == graph.KindThrottled {
			w.metrics.throttled.Inc()
			w.throttledTotal.Add(1)
		}
		var next time.Duration
		if o.kind == graph.KindTransient && !o.cancelled {
			// Only this call's own failures grow its backoff; a 503's
			// Retry-After is a floor.
			next = bo.Next(retryAfter)
		}
		d := decide(o, budgetState{spent: spent, max: w.cfg.Retry.MaxElapsed, next: next},
			gateState{paused: w.gates.paused(), healthyRecently: w.gates.healthySince(roundStart.Add(-w.cfg.Retry.MaxElapsed))})
		if ge != nil && !o.cancelled {
			last = ge
		}
		switch d.action {
		case actComplete:
			w.calls.succeeded(call, n, start, result{kind: kindComplete, attempts: attempts, ok: res})
			bo.Reset()
			spent, roundStart, attempts, last = 0, time.Time{}, 0, nil
			continue
		case actDeadLetter:
			w.calls.finish(call, result{kind: kindDeadLetter, reason: d.reason, attempts: attempts, last: last})
			return
		case actAbandon:
			w.calls.finish(call, result{kind: kindAbandon, attempts: attempts, last: last})
			return
		}
		w.calls.idle(call)
		switch d.action {
		case actForceOutage:
			w.noteTransition(w.gates.forceOutage(done), ge)
			bo.Reset()
			spent, roundStart = 0, time.Time{}
		case actBackoff:
			spent += done.Sub(start) + next
			w.log.Debug("graph call failed; will retry",
				slog.String("user_id", call.user), slog.Int("attempts", attempts),
				slog.Int("http_status", ge.StatusCode), slog.String("graph_error_code", ge.Code),
				slog.String("graph_request_id", ge.RequestID), slog.String("client_request_id", ge.ClientRequestID),
				slog.Duration("retry_in", next))
			select {
			case <-w.stopping:
			case <-w.clock.After(next):
			}
		}
	}
}

// takeSlot waits for one of Concurrency call slots; false when shutdown
// began first.
func (w *Worker) takeSlot() bool {
	select {
	case w.callSlots <- struct{}{}:
		return true
	case <-w.stopping:
		return false
	}
}

func (w *Worker) releaseSlot() { <-w.callSlots }
