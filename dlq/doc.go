// Package dlq lists, replays and purges the dead-letter queue (DLQ) of the
// licensefix queue. It is the library behind `licensefix dlq list`,
// `licensefix dlq replay` and `licensefix dlq purge` and does no
// command-line parsing; it does not depend on the worker, whose dead-letter
// property keys and reasons it declares itself (Prop*, Reason*, Reasons).
//
// # Listing
//
// [List] peeks the DLQ page by page (Receiver.PeekMessages from sequence
// number 1 upwards), so it never locks, removes or changes a message, and
// returns the [Entry] values that match a [Filter] (reasons, user ids, an
// enqueued-time window; see [ParseTime] for "24h ago" style bounds). An
// entry's user id is the licensefix-user-id property, else the user id in
// the body as [messages.Decode] reads it. [Summarize] groups entries by
// reason and, for GraphRejected and RetriesExhausted, by Graph error code;
// [WriteTable] and [WriteSummary] render them for a terminal.
//
// # Purging
//
// [Purge] removes (completes) the messages that match a [Filter] and
// nothing else, for dead letters that no replay will ever fix (an
// InvalidMessage body, a user deleted on purpose). It selects by peeking,
// then works like Replay's steps 2 and 3 below: deferred matches are
// fetched by sequence number, active ones received one at a time, with any
// non-matching message in between deferred, never removed. A dry run
// stops after the selection; a Confirm hook sees the selection before
// anything is locked. Cancelling the context (Ctrl-C) stops the purge
// after the message in hand is settled (within DefaultSettleTimeout): a
// selected one is completed, a non-matching one deferred, so that only a
// settlement that fails leaves a lock behind. Every Purge ends with one
// info log line "purge_audit".
//
// # Replaying
//
// [Replay] moves matching messages back to the queue. Service Bus offers no
// "receive this sequence number" for active messages: receive-by-sequence-
// number (ReceiveDeferredMessages) works only for messages in the deferred
// state, a peek-lock receive always takes the lowest-numbered available
// message, and abandoning a message or letting its lock expire increments
// its delivery count, while deferring keeps both its sequence number and its
// delivery count. Replay therefore works in three steps:
//
//  1. Select, without locks: peek the whole DLQ (in pages) and the main
//     queue. Matches of the filter are classified: already replayed
//     MaxReplays times (loop protection, unless Force), body no longer valid
//     (reported, never replayed), beyond Max (counted), or planned. Skipped
//     messages are never touched. A dry run stops here and reports the
//     plan.
//  2. Planned messages already in the deferred state are fetched by
//     sequence number with ReceiveDeferredMessages, one at a time, touching
//     nothing else.
//  3. Planned active messages are received in peek-lock one at a time
//     (ReceiveMessages with a maximum of 1), so at most one message is
//     locked at once. A received message that is planned is moved; one that
//     is not (it stood before a match in sequence order) is deferred with
//     DeferMessage, keeping its sequence number and delivery count, and
//     reported in [Report.Deferred]: it stays in the DLQ, is listed as
//     deferred, and any later replay fetches it by sequence number. Receiving
//     stops as soon as every planned message has been handled, so messages
//     after the last match are never locked. If a message beyond every
//     outstanding match arrives, or nothing arrives within ReceiveTimeout,
//     the outstanding matches are locked elsewhere or gone and are reported
//     as failed.
//
// A dry run stops after step 1 and reports the plan, including the
// non-matching messages step 3 would defer (their sequence numbers in
// [Report.Deferred]): the active messages, not selected, that stand before
// the last selected active one.
//
// [List] and Replay treat deferred DLQ messages like any other.
//
// Alternatives found in the SDK are not better: a receive-and-delete
// receiver loses a message if the process dies before the copy is sent;
// receiving several messages at once locks more than needed; abandoning a
// non-matching message (or letting its lock lapse) increments its delivery
// count; and the SDK's releaser, which keeps the count, is only applied to
// messages that arrive after a receive call has returned, so it cannot be
// aimed at one message. Deferral is the only settlement that keeps both the
// sequence number and the delivery count and still leaves the message
// reachable by sequence number.
//
// # Pacing and locks
//
// With a rate ([ReplayOptions.Rate], golang.org/x/time/rate with a burst of
// one) the wait for the next send slot happens before a message is
// received, never between receive and complete, so a replay slower than the
// queue's lock duration is safe. A slot acquired before a receive that
// yields a non-matching message (deferred, not sent) is kept for the next
// receive. While a message is held it is locked for at most one send and
// one completion, and its lock is still renewed at half of its remaining
// time (as the worker does) so that a slow broker or network cannot let it
// expire in between.
//
// # Moving one message
//
// The copy keeps the body, content type, correlation id, subject, reply-to,
// to, session id, partition key and application properties of the original,
// minus DeadLetterReason, DeadLetterErrorDescription and the worker's
// licensefix-* dead-letter properties; it gains licensefix-replay-count (one
// more than the original's) and licensefix-replayed-from (the original's
// dead-letter reason). Its time to live is the queue's default. Its message
// id is [ReplayMessageID] of the original id, the DLQ sequence number and
// the new replay count: different from every earlier id, so the broker's
// duplicate detection never swallows it, yet the same on every run for the
// same DLQ message.
//
// The copy is sent, and the broker has confirmed it, before the original is
// completed. A replay stopped at any instant therefore leaves every message
// in the DLQ, in the queue, or (stopped between the two steps) in both, and
// never in neither.
//
// Cancelling the context (Ctrl-C) is a graceful stop with two cases. A
// message received whose copy has not been sent is abandoned: it is
// unlocked at once and stays in the DLQ (a deferred one stays deferred), so
// an immediate re-run takes it ([Report.Abandoned]). A message whose copy
// send has started is finished: the send and the completion of the original
// ignore the cancellation, bounded by SettleTimeout. Replay then returns
// ctx.Err() with [Report.Interrupted] set and the partial report. A crash
// between the two steps (simulated in tests by an AfterSend hook returning
// an error) leaves the original locked until its lock expires; it is then
// available again and a re-run recognises its copy.
//
// # Running again after an interruption
//
// Before sending, Replay looks for a message whose id is the derived id in
// the main queue and in the DLQ (where the copy would be if the worker
// dead-lettered it again); step 1 peeks both. When it is found, the original
// is only completed ([Report.Recovered]). If the copy has already been
// consumed and completed by the worker it cannot be seen any more; a queue
// with duplicate detection then still drops the second copy within its
// detection window, because the id is the same. Without duplicate detection
// and after the copy was consumed, a re-run sends the user once more, which
// is harmless for licensefix (reprocessing a user's license assignments is
// idempotent).
//
// # Topic subscriptions
//
// [OpenSubscription] works on the dead-letter queue of a topic
// subscription. Service Bus cannot send to one subscription, so the copies
// go to the topic, each with the application property [PropReplayTo] set to
// the subscription's name ([Endpoints.ReplayTo]); the topic's rules decide
// who receives them. With the filter condition "licensefix_replay_to IS
// NULL OR licensefix_replay_to = '<its name>'" on every subscription (the
// README's "Consuming a topic subscription"), only the subscription replayed
// from receives them. A copy keeps the original's other properties, so the
// subscription's own filter still matches it. Copies already present are
// recognised by peeking the subscription, as for a queue.
//
// # Audit
//
// Every Replay, dry run or not, writes two info log lines "replay_audit",
// sharing a replay_id. The one with phase "start" is written before
// anything is read or locked and names the actor and host, the filters and
// the limits (and replay_to, from a subscription); a replay that is killed
// still leaves it. The one with phase
// "end" repeats those and adds the counts (replayed, recovered, skipped,
// failed, deferred, abandoned, unhandled, lock renewals, interrupted), the
// messages planned, replayed, recovered, abandoned, skipped and failed, by
// message id ("seq:N" for a message without one; moves as "old->new"), and
// the deferred sequence numbers.
package dlq
