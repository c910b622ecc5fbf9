// Package sbemu is an Azure Service Bus emulator that speaks AMQP 1.0 over
// plain TCP on loopback, so that the unmodified azservicebus SDK (and the
// other official SDKs, through an emulator connection string) can be driven
// end to end in tests and local demos. With Options.TLSAddr it also serves
// AMQP over TLS, with a generated self-signed certificate or one from
// files, for SDKs that have no emulator mode and always use TLS (Microsoft's
// Python SDK on uamqp).
//
// NewServer listens at once and serves in the background; ConnectionString
// gives the string to hand to azservicebus.NewClientFromConnectionString
// (TLSConnectionString and TLSCertificatePEM the TLS equivalents); Close
// stops everything and waits for it.
//
// Link addresses and CBS audiences are taken in every form the SDKs send
// (a bare entity path, a rooted one, or an sb://, amqp:// or amqps:// URI;
// the host is never compared), and $cbs and $management requests are
// settled before they are answered, which uamqp requires. Queues and topics
// come from a Config that mirrors the Config.json of Microsoft's emulator
// (LoadConfig, ParseConfig, DefaultConfig).
//
// What is served: SASL (ANONYMOUS, PLAIN, MSSBCBS, all accepted), CBS
// put-token with SAS verification (and, when Options.TrustJWT is set, any
// jwt token), queue senders (single messages and batches), peek-lock and
// receive-and-delete receivers with complete, abandon, defer, dead-letter
// and release, dead-letter subqueues, and the $management operations
// renew-lock, peek-message, schedule-message, cancel-scheduled-message,
// receive-by-sequence-number and update-disposition. Topics fan each
// message out to their subscriptions by the subscriptions' rules
// (correlation and SQL filters, SQL actions); each subscription is a queue of
// its own, with its own dead-letter queue, for everything above. Sessions
// are not supported: a Config asking for them is refused, and so is a
// session receiver.
//
// Locks belong to the queue, not to the link or connection that took them:
// when a receiver link detaches or its session or connection ends, its
// locked messages keep their locks until they expire and are then
// redelivered with the delivery count raised; meanwhile $management renews
// and settles them by lock token from any link or connection, while a
// disposition naming their old delivery ids is answered message-lock-lost.
// This is what Service Bus does; LINKLOSS.md gives the sources.
//
// Fault hooks (DropConnections, DetachLinks, ExpireLock, ExpireAllLocks,
// DelayManagement, FailManagement) let tests provoke the failures the SDK
// must recover from, and QueueStats lets them look at queue contents.
package sbemu
