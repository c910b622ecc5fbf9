package worker

import (
	"slices"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/licensefix/licensefix/graph"
)

// success is a remembered successful reprocess call for a user.
type success struct {
	started time.Time // when the call was sent (our clock)
	res     graph.Result
	// seqs are the sequence numbers of the messages the call covered
	// (at most maxRememberedSeqs): a redelivery of one of them, after a
	// lost lock or a dropped connection, is covered whatever the clocks say.
	seqs []int64
}

// maxRememberedSeqs bounds success.seqs.
const maxRememberedSeqs = 32

// waiter is one message waiting on its user's call.
type waiter struct {
	// after: attempts numbered above it cover the message.
	after int
	// seq is the message's sequence number (-1: none).
	seq int64
	// done receives the message's result once (buffered).
	done chan result
}

// userCall is the one call loop of a user: every message for the user that
// is waiting joins it, so one Graph call serves them all.
type userCall struct {
	user     string
	waiters  []*waiter
	attempt  int       // attempts started so far
	inFlight bool      // an attempt is waiting for Graph
	started  time.Time // when the attempt in flight was sent
}

// coalescer joins messages to their user's call and remembers recent
// successful calls, so that a message is satisfied by any successful call
// for its user that started after the message was enqueued:
//
//   - a message whose user had such a call, remembered, is completed
//     without a call (coalesced);
//   - a message whose user's call is waiting to be made joins it (it
//     arrived before the call started, so the call started after the fix);
//   - a message arriving while its user's call is in flight joins the next
//     attempt, unless the call in flight started at least skew after the
//     message's EnqueuedTime (the call in flight may predate the fix).
//
// Service Bus stamps EnqueuedTime with its clock and we compare it with
// ours, so a remembered or in-flight call counts only when it started at
// least skew after EnqueuedTime. The memory is bounded in entries (least
// recently used first out) and age, and is per replica.
type coalescer struct {
	skew   time.Duration
	maxAge time.Duration

	mu     sync.Mutex
	byUser map[string]*userCall
	memory *lru.Cache[string, success]
}

func newCoalescer(entries int, maxAge, skew time.Duration) *coalescer {
	mem, err := lru.New[string, success](entries)
	if err != nil {
		panic(err) // entries > 0 is validated by Config
	}
	return &coalescer{skew: skew, maxAge: maxAge, byUser: map[string]*userCall{}, memory: mem}
}

// covers reports whether a call started at started covers a message
// enqueued at enqueued (zero: unknown, never covered by time alone).
func (c *coalescer) covers(started, enqueued time.Time) bool {
	return !enqueued.IsZero() && !started.Before(enqueued.Add(c.skew))
}

// join looks up the memory for a message of user enqueued at enqueued and
// otherwise joins it to its user's call. It returns the remembered success
// that covers the message, or its waiter and, when the caller must start
// it, the new call.
func (c *coalescer) join(user string, seq int64, enqueued, now time.Time) (hit *success, w *waiter, start *userCall) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.memory.Get(user); ok {
		if now.Sub(s.started) > c.maxAge {
			c.memory.Remove(user)
		} else if c.covers(s.started, enqueued) || (seq >= 0 && slices.Contains(s.seqs, seq)) {
			return &s, nil, nil
		}
	}
	call := c.byUser[user]
	if call == nil {
		call = &userCall{user: user}
		c.byUser[user] = call
		start = call
	}
	w = &waiter{after: call.attempt, seq: seq, done: make(chan result, 1)}
	if call.inFlight && c.covers(call.started, enqueued) {
		w.after = call.attempt - 1
	}
	call.waiters = append(call.waiters, w)
	return nil, w, start
}

// leave removes w from user's call. With unlessCovered, a waiter that the
// attempt in flight covers stays (its result is coming) and leave reports
// false.
func (c *coalescer) leave(user string, w *waiter, unlessCovered bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	call := c.byUser[user]
	if call == nil {
		return true
	}
	if unlessCovered && call.inFlight && call.attempt > w.after {
		return false
	}
	for i, x := range call.waiters {
		if x == w {
			call.waiters = append(call.waiters[:i], call.waiters[i+1:]...)
			break
		}
	}
	return true
}

// next begins an attempt of call at now, or reports false (and forgets the
// call) when nobody waits for it any more.
func (c *coalescer) next(call *userCall, now time.Time) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(call.waiters) == 0 {
		delete(c.byUser, call.user)
		return 0, false
	}
	call.attempt++
	call.inFlight, call.started = true, now
	return call.attempt, true
}

// idle marks call's attempt as answered.
func (c *coalescer) idle(call *userCall) {
	c.mu.Lock()
	defer c.mu.Unlock()
	call.inFlight = false
}

// succeeded remembers a success of attempt n of call, sent at started, and
// hands the waiters it covers their result: the oldest completes, the
// others are coalesced into it. Waiters that joined after the attempt was
// sent stay for the next.
func (c *coalescer) succeeded(call *userCall, n int, started time.Time, r result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	call.inFlight = false
	mem := success{started: started, res: r.ok}
	kept := call.waiters[:0]
	first := true
	for _, w := range call.waiters {
		if w.after >= n {
			kept = append(kept, w)
			continue
		}
		if w.seq >= 0 && len(mem.seqs) < maxRememberedSeqs {
			mem.seqs = append(mem.seqs, w.seq)
		}
		wr := r
		if !first {
			wr.kind = kindCoalesced
		}
		first = false
		w.done <- wr
	}
	clear(call.waiters[len(kept):])
	call.waiters = kept
	c.memory.Add(call.user, mem)
}

// finish hands every waiter of call r and forgets the call.
func (c *coalescer) finish(call *userCall, r result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	call.inFlight = false
	for _, w := range call.waiters {
		w.done <- r
	}
	call.waiters = nil
	if c.byUser[call.user] == call {
		delete(c.byUser, call.user)
	}
}

// remembered returns the number of remembered successes.
func (c *coalescer) remembered() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.memory.Len()
}
