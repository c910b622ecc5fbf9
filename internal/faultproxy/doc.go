// Package faultproxy is a loopback TCP proxy that injects network faults
// between a client and a server in tests and in the chaos suite: it cuts
// every open connection, blackholes traffic (connections stay open, nothing
// is forwarded, as when a firewall drops packets), or rejects new
// connections.
//
// It forwards bytes unchanged and knows nothing of AMQP or HTTP, so the
// client library under test sees the same failures it would see on a real
// network: a reset connection, a read that never returns, a connection
// closed at once. A blackhole pauses delivery rather than dropping bytes, so
// a connection that survives one resumes intact, as TCP would after a
// partition heals.
package faultproxy
