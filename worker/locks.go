package worker

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

// fallbackLockDuration is assumed when a message carries no LockedUntil.
const fallbackLockDuration = 30 * time.Second

// minRenewWait keeps a nearly expired lock from spinning.
const minRenewWait = 10 * time.Millisecond

// isLockLost reports whether err is the SDK's lock-lost error.
func isLockLost(err error) bool {
	var sbErr *azservicebus.Error
	return errors.As(err, &sbErr) && sbErr.Code == azservicebus.CodeLockLost
}

// renewWait is how long to wait before renewing a lock that expires at
// lockedUntil: half of the remaining time.
func renewWait(now, lockedUntil time.Time) time.Duration {
	return max(lockedUntil.Sub(now)/2, minRenewWait)
}

// renewLock keeps m's lock alive until ctx ends. When the lock is lost it
// calls lost and returns. It is the only goroutine touching m while the
// message is being worked on; the caller stops it before settling.
func (w *Worker) renewLock(ctx context.Context, m *azservicebus.ReceivedMessage, lost func()) {
	lockedUntil := w.clock.Now().Add(fallbackLockDuration)
	if m.LockedUntil != nil {
		lockedUntil = *m.LockedUntil
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.clock.After(renewWait(w.clock.Now(), lockedUntil)):
		}
		err := w.recv.RenewMessageLock(ctx, m, nil)
		switch {
		case err == nil:
			w.metrics.lockRenewals.Inc()
			if m.LockedUntil != nil {
				lockedUntil = *m.LockedUntil
			} else {
				lockedUntil = w.clock.Now().Add(fallbackLockDuration)
			}
			continue
		case ctx.Err() != nil:
			return
		}
		w.serviceBusFailed(opRenew, err)
		switch {
		case isLockLost(err) || !w.clock.Now().Before(lockedUntil):
			w.log.Warn("message lock lost", slog.String("message_id", m.MessageID), slog.String("error", err.Error()))
			lost()
			return
		default:
			// A transient failure: try again at half the time left.
			w.log.Warn("message lock renewal failed; retrying", slog.String("message_id", m.MessageID), slog.String("error", err.Error()))
		}
	}
}
