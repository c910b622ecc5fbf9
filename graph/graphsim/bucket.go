package graphsim

import "time"

// bucket is a sliding-window write limit: at most n writes accepted in any
// window. It keeps the accept times of the last n writes in a ring.
type bucket struct {
	n      int
	window time.Duration
	times  []time.Time // ring of accepted writes, oldest at head
	head   int
	count  int
}

func newBucket(n int, window time.Duration) *bucket {
	return &bucket{n: n, window: window, times: make([]time.Time, n)}
}

// take records a write at now if there is room and returns ok; otherwise it
// returns how long until the oldest write leaves the window.
func (b *bucket) take(now time.Time) (ok bool, wait time.Duration) {
	b.expire(now)
	if b.count < b.n {
		b.times[(b.head+b.count)%b.n] = now
		b.count++
		return true, 0
	}
	return false, b.times[b.head].Add(b.window).Sub(now)
}

// used returns the fraction of the window's capacity in use at now.
func (b *bucket) used(now time.Time) float64 {
	b.expire(now)
	return float64(b.count) / float64(b.n)
}

func (b *bucket) expire(now time.Time) {
	for b.count > 0 && !now.Before(b.times[b.head].Add(b.window)) {
		b.head = (b.head + 1) % b.n
		b.count--
	}
}

// retryAfterSeconds rounds a wait up to whole seconds, at least 1, as Graph
// sends Retry-After.
func retryAfterSeconds(wait time.Duration) int64 {
	secs := int64((wait + time.Second - 1) / time.Second)
	return max(secs, 1)
}
