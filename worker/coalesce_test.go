package worker

import (
	"testing"
	"time"

	"github.com/licensefix/licensefix/graph"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const skew = time.Second

func newTestCoalescer() *coalescer { return newCoalescer(100, time.Hour, skew) }

func ok(crid string) result {
	return result{kind: kindComplete, attempts: 1, ok: graph.Result{StatusCode: 200, ClientRequestID: crid}}
}

func received(t *testing.T, w *waiter) result {
	t.Helper()
	select {
	case r := <-w.done:
		return r
	default:
		t.Fatal("no result")
		return result{}
	}
}

func pending(t *testing.T, w *waiter) {
	t.Helper()
	select {
	case r := <-w.done:
		t.Fatalf("unexpected result %+v", r)
	default:
	}
}

func TestWaitingMessagesJoinTheUpcomingCall(t *testing.T) {
	t.Parallel()
	c := newTestCoalescer()
	hit, a, call := c.join("u", 1, t0, t0)
	require.Nil(t, hit)
	require.NotNil(t, call, "the first message starts the user's call")
	_, b, again := c.join("u", 2, t0, t0)
	require.Nil(t, again, "the second joins it")
	n, more := c.next(call, t0.Add(time.Millisecond))
	require.True(t, more)
	c.succeeded(call, n, t0.Add(time.Millisecond), ok("crid-1"))
	ra, rb := received(t, a), received(t, b)
	assert.Equal(t, kindComplete, ra.kind, "the oldest message completes")
	assert.Equal(t, kindCoalesced, rb.kind, "the others are coalesced into its call")
	assert.Equal(t, "crid-1", rb.ok.ClientRequestID, "naming the call that covered them")
	_, more = c.next(call, t0)
	assert.False(t, more, "nobody waits: the call ends")
}

func TestRememberedSuccessCoversMessagesEnqueuedBeforeIt(t *testing.T) {
	t.Parallel()
	c := newTestCoalescer()
	_, a, call := c.join("u", 1, t0, t0)
	started := t0.Add(5 * time.Second)
	n, _ := c.next(call, started)
	c.succeeded(call, n, started, ok("crid-1"))
	received(t, a)

	// Enqueued well before the call started: covered without a call.
	hit, w, newCall := c.join("u", 7, started.Add(-2*time.Second), started.Add(time.Minute))
	require.NotNil(t, hit)
	assert.Nil(t, w)
	assert.Nil(t, newCall)
	assert.Equal(t, "crid-1", hit.res.ClientRequestID)

	// Enqueued after the call started: needs a call of its own.
	hit, w, _ = c.join("u", 8, started.Add(time.Second), started.Add(time.Minute))
	assert.Nil(t, hit)
	require.NotNil(t, w)
	n2, more := c.next(call, started.Add(time.Minute))
	assert.True(t, more, "the user's call loop makes another call for it")
	assert.Equal(t, n+1, n2)
}

func TestSkewAllowance(t *testing.T) {
	t.Parallel()
	c := newTestCoalescer()
	_, a, call := c.join("u", 1, t0, t0)
	started := t0.Add(10 * time.Second)
	n, _ := c.next(call, started)
	c.succeeded(call, n, started, ok("crid-1"))
	received(t, a)
	// Enqueued half a second before the call by Service Bus's clock: with
	// a second of allowed skew the call may have come first. Not covered.
	hit, _, _ := c.join("u", 2, started.Add(-500*time.Millisecond), started.Add(time.Minute))
	assert.Nil(t, hit)
	// Enqueued more than the skew before: covered.
	c2 := newTestCoalescer()
	_, a, call = c2.join("u", 1, t0, t0)
	n, _ = c2.next(call, started)
	c2.succeeded(call, n, started, ok("crid-1"))
	received(t, a)
	hit, _, _ = c2.join("u", 3, started.Add(-1500*time.Millisecond), started.Add(time.Minute))
	assert.NotNil(t, hit)
}

func TestMessageArrivingDuringACallInFlightWaitsForTheNext(t *testing.T) {
	t.Parallel()
	c := newTestCoalescer()
	_, a, call := c.join("u", 1, t0, t0)
	started := t0.Add(time.Second)
	n, _ := c.next(call, started)
	// Enqueued after the call in flight was sent: that call may predate
	// the fix, so the message waits for the next one.
	_, late, newCall := c.join("u", 2, started.Add(100*time.Millisecond), started.Add(200*time.Millisecond))
	require.Nil(t, newCall)
	c.succeeded(call, n, started, ok("crid-1"))
	assert.Equal(t, kindComplete, received(t, a).kind)
	pending(t, late)
	n2, more := c.next(call, started.Add(time.Second))
	require.True(t, more, "the call goes on for the late message")
	assert.Equal(t, n+1, n2)
	c.succeeded(call, n2, started.Add(time.Second), ok("crid-2"))
	r := received(t, late)
	assert.Equal(t, kindComplete, r.kind)
	assert.Equal(t, "crid-2", r.ok.ClientRequestID)
}

func TestMessageEnqueuedWellBeforeACallInFlightJoinsIt(t *testing.T) {
	t.Parallel()
	c := newTestCoalescer()
	_, a, call := c.join("u", 1, t0, t0)
	started := t0.Add(10 * time.Second)
	n, _ := c.next(call, started)
	// A backlog message enqueued long before the call was sent.
	_, old, _ := c.join("u", 2, t0, started.Add(100*time.Millisecond))
	c.succeeded(call, n, started, ok("crid-1"))
	received(t, a)
	assert.Equal(t, kindCoalesced, received(t, old).kind)
}

func TestRedeliveryOfACoveredMessageIsCoveredWhateverTheClocks(t *testing.T) {
	t.Parallel()
	c := newTestCoalescer()
	// Sent and called within the skew: only the sequence number proves it.
	_, a, call := c.join("u", 42, t0, t0)
	n, _ := c.next(call, t0.Add(10*time.Millisecond))
	c.succeeded(call, n, t0.Add(10*time.Millisecond), ok("crid-1"))
	received(t, a)
	hit, _, _ := c.join("u", 42, t0, t0.Add(time.Minute))
	require.NotNil(t, hit, "the redelivered message is covered by its own call")
	hit, _, _ = c.join("u", 43, t0, t0.Add(time.Minute))
	assert.Nil(t, hit, "another message enqueued as close to the call is not")
}

func TestMemoryIsBoundedInEntriesAndAge(t *testing.T) {
	t.Parallel()
	c := newCoalescer(2, time.Minute, 0)
	for i, u := range []string{"a", "b", "c"} {
		_, w, call := c.join(u, int64(i), t0, t0)
		n, _ := c.next(call, t0.Add(time.Second))
		c.succeeded(call, n, t0.Add(time.Second), ok(u))
		received(t, w)
	}
	assert.Equal(t, 2, c.remembered(), "least recently used out first")
	hit, _, _ := c.join("a", 99, t0, t0.Add(2*time.Second))
	assert.Nil(t, hit, "a was evicted")
	hit, _, _ = c.join("c", 99, t0, t0.Add(2*time.Second))
	assert.NotNil(t, hit)
	hit, _, _ = c.join("c", 99, t0, t0.Add(2*time.Minute))
	assert.Nil(t, hit, "too old to count")
}

func TestLeaveKeepsAWaiterThatTheCallInFlightCovers(t *testing.T) {
	t.Parallel()
	c := newTestCoalescer()
	_, a, call := c.join("u", 1, t0, t0)
	c.next(call, t0.Add(time.Second))
	assert.False(t, c.leave("u", a, true), "covered by the call in flight: stay for its result")
	assert.True(t, c.leave("u", a, false), "a lost lock leaves anyway")
	c.idle(call)
	_, more := c.next(call, t0)
	assert.False(t, more)
}
