// Package chaos is licensefix's chaos suite: the built binary runs as
// worker subprocesses against the Service Bus emulator (reached through a
// loopback fault proxy, internal/faultproxy) and the Graph simulator, while
// the harness injects faults — SIGKILL and restart, connection cuts, a
// blackhole longer than the readiness detection bound, competing workers
// one of which is SIGTERMed, Graph hangs past the timeout, connection
// resets and 429s with fractional Retry-After — and then judges every
// message with a ledger.
//
// # The ledger
//
// Check takes a History: the messages sent (each with its own user, so a
// Graph call maps to one message), every Graph call the simulator recorded
// (user, client-request-id, status answered; 0 when no answer reached the
// worker), the outcome lines the workers logged, the kills, and the final
// state peeked from the queue and its dead-letter queue after the workers
// stopped. Every sent message must end in exactly one of three states:
//
//   - completed: gone from both queues, its user got a 2xx, and every
//     completion a worker logged names (by client-request-id) a 2xx call of
//     that user made before the completion. A message gone with a 2xx but
//     no completion line is accepted only when a worker logged a failed
//     settlement naming that 2xx (the broker may have completed it while
//     the answer was lost to a cut) or a kill came after the 2xx (the
//     killed worker may have settled it without logging).
//   - dead-lettered, with a reason its Graph history justifies: UserNotFound
//     when the call it names answered 404; GraphRejected for another
//     permanent 4xx (not 401, 403, 408, 409, 429) or 501; RetriesExhausted
//     for a transient answer (no answer, 408, 409, 5xx but 501);
//     InvalidMessage only for a message sent invalid that Graph never saw;
//     MaxDeliveryCountExceeded when its delivery count reached the queue's
//     MaxDeliveryCount. A Graph reason with any 2xx for the user is never
//     justified.
//   - still queued.
//
// Gone with no 2xx is lost (Report.Lost). Duplicates are 2xx answers beyond
// the first for one message; each must have a kill between it and the
// previous 2xx, because a worker that saw a 2xx remembers the user
// (coalescing) and completes a redelivery without calling again — only a
// kill makes it forget. Retries after no answer or an error are not
// duplicates: the worker never saw the call succeed.
//
// # Running it
//
// The bounded scenarios run in go test ./... (about 100 s together on 2
// cores). The soak is behind the build tag chaossoak:
//
//	go test -tags chaossoak -run TestSoak -timeout 45m ./internal/chaos -chaos.soak=30m
//
// RELIABILITY.md at the repository root records the figures.
package chaos
