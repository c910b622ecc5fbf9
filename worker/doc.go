// Package worker is the licensefix engine. It receives "user license fixed"
// messages from a Service Bus queue in peek-lock mode, calls Microsoft
// Graph's reprocess action for each user, and settles every message:
//
//   - a successful call completes the message, and every other message of
//     the same user that it covers (outcome "coalesced");
//   - an invalid message (including one naming another tenant), an unknown
//     user (404) or another permanent rejection is dead-lettered at once
//     with one of the closed set of [Reason] values and the facts in
//     [Property] keys;
//   - a 429 is throttling, not the message's failure: the adaptive limiter
//     (package pacing) slows down and holds every call until its
//     Retry-After has passed; no backoff grows, no budget is spent, the
//     breaker is untouched, and the message is never dead-lettered for it;
//   - a transient failure (408, 5xx, 409 concurrency, network, timeout) is
//     retried with full-jitter exponential backoff, never sooner than a
//     Retry-After, until the call's retry budget (its own failed attempts and
//     backoff only) is spent while Graph is otherwise healthy
//     ([ReasonRetriesExhausted]);
//   - a systemic failure (401 after a token refresh, 403) dead-letters
//     nothing: intake pauses, held messages keep their locks, and one probe
//     call runs every ProbeInterval until Graph answers again;
//   - transient failures on BreakerThreshold distinct messages in a row open
//     an outage breaker that pauses intake the same way.
//
// The shape follows River's job executor: each user has one call loop
// (call.go) that acquires a call slot and the gates (pause, breaker,
// limiter: gates.go), calls, and acts on decide (decide.go), a pure function
// from (call outcome, budget, gate state) to the next action. Messages join
// their user's loop (coalesce.go); a bounded memory of recent successes lets
// a message enqueued before one be completed without a call.
//
// Intake holds no more messages than the limiter's current rate can start
// calling for within half the lock duration, and nothing while calls are
// held back. Every held message's lock is renewed at half of its remaining
// time; a message whose lock is lost is never settled.
//
// [Worker.Run] stops on context cancellation: intake stops at once, calls in
// flight may finish within ShutdownTimeout, and everything still held is
// abandoned so another replica can take it. [Worker.Handler] serves /livez,
// /readyz and /metrics.
//
// Readiness comes from an active probe (servicebus.go): a peek of one
// message through $management every ServiceBusProbeInterval, each within
// ServiceBusProbeTimeout, plus the receive calls' own errors; the cause of
// a failure is one of [Causes]. Liveness is a watchdog (liveness.go): each
// step of intake and of the probe announces its bound, each settlement has
// SettleTimeout, and /livez fails once one overruns by LivenessGrace. A
// settlement still running after SettleStallTimeout is stuck on a dead link
// (azservicebus retries it there): it is stopped once a quick probe has
// run, or at once when a lost connection was already seen, and made again
// by lock token through $management; only when that fails too is it
// counted as lock lost, and the success it recorded stays remembered.
//
// Metrics (private registry, Prometheus text format, with the Go runtime and
// process collectors):
//
//	licensefix_messages_total{outcome,reason}     completed, coalesced, dead_lettered (with reason), abandoned, lock_lost, settle_failed
//	licensefix_graph_calls_total{status}          Graph calls by HTTP status ("error" without a response)
//	licensefix_graph_call_duration_seconds        histogram of Graph call latency
//	licensefix_graph_calls_in_flight              Graph calls waiting for an answer
//	licensefix_graph_rate_limit                   the limiter's current rate (calls/s)
//	licensefix_graph_throttled_total              calls answered 429
//	licensefix_graph_throttle_wait_seconds_total  seconds calls waited on the limiter, a Retry-After or a pause
//	licensefix_graph_throttle_hold                1 while a Retry-After hold is in force
//	licensefix_coalesce_memory_entries            users whose last successful call is remembered
//	licensefix_retries_total                      calls made after a transient failure
//	licensefix_messages_in_flight                 messages held now
//	licensefix_lock_renewals_total                successful lock renewals
//	licensefix_lock_losses_total                  messages whose lock was lost (never settled)
//	licensefix_receive_errors_total               Service Bus receive errors
//	licensefix_servicebus_errors_total{op,cause}  failed Service Bus calls (probe, receive, settle, renew) by cause
//	licensefix_settle_errors_total                settlements that failed otherwise than by a lost lock or link
//	licensefix_settled_by_lock_token_total        settlements made again by lock token ($management) after the link was gone
//	licensefix_breaker_open                       1 while the outage breaker is open
//	licensefix_systemic_pause                     1 while paused for a systemic failure
//	licensefix_paused_seconds_total               time spent paused
//	licensefix_ready, licensefix_live             /readyz and /livez answer 200
//	licensefix_servicebus_connected               the last probe or receive reached Service Bus
package worker
