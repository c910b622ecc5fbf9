// Package quotabench measures licensefix against Graph's write quota: real
// [worker.Worker]s, each with its own Service Bus connection through the
// unmodified azservicebus SDK to the sbemu emulator, calling graphsim over
// HTTP with a quota token bucket that charges every call, throttled ones
// included.
//
// Its benchmarks (go test -run '^$' -bench . -benchtime 1x
// ./internal/quotabench/) report throughput as a fraction of the rate the
// quota allows, the share of calls answered 429, dead letters, Graph calls
// per distinct user, how fast the pacing follows a step change of the
// quota, and the worker process's peak RSS and CPU per message. The figures
// are recorded in BENCHMARKS.md. A short smoke test keeps the harness
// working in go test ./....
package quotabench
