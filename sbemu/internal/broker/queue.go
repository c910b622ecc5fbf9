package broker

import (
	"container/heap"
	"fmt"
	"slices"
	"sort"
	"time"
)

// Description texts the broker itself assigns when dead-lettering.
const (
	descTTLExpired        = "The message expired and was dead lettered."
	descMaxDeliveryFormat = "Message could not be consumed after %d delivery attempts."
)

// Property keys the broker sets on dead-lettered messages.
const (
	PropDeadLetterReason           = "DeadLetterReason"
	PropDeadLetterErrorDescription = "DeadLetterErrorDescription"
)

// entry is one stored message. It is in exactly one of these places: the
// available heap (active, unlocked), the lock map (locked, state active or
// deferred), the deferred set (deferred, unlocked, counted by nDeferred) or the
// scheduled set (counted by nScheduled). All entries are in Queue.entries.
type entry struct {
	seq         int64
	msg         Message
	enqueued    time.Time
	expiresAt   time.Time // zero = never
	scheduled   time.Time // the ScheduledEnqueueTime it was sent with, or zero
	state       MessageState
	count       uint32 // previous delivery attempts
	locked      bool
	token       LockToken
	lockedUntil time.Time
	dlSource    string
	props       []Property

	availIdx int       // position in Queue.avail, -1 when out
	dueIdx   int       // position in Queue.due, -1 when out
	due      time.Time // key in Queue.due
}

// seenID is one message id in the duplicate-detection history.
type seenID struct {
	id string
	at time.Time
}

// Queue is a queue, a dead-letter subqueue, a topic or a subscription.
type Queue struct {
	b      *Broker
	cfg    QueueConfig
	name   string
	isDLQ  bool
	dlq    *Queue // nil when q is itself one
	parent *Queue // the queue a dead-letter subqueue belongs to
	fwd    *Queue // ForwardTo target
	dlFwd  *Queue // ForwardDeadLetteredMessagesTo target

	isTopic bool     // a topic: stores only scheduled messages, fans out the rest
	subs    []*Queue // a topic's subscriptions, in config order
	topic   *Queue   // the topic a subscription belongs to
	router  Router   // a subscription's rules; nil = every message

	// Everything below is guarded by b.mu.
	nextSeq    int64
	entries    map[int64]*entry
	order      []int64 // sequence numbers in increasing order; may hold removed ones
	avail      availHeap
	due        dueHeap
	locks      map[LockToken]*entry
	nDeferred  int
	nScheduled int
	seen       map[string]time.Time // duplicate detection: id -> first seen
	seenLog    []seenID             // the same ids in the order seen; seenLog[seenHead:] is live
	seenHead   int
	changed    chan struct{} // nil until someone asks
}

func newQueue(b *Broker, cfg QueueConfig, name string, dlq bool) *Queue {
	q := &Queue{
		b:       b,
		cfg:     cfg,
		name:    name,
		isDLQ:   dlq,
		nextSeq: 1,
		entries: make(map[int64]*entry),
		locks:   make(map[LockToken]*entry),
	}
	if cfg.RequiresDuplicateDetection {
		q.seen = make(map[string]time.Time)
	}
	return q
}

// Name is the entity path: "name" or "name/$DeadLetterQueue".
func (q *Queue) Name() string { return q.name }

// Config returns the queue's configuration with defaults applied. A
// dead-letter subqueue reports its own path as Name and its parent's lock
// duration and max delivery count (which it never enforces).
func (q *Queue) Config() QueueConfig { return q.cfg }

// DeadLetterQueue returns the subqueue, or nil when q is itself one or a topic.
func (q *Queue) DeadLetterQueue() *Queue { return q.dlq }

// IsDeadLetterQueue reports whether q is a dead-letter subqueue.
func (q *Queue) IsDeadLetterQueue() bool { return q.isDLQ }

// IsTopic reports whether q is a topic (send only; receive from its subscriptions).
func (q *Queue) IsTopic() bool { return q.isTopic }

// Topic returns the topic of a subscription, or nil when q is not one.
func (q *Queue) Topic() *Queue { return q.topic }

