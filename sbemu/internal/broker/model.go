package broker

// The broker's data model, which package sbemu is written against: its
// clock, errors, entity configurations, messages and records.

import (
	"errors"
	"time"
)

// Clock tells the broker the time. Tests inject a fake; the server uses SystemClock.
type Clock interface{ Now() time.Time }

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// Errors returned by queue operations. Callers classify with errors.Is.
var (
	// ErrEntityNotFound: no queue or subqueue at that path.
	ErrEntityNotFound = errors.New("broker: entity not found")
	// ErrLockLost: the lock token is unknown, expired or already settled.
	ErrLockLost = errors.New("broker: message lock lost")
	// ErrMessageNotFound: no message with that sequence number in the wanted state.
	ErrMessageNotFound = errors.New("broker: message not found")
)

// Dead-letter reasons the broker itself assigns.
const (
	ReasonMaxDeliveryCountExceeded = "MaxDeliveryCountExceeded"
	ReasonTTLExpired               = "TTLExpiredException"
)

// DeadLetterQueueSuffix is the path segment of a queue's dead-letter subqueue.
const DeadLetterQueueSuffix = "/$DeadLetterQueue"

// QueueConfig describes one queue. Zero durations mean "none" except where
// noted; New applies the defaults documented per field.
type QueueConfig struct {
	Name                          string
	LockDuration                  time.Duration // default 1 minute
	MaxDeliveryCount              int           // default 10
	DefaultMessageTimeToLive      time.Duration // 0 = unlimited
	DeadLetteringOnExpiration     bool
	RequiresDuplicateDetection    bool
	DuplicateDetectionWindow      time.Duration // default 10 minutes when detection is on
	ForwardTo                     string        // name of another queue, or ""
	ForwardDeadLetteredMessagesTo string        // name of another queue, or ""
}

// ReceiveMode says whether receiving locks (PeekLock) or removes (ReceiveAndDelete).
type ReceiveMode int

// Receive modes.
const (
	PeekLock ReceiveMode = iota
	ReceiveAndDelete
)

// MessageState is the x-opt-message-state value of a stored message.
type MessageState int

// Message states.
const (
	StateActive    MessageState = 0
	StateDeferred  MessageState = 1
	StateScheduled MessageState = 2
)

// LockToken identifies one lock on one message, in RFC 4122 byte order.
type LockToken [16]byte

// Property is one application property set on a stored message by the broker
// (properties-to-modify, DeadLetterReason, DeadLetterErrorDescription). Value
// holds an AMQP-encodable Go value.
type Property struct {
	Key   string
	Value any
}

// Message is what a sender hands to the broker. Payload is opaque to the broker.
type Message struct {
	MessageID            string
	TimeToLive           time.Duration // 0 = none (the queue default applies)
	ScheduledEnqueueTime time.Time     // zero = enqueue now
	Size                 int
	Payload              any
}

// Record is a snapshot of a stored message, as delivered or peeked. It never
// aliases broker state except Payload, which must be treated as read-only.
type Record struct {
	SequenceNumber       int64
	EnqueuedTime         time.Time
	ExpiresAt            time.Time // zero = never
	ScheduledEnqueueTime time.Time // zero unless scheduled
	State                MessageState
	DeliveryCount        uint32 // previous delivery attempts; 0 on first delivery
	LockToken            LockToken
	LockedUntil          time.Time // zero unless locked
	DeadLetterSource     string    // set on messages in a dead-letter queue
	Properties           []Property
	MessageID            string
	Payload              any
}

// TopicConfig describes one topic and its subscriptions. A topic stores
// nothing but scheduled messages: everything sent to it is copied at once
// (a scheduled message when it falls due) into each subscription whose
// Router accepts it.
type TopicConfig struct {
	Name                       string
	DefaultMessageTimeToLive   time.Duration // 0 = unlimited; caps every copy's TTL
	RequiresDuplicateDetection bool
	DuplicateDetectionWindow   time.Duration // default 10 minutes when detection is on
	Subscriptions              []SubscriptionConfig
}

// SubscriptionConfig is one subscription: a queue whose Name is the
// subscription's own name (its entity path is "<topic>/Subscriptions/<name>")
// fed by the topic through Router. RequiresDuplicateDetection must be false
// (duplicate detection is the topic's).
type SubscriptionConfig struct {
	QueueConfig
	// Router decides what a message sent to the topic puts into this
	// subscription; nil accepts every message unchanged (the $Default rule).
	Router Router
}

// Router is a subscription's rules. Route returns the messages a message
// sent to the topic puts into the subscription: none when no rule matches,
// usually one, and more when several rules with actions match. An error
// (a filter or action that cannot be evaluated on this message)
// dead-letters the message in the subscription with
// ReasonFilterEvaluation and the error's text as description.
//
// Route runs under the broker's lock: it must be quick, must not call the
// broker, and must not modify m's Payload (it returns new messages instead).
type Router interface {
	Route(m Message) ([]Message, error)
}

// ReasonFilterEvaluation is the DeadLetterReason of a message whose
// subscription rules failed to evaluate. Service Bus dead-letters such
// messages ("Errors while processing subscription rules", Overview of
// Service Bus dead-letter queues; EnableDeadLetteringOnFilterEvaluationExceptions
// defaults to true) but does not document the reason text; this one is
// the emulator's.
const ReasonFilterEvaluation = "FilterEvaluationException"

// SubscriptionsSegment joins a topic's name and a subscription's.
const SubscriptionsSegment = "/Subscriptions/"

// ErrNotSupported: the operation does not apply to this entity (sending to a
// dead-letter subqueue or a subscription, receiving from a topic).
var ErrNotSupported = errors.New("broker: operation not supported on this entity")
