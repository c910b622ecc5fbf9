package worker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/go-amqp"
)

// Causes of a Service Bus failure, a closed set named in the /readyz body,
// the transition log lines and licensefix_servicebus_errors_total.
const (
	CauseRefused        = "refused"         // nothing listens at the endpoint
	CauseDNS            = "dns"             // the endpoint's host does not resolve
	CauseTLS            = "tls"             // TLS handshake or certificate failure
	CauseUnauthorized   = "unauthorized"    // the credentials were refused
	CauseNotFound       = "not_found"       // the queue does not exist
	CauseTimeout        = "timeout"         // no answer in time (traffic blackholed, or still retrying)
	CauseConnectionLost = "connection_lost" // the connection or link went away
	CauseLockLost       = "lock_lost"       // settlement or renewal of a lock that is gone
	CauseOther          = "other"           // anything else
)

// Causes lists every cause, for documentation and tests.
func Causes() []string {
	return []string{CauseRefused, CauseDNS, CauseTLS, CauseUnauthorized, CauseNotFound, CauseTimeout, CauseConnectionLost, CauseLockLost, CauseOther}
}

// Service Bus operations counted by licensefix_servicebus_errors_total.
const (
	opProbe   = "probe"
	opReceive = "receive"
	opSettle  = "settle"
	opRenew   = "renew"
)

// classify names the cause of a Service Bus error.
//
// azservicebus v1.11.0's *Error has no Unwrap, so the network error under a
// CodeConnectionLost is only visible in its text; typed errors are checked
// first and the text after.
func classify(err error) string {
	if err == nil {
		return ""
	}
	var (
		dnsErr   *net.DNSError
		recErr   tls.RecordHeaderError
		alertErr tls.AlertError
		certErr  *tls.CertificateVerificationError
		authErr  x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		invErr   x509.CertificateInvalidError
		sbErr    *azservicebus.Error
		connErr  *amqp.ConnError
		sessErr  *amqp.SessionError
		linkErr  *amqp.LinkError
		amqpErr  *amqp.Error
		netErr   net.Error
	)
	switch {
	case errors.As(err, &dnsErr):
		return CauseDNS
	case errors.Is(err, syscall.ECONNREFUSED):
		return CauseRefused
	case errors.As(err, &recErr), errors.As(err, &alertErr), errors.As(err, &certErr),
		errors.As(err, &authErr), errors.As(err, &hostErr), errors.As(err, &invErr):
		return CauseTLS
	case errors.As(err, &sbErr):
		switch sbErr.Code {
		case azservicebus.CodeUnauthorizedAccess:
			return CauseUnauthorized
		case azservicebus.CodeNotFound:
			return CauseNotFound
		case azservicebus.CodeTimeout:
			return CauseTimeout
		case azservicebus.CodeLockLost:
			return CauseLockLost
		}
		if c := classifyText(err.Error()); c != "" {
			return c
		}
		return CauseConnectionLost
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return CauseTimeout
	case errors.As(err, &connErr), errors.As(err, &sessErr), errors.As(err, &linkErr),
		errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return CauseConnectionLost
	case errors.As(err, &amqpErr):
		switch amqpErr.Condition {
		case amqp.ErrCondUnauthorizedAccess:
			return CauseUnauthorized
		case amqp.ErrCondNotFound:
			return CauseNotFound
		case "com.microsoft:message-lock-lost":
			return CauseLockLost
		}
	case errors.As(err, &netErr) && netErr.Timeout():
		return CauseTimeout
	}
	if c := classifyText(err.Error()); c != "" {
		return c
	}
	return CauseOther
}

// classifyText recognises the network causes in an error's text.
func classifyText(s string) string {
	switch {
	case strings.Contains(s, "no such host"), strings.Contains(s, "server misbehaving"):
		return CauseDNS
	case strings.Contains(s, "connection refused"):
		return CauseRefused
	case strings.Contains(s, "x509:"), strings.Contains(s, "tls:"):
		return CauseTLS
	case strings.Contains(s, "i/o timeout"), strings.Contains(s, "context deadline exceeded"):
		return CauseTimeout
	}
	return ""
}