// Send enqueues messages in order and returns their sequence numbers. With
// duplicate detection on, a message whose MessageID was seen within the
// window is accepted and dropped (its sequence number is 0). Messages with a
// future ScheduledEnqueueTime become scheduled. ForwardTo is honoured.
//
// A forwarded message's sequence number is the one it got in the queue it
// landed in. Sending to a dead-letter subqueue or to a subscription fails
// with ErrNotSupported.
//
// Sending to a topic gives each message a sequence number of the topic's
// (the one Schedule returns, for CancelScheduled) and copies it into each
// subscription whose Router accepts it, where it gets that subscription's
// next sequence number; a scheduled message waits in the topic until due.
func (q *Queue) Send(msgs []Message) ([]int64, error) {
	if q.isDLQ || q.topic != nil {
		return nil, fmt.Errorf("%w: send to %q", ErrNotSupported, q.name)
	}
	q.b.mu.Lock()
	defer q.b.mu.Unlock()
	now := q.b.clock.Now()
	q.b.sweepLocked(now)
	seqs := make([]int64, len(msgs))
	for i, m := range msgs {
		seqs[i] = q.enqueue(m, nil, now)
	}
	return seqs, nil
}

// Schedule enqueues messages as scheduled at their ScheduledEnqueueTime.
//
// A message whose time is zero or not in the future is enqueued at once,
// as Service Bus does. Otherwise Schedule behaves like Send.
func (q *Queue) Schedule(msgs []Message) ([]int64, error) {
	return q.Send(msgs)
}

// CancelScheduled removes scheduled messages; unknown numbers are ignored.
//
// Numbers of messages that are no longer scheduled are ignored as well.
func (q *Queue) CancelScheduled(seqs []int64) error {
	q.b.mu.Lock()
	defer q.b.mu.Unlock()
	q.b.sweepLocked(q.b.clock.Now())
	for _, s := range seqs {
		if e, ok := q.entries[s]; ok && e.state == StateScheduled {
			q.remove(e)
		}
	}
	return nil
}

// Changed returns a channel closed the next time a message may have become
// available for Receive. Call it again after each wake-up.
//
// Time-driven changes (lock expiry, scheduled messages falling due) are
// noticed by the next broker operation or Sweep, so a waiter should also
// wake at the time Sweep returns.
func (q *Queue) Changed() <-chan struct{} {
	q.b.mu.Lock()
	defer q.b.mu.Unlock()
	if q.changed == nil {
		q.changed = make(chan struct{})
	}
	return q.changed
}

// notify wakes everyone waiting on Changed.
func (q *Queue) notify() {
	if q.changed != nil {
		close(q.changed)
		q.changed = nil
	}
}

// Receive takes the lowest-numbered available active message: in PeekLock it
// is locked for LockDuration with a fresh token; in ReceiveAndDelete it is
// removed. ok is false when nothing is available.
func (q *Queue) Receive(mode ReceiveMode) (rec Record, ok bool) {
	q.b.mu.Lock()
	defer q.b.mu.Unlock()
	now := q.b.clock.Now()
	q.b.sweepLocked(now)
	if len(q.avail) == 0 {
		return Record{}, false
	}
	e := heap.Pop(&q.avail).(*entry)
	if mode == ReceiveAndDelete {
		q.remove(e)
		return e.record(false), true
	}
	q.lock(e, now)
	return e.record(true), true
}

// Complete deletes the locked message.
func (q *Queue) Complete(token LockToken) error {
	return q.settle(token, q.remove)
}

// settle runs f, under the broker's lock, on the message locked by token,
// or returns ErrLockLost.
func (q *Queue) settle(token LockToken, f func(e *entry)) error {
	q.b.mu.Lock()
	defer q.b.mu.Unlock()
	e, err := q.locked(token)
	if err != nil {
		return err
	}
	f(e)
	return nil
}

