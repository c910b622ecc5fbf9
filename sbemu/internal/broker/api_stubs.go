package broker

// Method contract. The broker helper replaces these stubs with the real
// implementation in its own files and deletes this file.

import "time"

var errTODO = ErrEntityNotFound

// Broker holds every queue of one namespace. All methods are safe for concurrent use.
type Broker struct{}

// New validates the configs (unique names, forward targets that exist,
// positive lock duration and max delivery count) and returns a broker.
func New(clock Clock, queues []QueueConfig) (*Broker, error) { panic(errTODO) }

// Entity resolves "name" or "name/$DeadLetterQueue" (the suffix matched
// case-insensitively). Unknown paths return ErrEntityNotFound.
func (b *Broker) Entity(path string) (*Queue, error) { panic(errTODO) }

// Queues returns the top-level queues in config order.
func (b *Broker) Queues() []*Queue { panic(errTODO) }

// Sweep applies everything due at the clock's current time (lock expiries,
// scheduled messages becoming active, TTL expiry, duplicate-history pruning)
// in every queue, and returns the next time something will be due (zero if nothing).
func (b *Broker) Sweep() time.Time { panic(errTODO) }

// Queue is a queue or a dead-letter subqueue.
type Queue struct{}

// Name is the entity path: "name" or "name/$DeadLetterQueue".
func (q *Queue) Name() string { panic(errTODO) }

// Config returns the queue's configuration with defaults applied.
func (q *Queue) Config() QueueConfig { panic(errTODO) }

// DeadLetterQueue returns the subqueue, or nil when q is itself one.
func (q *Queue) DeadLetterQueue() *Queue { panic(errTODO) }

// Send enqueues messages in order and returns their sequence numbers. With
// duplicate detection on, a message whose MessageID was seen within the
// window is accepted and dropped (its sequence number is 0). Messages with a
// future ScheduledEnqueueTime become scheduled. ForwardTo is honoured.
func (q *Queue) Send(msgs []Message) ([]int64, error) { panic(errTODO) }

// Schedule enqueues messages as scheduled at their ScheduledEnqueueTime.
func (q *Queue) Schedule(msgs []Message) ([]int64, error) { panic(errTODO) }

// CancelScheduled removes scheduled messages; unknown numbers are ignored.
func (q *Queue) CancelScheduled(seqs []int64) error { panic(errTODO) }

// Changed returns a channel closed the next time a message may have become
// available for Receive. Call it again after each wake-up.
func (q *Queue) Changed() <-chan struct{} { panic(errTODO) }

// Receive takes the lowest-numbered available active message: in PeekLock it
// is locked for LockDuration with a fresh token; in ReceiveAndDelete it is
// removed. ok is false when nothing is available.
func (q *Queue) Receive(mode ReceiveMode) (rec Record, ok bool) { panic(errTODO) }

// Complete deletes the locked message.
func (q *Queue) Complete(token LockToken) error { panic(errTODO) }

// Abandon unlocks the message, sets props, increments its delivery count and
// dead-letters it (MaxDeliveryCountExceeded) when the count reaches MaxDeliveryCount.
func (q *Queue) Abandon(token LockToken, props []Property) error { panic(errTODO) }

// Release unlocks the message without changing its delivery count.
func (q *Queue) Release(token LockToken) error { panic(errTODO) }

// Defer unlocks the message into the deferred state, setting props.
func (q *Queue) Defer(token LockToken, props []Property) error { panic(errTODO) }

// DeadLetter moves the locked message to the dead-letter queue with
// DeadLetterReason, DeadLetterErrorDescription and props. On a dead-letter
// queue it keeps the message where it is (unlocked).
func (q *Queue) DeadLetter(token LockToken, reason, description string, props []Property) error {
	panic(errTODO)
}

// RenewLock extends the lock to now+LockDuration and returns the new expiry.
func (q *Queue) RenewLock(token LockToken) (time.Time, error) { panic(errTODO) }

// ExpireLock ends a lock now, as if it had timed out (a fault hook).
func (q *Queue) ExpireLock(token LockToken) error { panic(errTODO) }

// Peek returns up to max messages (active, deferred, scheduled; locked ones
// included) with sequence number >= from, in order, without locking.
func (q *Queue) Peek(from int64, max int) []Record { panic(errTODO) }

// ReceiveDeferred locks (PeekLock) or removes (ReceiveAndDelete) deferred
// messages by sequence number; ErrMessageNotFound if any is not deferred.
func (q *Queue) ReceiveDeferred(seqs []int64, mode ReceiveMode) ([]Record, error) { panic(errTODO) }

// Stats counts the messages in each state.
type Stats struct {
	Active, Locked, Deferred, Scheduled int
}

// Stats returns current counts.
func (q *Queue) Stats() Stats { panic(errTODO) }
