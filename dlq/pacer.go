package dlq

import (
	"context"
	"time"
)

// pacer spaces events at a fixed rate without bursts.
type pacer struct {
	interval time.Duration
	now      func() time.Time
	next     time.Time
}

func newPacer(perSecond float64, now func() time.Time) *pacer {
	p := &pacer{now: now}
	if perSecond > 0 {
		p.interval = time.Duration(float64(time.Second) / perSecond)
	}
	return p
}

// delay returns how long to wait before the next event and books it.
func (p *pacer) delay() time.Duration {
	if p.interval <= 0 {
		return 0
	}
	now := p.now()
	if p.next.Before(now) {
		p.next = now
	}
	d := p.next.Sub(now)
	p.next = p.next.Add(p.interval)
	return d
}

// wait blocks until the next event may happen or ctx ends.
func (p *pacer) wait(ctx context.Context) error {
	d := p.delay()
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
