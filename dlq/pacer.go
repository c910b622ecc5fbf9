package dlq

import (
	"context"
	"fmt"

	"golang.org/x/time/rate"
)

// pacer spaces sends at a fixed rate, without bursts, and is designed to be
// waited on only while no message is locked: a replay acquires a send slot
// before it receives, and spends it when it sends. A received message that
// is not sent (a non-matching one that is deferred, an original whose copy
// already exists) leaves the slot held, so the next receive does not wait
// again. The rate itself is golang.org/x/time/rate's token bucket with a
// burst of one.
type pacer struct {
	lim  *rate.Limiter // nil: no limit
	held bool
}

// newPacer paces at perSecond sends a second; 0 means no limit.
func newPacer(perSecond float64) *pacer {
	p := &pacer{}
	if perSecond > 0 {
		p.lim = rate.NewLimiter(rate.Limit(perSecond), 1)
	}
	return p
}

// acquire blocks until a send may happen, or ctx ends. It returns at once
// when a slot is already held or there is no limit.
func (p *pacer) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.lim == nil || p.held {
		return nil
	}
	if err := p.lim.Wait(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// The wait would outlast ctx's deadline.
		return fmt.Errorf("dlq: rate limit: %w", err)
	}
	p.held = true
	return nil
}

// spend uses the held slot: the next acquire waits for the rate again.
func (p *pacer) spend() { p.held = false }
