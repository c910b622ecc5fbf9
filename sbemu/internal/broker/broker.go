package broker

import (
	crand "crypto/rand"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults and limits applied by New.
const (
	// DefaultLockDuration is used when QueueConfig.LockDuration is zero.
	DefaultLockDuration = time.Minute
	// MaxLockDuration is the longest lock Service Bus allows.
	MaxLockDuration = 5 * time.Minute
	// DefaultMaxDeliveryCount is used when QueueConfig.MaxDeliveryCount is zero.
	DefaultMaxDeliveryCount = 10
	// DefaultDuplicateDetectionWindow is used when duplicate detection is on
	// and QueueConfig.DuplicateDetectionWindow is zero.
	DefaultDuplicateDetectionWindow = 10 * time.Minute
)

// Broker holds every queue of one namespace. All methods are safe for concurrent use.
type Broker struct {
	clock Clock

	mu     sync.Mutex
	queues []*Queue          // queues, topics and subscriptions in config order
	all    []*Queue          // every queue and dead-letter subqueue
	byName map[string]*Queue // lower-cased entity path -> queue, topic or subscription
	rng    *rand.ChaCha8     // lock tokens; guarded by mu
}

// New validates the configs (unique names, forward targets that exist,
// positive lock duration and max delivery count) and returns a broker.
//
// Defaults: LockDuration 1 minute, MaxDeliveryCount 10, and a duplicate
// detection window of 10 minutes when detection is on. Names are compared
// case-insensitively, as Service Bus does. A chain of ForwardTo settings that
// loops back on itself is rejected.
func New(clock Clock, queues []QueueConfig) (*Broker, error) {
	return NewWithTopics(clock, queues, nil)
}

// NewWithTopics is New with topics as well. Queues and topics share one
// name space; a subscription is the entity "<topic>/Subscriptions/<name>".
// ForwardTo and ForwardDeadLetteredMessagesTo may name a queue or a topic,
// never a subscription; a loop through forwards and topics is rejected.
func NewWithTopics(clock Clock, queues []QueueConfig, topics []TopicConfig) (*Broker, error) {
	if clock == nil {
		clock = SystemClock{}
	}
	var seed [32]byte
	_, _ = crand.Read(seed[:]) // never fails since Go 1.24
	b := &Broker{
		clock:  clock,
		byName: make(map[string]*Queue, len(queues)),
		rng:    rand.NewChaCha8(seed),
	}
	for _, cfg := range queues {
		if _, err := b.addQueue(cfg, cfg.Name, "queue"); err != nil {
			return nil, err
		}
	}
	for _, tc := range topics {
		if err := b.addTopic(tc); err != nil {
			return nil, err
		}
	}
	for _, q := range b.queues {
		if err := b.linkForwards(q); err != nil {
			return nil, err
		}
	}
	if err := b.checkLoops(); err != nil {
		return nil, err
	}
	return b, nil
}

// addQueue creates a queue (or a subscription, at path) and its dead-letter subqueue.
func (b *Broker) addQueue(cfg QueueConfig, path, kind string) (*Queue, error) {
	cfg, err := withDefaults(cfg)
	if err != nil {
		return nil, err
	}
	key := strings.ToLower(path)
	if _, dup := b.byName[key]; dup {
		return nil, fmt.Errorf("%s %q: Name is used by another queue or topic", kind, path)
	}
	q := newQueue(b, cfg, path, false)
	q.dlq = newQueue(b, QueueConfig{
		Name:             path + DeadLetterQueueSuffix,
		LockDuration:     cfg.LockDuration,
		MaxDeliveryCount: cfg.MaxDeliveryCount,
	}, path+DeadLetterQueueSuffix, true)
	q.dlq.parent = q
	b.byName[key] = q
	b.queues = append(b.queues, q)
	b.all = append(b.all, q, q.dlq)
	return q, nil
}

// addTopic creates a topic and its subscriptions. The topic is swept before
// its subscriptions, so that a scheduled message fanned out by a sweep is
// in them before they are swept.
func (b *Broker) addTopic(tc TopicConfig) error {
	cfg, err := withDefaults(QueueConfig{
		Name:                       tc.Name,
		DefaultMessageTimeToLive:   tc.DefaultMessageTimeToLive,
		RequiresDuplicateDetection: tc.RequiresDuplicateDetection,
		DuplicateDetectionWindow:   tc.DuplicateDetectionWindow,
	})
	if err != nil {
		return fmt.Errorf("topic %w", err)
	}
	key := strings.ToLower(tc.Name)
	if _, dup := b.byName[key]; dup {
		return fmt.Errorf("topic %q: Name is used by another queue or topic", tc.Name)
	}
	if strings.Contains(tc.Name, "/") {
		return fmt.Errorf("topic %q: Name must not contain /", tc.Name)
	}
	t := newQueue(b, cfg, tc.Name, false)
	t.isTopic = true
	b.byName[key] = t
	b.queues = append(b.queues, t)
	b.all = append(b.all, t)
	for _, sc := range tc.Subscriptions {
		if sc.RequiresDuplicateDetection {
			return fmt.Errorf("subscription %q of topic %q: duplicate detection is the topic's", sc.Name, tc.Name)
		}
		if sc.Name == "" || strings.Contains(sc.Name, "/") {
			return fmt.Errorf("subscription %q of topic %q: Name must be non-empty and have no /", sc.Name, tc.Name)
		}
		s, err := b.addQueue(sc.QueueConfig, tc.Name+SubscriptionsSegment+sc.Name, "subscription")
		if err != nil {
			return err
		}
		s.topic = t
		s.router = sc.Router
		t.subs = append(t.subs, s)
	}
	return nil
}

// checkLoops rejects a cycle in the graph whose edges are ForwardTo and
// topic-to-subscription: a message sent into one would never come to rest.
func (b *Broker) checkLoops() error {
	done := map[*Queue]bool{} // no cycle reachable from these
	for _, root := range b.queues {
		onPath := map[*Queue]bool{}
		var visit func(q *Queue) *Queue
		visit = func(q *Queue) *Queue {
			if onPath[q] {
				return q
			}
			if done[q] {
				return nil
			}
			onPath[q] = true
			next := q.subs
			if q.fwd != nil {
				next = append(slices.Clone(next), q.fwd)
			}
			for _, n := range next {
				if back := visit(n); back != nil {
					return back
				}
			}
			onPath[q] = false
			done[q] = true
			return nil
		}
		if back := visit(root); back != nil {
			return fmt.Errorf("queue %q: ForwardTo chain loops back through %q", root.name, back.name)
		}
	}
	return nil
}

// withDefaults fills in defaults and checks the ranges of one config.
func withDefaults(cfg QueueConfig) (QueueConfig, error) {
	if cfg.Name == "" {
		return cfg, fmt.Errorf("queue %q: Name must not be empty", cfg.Name)
	}
	if hasDLQSuffix(cfg.Name) {
		return cfg, fmt.Errorf("queue %q: Name must not end in %s", cfg.Name, DeadLetterQueueSuffix)
	}
	if cfg.LockDuration == 0 {
		cfg.LockDuration = DefaultLockDuration
	}
	if cfg.LockDuration < 0 || cfg.LockDuration > MaxLockDuration {
		return cfg, fmt.Errorf("queue %q: LockDuration must be more than 0 and at most %s, not %s",
			cfg.Name, MaxLockDuration, cfg.LockDuration)
	}
	if cfg.MaxDeliveryCount == 0 {
		cfg.MaxDeliveryCount = DefaultMaxDeliveryCount
	}
	if cfg.MaxDeliveryCount < 1 {
		return cfg, fmt.Errorf("queue %q: MaxDeliveryCount must be at least 1, not %d", cfg.Name, cfg.MaxDeliveryCount)
	}
	if cfg.DefaultMessageTimeToLive < 0 {
		return cfg, fmt.Errorf("queue %q: DefaultMessageTimeToLive must not be negative", cfg.Name)
	}
	if cfg.DuplicateDetectionWindow < 0 {
		return cfg, fmt.Errorf("queue %q: DuplicateDetectionWindow must not be negative", cfg.Name)
	}
	if cfg.RequiresDuplicateDetection && cfg.DuplicateDetectionWindow == 0 {
		cfg.DuplicateDetectionWindow = DefaultDuplicateDetectionWindow
	}
	return cfg, nil
}

// linkForwards resolves q's forward targets.
func (b *Broker) linkForwards(q *Queue) error {
	resolve := func(field, target string) (*Queue, error) {
		if target == "" {
			return nil, nil
		}
		t, ok := b.byName[strings.ToLower(target)]
		if !ok {
			return nil, fmt.Errorf("queue %q: %s %q names no configured queue", q.name, field, target)
		}
		if t == q {
			return nil, fmt.Errorf("queue %q: %s must not name the queue itself", q.name, field)
		}
		if t.topic != nil {
			return nil, fmt.Errorf("queue %q: %s must not name a subscription (%q)", q.name, field, target)
		}
		return t, nil
	}
	var err error
	if q.fwd, err = resolve("ForwardTo", q.cfg.ForwardTo); err != nil {
		return err
	}
	q.dlFwd, err = resolve("ForwardDeadLetteredMessagesTo", q.cfg.ForwardDeadLetteredMessagesTo)
	return err
}

func hasDLQSuffix(path string) bool {
	n := len(path) - len(DeadLetterQueueSuffix)
	return n >= 0 && strings.EqualFold(path[n:], DeadLetterQueueSuffix)
}

// Entity resolves "name" or "name/$DeadLetterQueue" (the suffix matched
// case-insensitively), where name is a queue, a topic or
// "<topic>/Subscriptions/<sub>". Unknown paths (a topic has no dead-letter
// queue) return ErrEntityNotFound.
func (b *Broker) Entity(path string) (*Queue, error) {
	dlq := hasDLQSuffix(path)
	name := path
	if dlq {
		name = path[:len(path)-len(DeadLetterQueueSuffix)]
	}
	q, ok := b.byName[strings.ToLower(name)] // byName is never written after New
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrEntityNotFound, path)
	}
	if dlq {
		if q.dlq == nil {
			return nil, fmt.Errorf("%w: %q", ErrEntityNotFound, path)
		}
		return q.dlq, nil
	}
	return q, nil
}

