package pacing

import (
	"slices"
	"sync"
	"time"
)

// Pool holds one [Limiter] per key: the quota's scope. licensefix uses one
// key for its app and tenant; a per-tenant mode adds keys, not structure.
// It is safe for concurrent use.
type Pool struct {
	cfg Config
	now func() time.Time

	mu       sync.Mutex
	limiters map[string]*Limiter
}

// NewPool returns a pool whose limiters are made from cfg, starting at the
// time now returns. cfg must pass [Config.Validate] after defaults.
func NewPool(cfg Config, now func() time.Time) *Pool {
	return &Pool{cfg: cfg, now: now, limiters: map[string]*Limiter{}}
}

// For returns the limiter of key, creating it on first use.
func (p *Pool) For(key string) *Limiter {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.limiters[key]
	if !ok {
		l = New(p.cfg, p.now())
		p.limiters[key] = l
	}
	return l
}

// Keys returns the keys in use, sorted.
func (p *Pool) Keys() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	keys := make([]string, 0, len(p.limiters))
	for k := range p.limiters {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