// Abandon unlocks the message, sets props, increments its delivery count and
// dead-letters it (MaxDeliveryCountExceeded) when the count reaches MaxDeliveryCount.
//
// A deferred message that was received by sequence number goes back to the
// deferred state. In a dead-letter subqueue the count is never enforced.
func (q *Queue) Abandon(token LockToken, props []Property) error {
	return q.settle(token, func(e *entry) {
		e.props = setProps(e.props, props)
		q.failDelivery(e, q.b.clock.Now())
	})
}

// Release unlocks the message without changing its delivery count.
func (q *Queue) Release(token LockToken) error {
	return q.settle(token, q.unlock)
}

// Defer unlocks the message into the deferred state, setting props.
func (q *Queue) Defer(token LockToken, props []Property) error {
	return q.settle(token, func(e *entry) {
		e.props = setProps(e.props, props)
		e.state = StateDeferred
		q.unlock(e)
	})
}

// DeadLetter moves the locked message to the dead-letter queue with
// DeadLetterReason, DeadLetterErrorDescription and props. On a dead-letter
// queue it keeps the message where it is (unlocked).
//
// An empty reason or description is not set. With ForwardDeadLetteredMessagesTo
// the message goes to that queue instead, as a new message.
func (q *Queue) DeadLetter(token LockToken, reason, description string, props []Property) error {
	q.b.mu.Lock()
	defer q.b.mu.Unlock()
	e, err := q.locked(token)
	if err != nil {
		return err
	}
	now := q.b.clock.Now()
	if q.isDLQ {
		e.props = setProps(e.props, deadLetterProps(reason, description, props))
		q.unlock(e)
		return nil
	}
	q.remove(e)
	q.deadLetter(e, reason, description, props, now)
	return nil
}

// RenewLock extends the lock to now+LockDuration and returns the new expiry.
func (q *Queue) RenewLock(token LockToken) (time.Time, error) {
	q.b.mu.Lock()
	defer q.b.mu.Unlock()
	e, err := q.locked(token)
	if err != nil {
		return time.Time{}, err
	}
	e.lockedUntil = q.b.clock.Now().Add(q.cfg.LockDuration)
	q.setDue(e)
	return e.lockedUntil, nil
}

// ExpireLock ends a lock now, as if it had timed out (a fault hook).
func (q *Queue) ExpireLock(token LockToken) error {
	q.b.mu.Lock()
	defer q.b.mu.Unlock()
	e, err := q.locked(token)
	if err != nil {
		return err
	}
	q.failDelivery(e, q.b.clock.Now())
	return nil
}

// Peek returns up to max messages (active, deferred, scheduled; locked ones
// included) with sequence number >= from, in order, without locking.
//
// Peeked records never carry a lock token or lock expiry.
func (q *Queue) Peek(from int64, max int) []Record {
	if max <= 0 {
		return nil
	}
	q.b.mu.Lock()
	defer q.b.mu.Unlock()
	q.b.sweepLocked(q.b.clock.Now())
	i := sort.Search(len(q.order), func(i int) bool { return q.order[i] >= from })
	var out []Record
	for ; i < len(q.order) && len(out) < max; i++ {
		if e, ok := q.entries[q.order[i]]; ok {
			out = append(out, e.record(false))
		}
	}
	return out
}

// ReceiveDeferred locks (PeekLock) or removes (ReceiveAndDelete) deferred
// messages by sequence number; ErrMessageNotFound if any is not deferred.
//
// A deferred message that is currently locked counts as not deferred. The
// call is all or nothing, and the records come in the order asked.
func (q *Queue) ReceiveDeferred(seqs []int64, mode ReceiveMode) ([]Record, error) {
	q.b.mu.Lock()
	defer q.b.mu.Unlock()
	now := q.b.clock.Now()
	q.b.sweepLocked(now)
	picked := make([]*entry, 0, len(seqs))
	for _, s := range seqs {
		e, ok := q.entries[s]
		if !ok || e.state != StateDeferred || e.locked || slices.Contains(picked, e) {
			return nil, fmt.Errorf("%w: sequence number %d in %q is not deferred", ErrMessageNotFound, s, q.name)
		}
		picked = append(picked, e)
	}
	out := make([]Record, len(picked))
	for i, e := range picked {
		if mode == ReceiveAndDelete {
			q.remove(e)
			out[i] = e.record(false)
			continue
		}
		q.nDeferred--
		q.lock(e, now)
		out[i] = e.record(true)
	}
	return out, nil
}