// isConnectionCause reports whether a failure with cause c means the
// connection (or the link) the operation used is gone or unusable.
func isConnectionCause(c string) bool {
	switch c {
	case CauseRefused, CauseDNS, CauseTLS, CauseTimeout, CauseConnectionLost:
		return true
	}
	return false
}

// Probe schedule defaults; see Config.
const (
	DefaultServiceBusProbeInterval = 5 * time.Second
	DefaultServiceBusProbeTimeout  = 5 * time.Second
	// disconnectedProbeInterval is the probe interval while disconnected,
	// so that recovery shows within seconds.
	disconnectedProbeInterval = time.Second
	// slowProbe: a probe that succeeds but takes longer than this went
	// through the SDK's own retry, which recovers a dead connection or link
	// behind the caller's back (a healthy peek takes milliseconds; the
	// SDK's first retry sleeps at least 0.8 × its RetryDelay, which
	// internal/sbconn sets to 500ms: 400ms).
	slowProbe = 300 * time.Millisecond
)

// sbHealth is what the worker knows of its Service Bus connection: whether
// it is reachable (from the probe and the receive calls), why not, and an
// epoch that moves whenever a connection or link was lost, so that a
// message received before can be known to sit on a dead link.
type sbHealth struct {
	log *slog.Logger

	mu        sync.Mutex
	known     bool      // a probe or receive has answered
	connected bool      // meaningful when known
	cause     string    // why not connected
	since     time.Time // when the state last changed
	epoch     int64
	epochMove chan struct{} // closed and replaced when epoch moves
}

func newSBHealth(log *slog.Logger) *sbHealth {
	return &sbHealth{log: log, epochMove: make(chan struct{})}
}

// state reports whether Service Bus is known reachable, and if known
// unreachable, the cause (known false: no answer yet).
func (h *sbHealth) state() (known, connected bool, cause string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.known, h.connected, h.cause
}

// current returns the epoch and a channel closed when it next moves.
func (h *sbHealth) current() (int64, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.epoch, h.epochMove
}

// lost notes that a connection or link was lost: messages received before
// now may sit on a dead link.
func (h *sbHealth) lost() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.moveLocked()
}

func (h *sbHealth) moveLocked() {
	h.epoch++
	close(h.epochMove)
	h.epochMove = make(chan struct{})
}

// up records a successful contact at now, logging the transition.
func (h *sbHealth) up(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.known && h.connected {
		return
	}
	wasDown, cause, since := h.known, h.cause, h.since
	h.known, h.connected, h.cause, h.since = true, true, "", now
	if wasDown {
		h.log.Warn("service bus reachable again", slog.String("cause", cause), slog.Duration("down_for", now.Sub(since)))
	}
}

// down records a failed contact at now with cause, logging the transition
// (and a change of cause while down at debug level). err's text is logged
// only at debug level: it is the SDK's and may quote the endpoint.
func (h *sbHealth) down(now time.Time, op, cause string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if isConnectionCause(cause) {
		h.moveLocked()
	}
	if h.known && !h.connected {
		if h.cause != cause {
			h.log.Debug("service bus still unreachable", slog.String("cause", cause), slog.String("op", op))
			h.cause = cause
		}
		return
	}
	h.known, h.connected, h.cause, h.since = true, false, cause, now
	h.log.Warn("service bus unreachable", slog.String("cause", cause), slog.String("op", op), slog.String("error", errorText(err)))
}

// refusedReceiver reports whether err is Service Bus refusing the receiver
// for good (the credentials or the queue), which no retry mends.
func refusedReceiver(err error) (*azservicebus.Error, bool) {
	var sbErr *azservicebus.Error
	if errors.As(err, &sbErr) && (sbErr.Code == azservicebus.CodeUnauthorizedAccess || sbErr.Code == azservicebus.CodeNotFound) {
		return sbErr, true
	}
	return nil, false
}

// errorText is err's text for a log line, bounded.
func errorText(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if len(s) > 512 {
		s = s[:512]
	}
	return s
}

