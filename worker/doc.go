// Package worker is the licensefix engine. It receives "user license fixed"
// messages from a Service Bus queue in peek-lock mode, calls Microsoft
// Graph's reprocess action for each user, and settles every message:
//
//   - a successful call completes the message;
//   - an invalid message, an unknown user (404) or another permanent
//     rejection is dead-lettered at once with one of the closed set of
//     [Reason] values and the facts in [Property] keys;
//   - a transient failure (408, 429, 5xx, 409 concurrency, network, timeout)
//     is retried with full-jitter exponential backoff, never sooner than a
//     Retry-After, until the message's retry budget is spent while Graph is
//     otherwise healthy ([ReasonRetriesExhausted]);
//   - a systemic failure (401 after a token refresh, 403) dead-letters
//     nothing: intake pauses, held messages keep their locks, and one probe
//     call runs every ProbeInterval until Graph answers again;
//   - transient failures on BreakerThreshold distinct messages in a row open
//     an outage breaker that pauses intake and retry budgets the same way.
//
// A 429's Retry-After holds back every Graph call in the process until it
// has passed. Every held message's lock is renewed at half of its remaining
// time; a message whose lock is lost is never settled.
//
// [Worker.Run] stops on context cancellation: intake stops at once, calls in
// flight may finish within ShutdownTimeout, and everything still held is
// abandoned so another replica can take it. [Worker.Handler] serves /livez,
// /readyz and /metrics.
//
// Metrics (private registry, Prometheus text format):
//
//	licensefix_messages_total{outcome,reason}     completed, dead_lettered (with reason), abandoned, lock_lost, settle_failed
//	licensefix_graph_calls_total{status}          Graph calls by HTTP status ("error" without a response)
//	licensefix_graph_call_duration_seconds        histogram of Graph call latency
//	licensefix_retries_total                      calls made after a transient failure
//	licensefix_messages_in_flight                 messages held now
//	licensefix_lock_renewals_total                successful lock renewals
//	licensefix_lock_losses_total                  messages whose lock was lost (never settled)
//	licensefix_receive_errors_total               Service Bus receive errors
//	licensefix_breaker_open                       1 while the outage breaker is open
//	licensefix_systemic_pause                     1 while paused for a systemic failure
//	licensefix_paused_seconds_total               time spent paused
package worker