// Stats counts the messages in each state.
type Stats struct {
	Active, Locked, Deferred, Scheduled int
}

// Stats returns current counts. Active counts only available messages;
// Locked counts locked messages whatever their state.
func (q *Queue) Stats() Stats {
	q.b.mu.Lock()
	defer q.b.mu.Unlock()
	q.b.sweepLocked(q.b.clock.Now())
	return Stats{Active: len(q.avail), Locked: len(q.locks), Deferred: q.nDeferred, Scheduled: q.nScheduled}
}

// ---- internals; all run with b.mu held ----

// locked finds the entry holding token after applying whatever is due, so an
// expired lock is lost even if nobody swept.
func (q *Queue) locked(token LockToken) (*entry, error) {
	q.b.sweepLocked(q.b.clock.Now())
	e, ok := q.locks[token]
	if !ok {
		return nil, fmt.Errorf("%w: in %q", ErrLockLost, q.name)
	}
	return e, nil
}

// enqueue puts m into q, or at the end of q's ForwardTo chain, with the
// broker-set props. It returns the sequence number, or 0 for a duplicate.
func (q *Queue) enqueue(m Message, props []Property, now time.Time) int64 {
	t := q
	for {
		if t.isDuplicate(m.MessageID, now) {
			return 0
		}
		if t.fwd == nil {
			break
		}
		t = t.fwd
	}
	if t.isTopic && !m.ScheduledEnqueueTime.After(now) {
		seq := t.nextSeq
		t.nextSeq++
		t.fanOut(m, props, now)
		return seq
	}
	e := &entry{msg: m, props: slices.Clone(props), enqueued: now, scheduled: m.ScheduledEnqueueTime}
	if m.ScheduledEnqueueTime.After(now) {
		e.state = StateScheduled
		e.enqueued = m.ScheduledEnqueueTime
	}
	if ttl := t.effectiveTTL(m.TimeToLive); ttl > 0 {
		e.expiresAt = e.enqueued.Add(ttl)
	}
	t.insert(e)
	return e.seq
}

// fanOut copies m, sent to topic t now, into each subscription its router
// accepts. The topic's DefaultMessageTimeToLive caps the copies' time to
// live; each subscription's then applies as well. A router error
// dead-letters m in that subscription's own dead-letter queue (never
// forwarded: the same message would fail the same way wherever
// ForwardDeadLetteredMessagesTo led back).
func (t *Queue) fanOut(m Message, props []Property, now time.Time) {
	if ttl := t.effectiveTTL(m.TimeToLive); ttl > 0 {
		m.TimeToLive = ttl
	}
	for _, s := range t.subs {
		copies := []Message{m}
		if s.router != nil {
			var err error
			if copies, err = s.router.Route(m); err != nil {
				e := &entry{msg: m, enqueued: now, scheduled: m.ScheduledEnqueueTime,
					props: setProps(slices.Clone(props), deadLetterProps(ReasonFilterEvaluation, err.Error(), nil))}
				s.storeDead(e)
				continue
			}
		}
		for _, c := range copies {
			s.enqueue(c, props, now)
		}
	}
}

// effectiveTTL is the smaller of the message's and the queue's positive TTLs, or 0.
func (q *Queue) effectiveTTL(msgTTL time.Duration) time.Duration {
	ttl := q.cfg.DefaultMessageTimeToLive
	if msgTTL > 0 && (ttl <= 0 || msgTTL < ttl) {
		ttl = msgTTL
	}
	return ttl
}

// isDuplicate reports whether id was seen within the window, and records it if not.
func (q *Queue) isDuplicate(id string, now time.Time) bool {
	if q.seen == nil || id == "" {
		return false
	}
	if at, ok := q.seen[id]; ok && now.Before(at.Add(q.cfg.DuplicateDetectionWindow)) {
		return true
	}
	q.seen[id] = now
	q.seenLog = append(q.seenLog, seenID{id: id, at: now})
	return false
}

