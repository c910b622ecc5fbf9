// Package broker is the Service Bus emulator's queue state machine: queues,
// their dead-letter subqueues, sequence numbers, peek-lock, settlement,
// deferral, scheduling, time to live, duplicate detection and
// auto-forwarding, with the semantics of Azure Service Bus. A topic is a
// fan-out router in front of its subscriptions, each of which is a queue of
// its own; which messages a subscription takes is decided by a [Router]
// the caller supplies, so the broker never looks inside a message.
//
// The broker does no I/O and starts no goroutines. Time comes from an
// injected [Clock]; everything that falls due (lock expiry, scheduled
// messages, expiry by time to live) is applied by whichever operation runs
// next, so results never depend on when [Broker.Sweep] is called. The
// server calls Sweep only to learn when to wake up, and waits on
// [Queue.Changed] to learn when a message may have become available.
//
// One mutex guards the whole broker, because dead-lettering and forwarding
// move messages between queues. Every operation is O(log n) in the number of
// messages in the queue it touches: available messages sit in a min-heap by
// sequence number, everything that will fall due sits in a second heap keyed
// by its next deadline, and lock tokens and sequence numbers are map keys.
package broker
