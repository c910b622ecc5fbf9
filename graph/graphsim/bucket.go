package graphsim

import "time"

// bucket is a sliding-window write limit: at most n writes accepted in any
// window. It keeps the accept times of the writes still inside the window,
// oldest first; memory follows the traffic, not n.
type bucket struct {
	n      int
	window time.Duration
	times  []time.Time // accepted writes, oldest first; times[head:] are in the window
	head   int
}

func newBucket(n int, window time.Duration) *bucket {
	return &bucket{n: n, window: window}
}

// take records a write at now if there is room and returns ok; otherwise it
// returns how long until the oldest write leaves the window.
func (b *bucket) take(now time.Time) (ok bool, wait time.Duration) {
	b.expire(now)
	if len(b.times)-b.head < b.n {
		b.times = append(b.times, now)
		return true, 0
	}
	return false, b.times[b.head].Add(b.window).Sub(now)
}

// used returns the fraction of the window's capacity in use at now.
func (b *bucket) used(now time.Time) float64 {
	b.expire(now)
	return float64(len(b.times)-b.head) / float64(b.n)
}

func (b *bucket) expire(now time.Time) {
	for b.head < len(b.times) && !now.Before(b.times[b.head].Add(b.window)) {
		b.head++
	}
	// Compact once the expired prefix is the larger part, so the backing
	// array is reused and each write is copied a bounded number of times.
	if b.head > 0 && b.head >= len(b.times)-b.head {
		b.times = b.times[:copy(b.times, b.times[b.head:])]
		b.head = 0
	}
}

// retryAfterSeconds rounds a wait up to whole seconds, at least 1, as Graph
// sends Retry-After.
func retryAfterSeconds(wait time.Duration) int64 {
	secs := int64((wait + time.Second - 1) / time.Second)
	return max(secs, 1)
}