// pruneSeen forgets ids whose window has passed. Pruned records are
// dropped from the front of the log lazily, so pruning costs O(pruned).
func (q *Queue) pruneSeen(now time.Time) {
	for q.seenHead < len(q.seenLog) && !now.Before(q.seenLog[q.seenHead].at.Add(q.cfg.DuplicateDetectionWindow)) {
		s := q.seenLog[q.seenHead]
		if at, ok := q.seen[s.id]; ok && at.Equal(s.at) {
			delete(q.seen, s.id)
		}
		q.seenLog[q.seenHead] = seenID{}
		q.seenHead++
	}
	if q.seenHead > 64 && q.seenHead*2 > len(q.seenLog) {
		q.seenLog = slices.Clone(q.seenLog[q.seenHead:])
		q.seenHead = 0
	}
}

// insert stores a new entry (state active or scheduled, unlocked) under the
// next sequence number.
func (q *Queue) insert(e *entry) {
	e.seq = q.nextSeq
	q.nextSeq++
	e.availIdx, e.dueIdx = -1, -1
	q.entries[e.seq] = e
	q.order = append(q.order, e.seq)
	if e.state == StateScheduled {
		q.nScheduled++
	} else {
		heap.Push(&q.avail, e)
		q.notify()
	}
	q.setDue(e)
}

// remove deletes e from every structure of q.
func (q *Queue) remove(e *entry) {
	delete(q.entries, e.seq)
	if e.availIdx >= 0 {
		heap.Remove(&q.avail, e.availIdx)
	}
	if e.dueIdx >= 0 {
		heap.Remove(&q.due, e.dueIdx)
	}
	switch {
	case e.locked:
		delete(q.locks, e.token)
		e.locked = false
	case e.state == StateDeferred:
		q.nDeferred--
	case e.state == StateScheduled:
		q.nScheduled--
	}
	if len(q.order) > 2*len(q.entries)+64 {
		q.order = slices.DeleteFunc(q.order, func(s int64) bool { _, ok := q.entries[s]; return !ok })
	}
}

// lock locks e, which the caller has just taken out of the available heap
// or the deferred set.
func (q *Queue) lock(e *entry, now time.Time) {
	e.locked = true
	e.token = q.b.newToken()
	for q.locks[e.token] != nil { // astronomically unlikely
		e.token = q.b.newToken()
	}
	e.lockedUntil = now.Add(q.cfg.LockDuration)
	q.locks[e.token] = e
	q.setDue(e)
}

// unlock ends e's lock and puts it back by its state: available again (and
// announced) when active, into the deferred set when deferred. A message
// whose time to live ran out while it was locked is now due in the due heap,
// so the sweep that every operation starts with expires it.
func (q *Queue) unlock(e *entry) {
	delete(q.locks, e.token)
	e.locked = false
	e.token = LockToken{}
	e.lockedUntil = time.Time{}
	if e.state == StateDeferred {
		q.nDeferred++
	} else {
		heap.Push(&q.avail, e)
		q.notify()
	}
	q.setDue(e)
}

// failDelivery is abandon without properties, and what a lock expiry does:
// count one more delivery attempt, then dead-letter the message when it has
// reached MaxDeliveryCount, or unlock it.
func (q *Queue) failDelivery(e *entry, now time.Time) {
	e.count++
	if !q.isDLQ && int64(e.count) >= int64(q.cfg.MaxDeliveryCount) {
		q.remove(e)
		q.deadLetter(e, ReasonMaxDeliveryCountExceeded, fmt.Sprintf(descMaxDeliveryFormat, e.count), nil, now)
		return
	}
	q.unlock(e)
}

// expire handles an unlocked message whose time to live has run out.
func (q *Queue) expire(e *entry, now time.Time) {
	q.remove(e)
	if q.cfg.DeadLetteringOnExpiration {
		q.deadLetter(e, ReasonTTLExpired, descTTLExpired, nil, now)
	}
}

