package sbemu

import (
	"sync"

	"github.com/licensefix/licensefix/sbemu/internal/broker"
)

// lockRegistry remembers the lock tokens handed out per queue, so that
// ExpireAllLocks can find them (the broker does not list its locks). A
// token is forgotten when it is settled through the emulator or expired by
// a fault hook; one whose lock simply timed out lingers until the next
// ExpireAllLocks on its queue, which is harmless.
type lockRegistry struct {
	mu sync.Mutex
	m  map[*broker.Queue]map[broker.LockToken]struct{}
}

func (r *lockRegistry) add(q *broker.Queue, tok broker.LockToken) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[*broker.Queue]map[broker.LockToken]struct{}{}
	}
	set := r.m[q]
	if set == nil {
		set = map[broker.LockToken]struct{}{}
		r.m[q] = set
	}
	set[tok] = struct{}{}
}

func (r *lockRegistry) remove(q *broker.Queue, tok broker.LockToken) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m[q], tok)
}

// take returns and forgets every token recorded for q.
func (r *lockRegistry) take(q *broker.Queue) []broker.LockToken {
	r.mu.Lock()
	defer r.mu.Unlock()
	set := r.m[q]
	delete(r.m, q)
	out := make([]broker.LockToken, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	return out
}