// probeServiceBus checks Service Bus every ServiceBusProbeInterval (every
// second while unreachable) with a peek of one message through the
// receiver's $management link (com.microsoft:peek-message), each within ServiceBusProbeTimeout, so a
// connection that accepts bytes but never answers (a blackhole) is
// detected as well as one refused. It runs until ctx ends.
func (w *Worker) probeServiceBus(ctx context.Context) {
	quick := false // asked for by a stalled settlement
	first := true  // intake waits for a peek that succeeds (see intake)
	for {
		timeout := w.cfg.ServiceBusProbeTimeout
		if quick {
			timeout = min(timeout, w.cfg.SettleStallTimeout)
		}
		w.live.expect(loopProbe, w.clock.Now(), timeout)
		start := w.clock.Now()
		pctx, cancel := context.WithTimeout(ctx, timeout)
		// The receiver's own peek cursor (the SDK's default path; only this
		// goroutine peeks): it walks the queue one message per probe and
		// then answers "no messages" until more arrive.
		_, err := w.recv.PeekMessages(pctx, 1, nil)
		cancel()
		if _, refused := refusedReceiver(err); first && (err == nil || refused) {
			close(w.firstProbed)
			first = false
		}
		if ctx.Err() != nil {
			return
		}
		now := w.clock.Now()
		if quick {
			// A settlement has stalled past SettleStallTimeout. Whatever
			// this peek on the same receiver says, the settlement's link is
			// gone: the peek answered in time (the service is up and quick,
			// so the settlement is stuck on a link from before a reconnect),
			// failed (the connection is down) or got no answer either (the
			// SDK sleeping between retries on a dead connection).
			w.sb.lost()
		}
		switch {
		case err == nil:
			if now.Sub(start) > slowProbe {
				// The SDK retried inside the call: it recovered a dead
				// connection or link on the way.
				w.sb.lost()
			}
			w.sb.up(now)
		case quick && classify(err) == CauseTimeout:
			// No answer within the stall bound is not yet unreachability
			// for /readyz: the next regular probe decides.
			w.metrics.sbErrors.WithLabelValues(opProbe, CauseTimeout).Inc()
		default:
			cause := classify(err)
			if (cause == CauseTimeout || cause == CauseConnectionLost) && w.diagnose != nil {
				// The SDK retries inside the call and hands back only our
				// deadline (or its last, wrapped error): ask the network.
				dctx, cancel := context.WithTimeout(ctx, w.cfg.ServiceBusProbeTimeout)
				w.live.expect(loopProbe, now, w.cfg.ServiceBusProbeTimeout)
				if derr := w.diagnose(dctx); derr != nil && ctx.Err() == nil {
					if c := classify(derr); c != CauseTimeout && c != CauseOther {
						cause = c
					}
				}
				cancel()
				now = w.clock.Now()
			}
			w.serviceBusFailedWith(opProbe, cause, err)
		}
		wait := w.cfg.ServiceBusProbeInterval
		if _, connected, _ := w.sb.state(); !connected || quick {
			// Unreachable, or a quick probe just ran: look again soon.
			wait = min(wait, disconnectedProbeInterval)
		}
		w.live.expect(loopProbe, now, wait)
		quick = false
		select {
		case <-ctx.Done():
			return
		case <-w.probeNow:
			quick = true
		case <-w.clock.After(wait):
		}
	}
}

// kickProbe asks the probe loop to probe now (a settlement stalls).
func (w *Worker) kickProbe() {
	select {
	case w.probeNow <- struct{}{}:
	default:
	}
}

// serviceBusFailed counts a failed Service Bus call and, for the probe and
// receive calls, marks Service Bus unreachable. It returns the cause.
func (w *Worker) serviceBusFailed(op string, err error) string {
	return w.serviceBusFailedWith(op, classify(err), err)
}

// serviceBusFailedWith is serviceBusFailed with the cause given.
func (w *Worker) serviceBusFailedWith(op, cause string, err error) string {
	w.metrics.sbErrors.WithLabelValues(op, cause).Inc()
	switch {
	case op == opProbe || op == opReceive:
		w.sb.down(w.clock.Now(), op, cause, err)
	case isConnectionCause(cause):
		w.sb.lost()
	}
	return cause
}