// deadLetter sends e, already removed from q, to q's dead-letter subqueue or
// to its ForwardDeadLetteredMessagesTo target.
func (q *Queue) deadLetter(e *entry, reason, description string, props []Property, now time.Time) {
	e.props = setProps(e.props, deadLetterProps(reason, description, props))
	if q.dlFwd != nil {
		q.dlFwd.enqueue(e.msg, e.props, now)
		return
	}
	q.storeDead(e)
}

// storeDead puts a copy of e, with its properties, into q's dead-letter queue.
func (q *Queue) storeDead(e *entry) {
	d := &entry{
		msg:       e.msg,
		enqueued:  e.enqueued,
		scheduled: e.scheduled,
		count:     e.count,
		dlSource:  q.name,
		props:     e.props,
	}
	q.dlq.insert(d)
}

// sweep applies everything in q that is due at now. Each step either
// removes the entry or moves its deadline, so the loop ends.
func (q *Queue) sweep(now time.Time) {
	for len(q.due) > 0 && !q.due[0].due.After(now) {
		e := q.due[0]
		switch {
		case e.locked:
			q.failDelivery(e, now)
		case e.state == StateScheduled && q.isTopic:
			q.remove(e)
			m := e.msg
			if !e.expiresAt.IsZero() {
				m.TimeToLive = e.expiresAt.Sub(now) // what is left of it
				if m.TimeToLive <= 0 {
					continue // expired before it was due
				}
			}
			q.fanOut(m, e.props, now)
		case e.state == StateScheduled:
			q.nScheduled--
			e.state = StateActive
			heap.Push(&q.avail, e)
			q.notify()
			q.setDue(e)
		default:
			q.expire(e, now)
		}
	}
}

// deadline is the next time something happens to e by itself, or zero.
func (q *Queue) deadline(e *entry) time.Time {
	switch {
	case e.locked:
		return e.lockedUntil
	case e.state == StateScheduled:
		return e.enqueued
	case q.isDLQ:
		return time.Time{}
	default:
		return e.expiresAt
	}
}

// setDue puts e in the due heap at its current deadline, or takes it out.
func (q *Queue) setDue(e *entry) {
	d := q.deadline(e)
	switch {
	case d.IsZero():
		if e.dueIdx >= 0 {
			heap.Remove(&q.due, e.dueIdx)
		}
	case e.dueIdx >= 0:
		e.due = d
		heap.Fix(&q.due, e.dueIdx)
	default:
		e.due = d
		heap.Push(&q.due, e)
	}
}

// record snapshots e; withLock adds the lock token and expiry.
func (e *entry) record(withLock bool) Record {
	r := Record{
		SequenceNumber:       e.seq,
		EnqueuedTime:         e.enqueued,
		ExpiresAt:            e.expiresAt,
		ScheduledEnqueueTime: e.scheduled,
		State:                e.state,
		DeliveryCount:        e.count,
		DeadLetterSource:     e.dlSource,
		Properties:           slices.Clone(e.props),
		MessageID:            e.msg.MessageID,
		Payload:              e.msg.Payload,
	}
	if withLock && e.locked {
		r.LockToken = e.token
		r.LockedUntil = e.lockedUntil
	}
	return r
}

// deadLetterProps lists the reason and description (when set) followed by props.
func deadLetterProps(reason, description string, props []Property) []Property {
	out := make([]Property, 0, 2+len(props))
	if reason != "" {
		out = append(out, Property{Key: PropDeadLetterReason, Value: reason})
	}
	if description != "" {
		out = append(out, Property{Key: PropDeadLetterErrorDescription, Value: description})
	}
	return append(out, props...)
}

// setProps returns props with each of set applied: replaced by key, or appended.
// It never modifies a slice that a Record may share.
func setProps(props, set []Property) []Property {
	if len(set) == 0 {
		return props
	}
	out := slices.Clone(props)
	for _, p := range set {
		i := slices.IndexFunc(out, func(o Property) bool { return o.Key == p.Key })
		if i >= 0 {
			out[i] = p
		} else {
			out = append(out, p)
		}
	}
	return out
}