// Queues returns the queues, topics and subscriptions in config order
// (each topic followed by its subscriptions).
func (b *Broker) Queues() []*Queue {
	out := make([]*Queue, len(b.queues))
	copy(out, b.queues)
	return out
}

// Sweep applies everything due at the clock's current time (lock expiries,
// scheduled messages becoming active, TTL expiry, duplicate-history pruning)
// in every queue, and returns the next time something will be due (zero if nothing).
//
// Duplicate-history pruning only frees memory, so it never sets the returned time.
func (b *Broker) Sweep() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	b.sweepLocked(now)
	var next time.Time
	for _, q := range b.all {
		q.pruneSeen(now)
		if len(q.due) > 0 && (next.IsZero() || q.due[0].due.Before(next)) {
			next = q.due[0].due
		}
	}
	return next
}

// sweepLocked applies everything due at now in every queue. Whatever one
// queue's sweep moves into another queue is never already due, so one pass
// in any order suffices.
func (b *Broker) sweepLocked(now time.Time) {
	for _, q := range b.all {
		q.sweep(now)
	}
}

// newToken returns a fresh random lock token shaped as a version 4 UUID.
func (b *Broker) newToken() LockToken {
	var t LockToken
	_, _ = b.rng.Read(t[:]) // ChaCha8.Read never fails
	t[6] = t[6]&0x0f | 0x40
	t[8] = t[8]&0x3f | 0x80
	return t
}
