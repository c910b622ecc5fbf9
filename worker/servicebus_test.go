package worker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/go-amqp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	cases := []struct {
		err  error
		want string
	}{
		{&net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}, CauseDNS},
		{refused, CauseRefused},
		{fmt.Errorf("wrapped: %w", refused), CauseRefused},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, CauseTLS},
		{&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, CauseTLS},
		{x509.HostnameError{Host: "x"}, CauseTLS},
		{&azservicebus.Error{Code: azservicebus.CodeUnauthorizedAccess}, CauseUnauthorized},
		{&azservicebus.Error{Code: azservicebus.CodeNotFound}, CauseNotFound},
		{&azservicebus.Error{Code: azservicebus.CodeTimeout}, CauseTimeout},
		{&azservicebus.Error{Code: azservicebus.CodeLockLost}, CauseLockLost},
		{&azservicebus.Error{Code: azservicebus.CodeConnectionLost}, CauseConnectionLost},
		{context.DeadlineExceeded, CauseTimeout},
		{&amqp.ConnError{}, CauseConnectionLost},
		{&amqp.SessionError{}, CauseConnectionLost},
		{&amqp.LinkError{}, CauseConnectionLost},
		{io.EOF, CauseConnectionLost},
		{&amqp.Error{Condition: amqp.ErrCondUnauthorizedAccess}, CauseUnauthorized},
		{&amqp.Error{Condition: amqp.ErrCondNotFound}, CauseNotFound},
		{&amqp.Error{Condition: "com.microsoft:message-lock-lost"}, CauseLockLost},
		// azservicebus's *Error has no Unwrap: the text tells.
		{errors.New("(connlost): dial tcp 127.0.0.1:1: connect: connection refused"), CauseRefused},
		{errors.New("(connlost): dial tcp: lookup x.invalid: no such host"), CauseDNS},
		{errors.New("(connlost): tls: failed to verify certificate: x509: certificate signed by unknown authority"), CauseTLS},
		{errors.New("something else"), CauseOther},
		{nil, ""},
	}
	for _, c := range cases {
		got := classify(c.err)
		assert.Equal(t, c.want, got, "%v", c.err)
		if c.err != nil {
			assert.Contains(t, Causes(), got)
		}
	}
}

func TestServiceBusTransitionsLogOnce(t *testing.T) {
	t.Parallel()
	logs := &jsonLog{}
	h := newSBHealth(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	known, _, _ := h.state()
	assert.False(t, known, "nothing known before the first answer")
	now := time.Now()
	e0, moved := h.current()
	h.down(now, opProbe, CauseRefused, errors.New("refused"))
	h.down(now, opReceive, CauseRefused, errors.New("refused"))
	h.down(now, opProbe, CauseTimeout, errors.New("deadline"))
	_, connected, cause := h.state()
	assert.False(t, connected)
	assert.Equal(t, CauseTimeout, cause, "the latest cause is reported")
	e1, _ := h.current()
	assert.Greater(t, e1, e0, "a connection failure moves the epoch")
	select {
	case <-moved:
	default:
		t.Fatal("the epoch channel was not closed")
	}
	h.up(now.Add(time.Second))
	h.up(now.Add(2 * time.Second))
	_, connected, _ = h.state()
	assert.True(t, connected)
	assert.Equal(t, 1, len(logs.lines("service bus unreachable")))
	assert.Equal(t, 1, len(logs.lines("service bus reachable again")))
	// Unauthorized is no connection loss: the epoch stays.
	h.down(now, opProbe, CauseUnauthorized, errors.New("401"))
	e2, _ := h.current()
	assert.Equal(t, e1, e2)
	assert.Equal(t, 2, len(logs.lines("service bus unreachable")))
}

func TestWatchdog(t *testing.T) {
	t.Parallel()
	d := newWatchdog(time.Second, 10*time.Second)
	now := time.Now()
	what, _ := d.wedged(now)
	assert.Empty(t, what)
	d.expect(loopIntake, now, 2*time.Second)
	what, _ = d.wedged(now.Add(3 * time.Second))
	assert.Empty(t, what, "within the step's bound plus the grace")
	what, late := d.wedged(now.Add(4 * time.Second))
	assert.Equal(t, loopIntake, what)
	assert.Equal(t, time.Second, late)
	d.stop(loopIntake)
	done := d.settlingFrom(now)
	what, _ = d.wedged(now.Add(10 * time.Second))
	assert.Empty(t, what)
	what, _ = d.wedged(now.Add(12 * time.Second))
	assert.Equal(t, "settlement", what)
	done()
	what, _ = d.wedged(now.Add(12 * time.Second))
	assert.Empty(t, what)
}

func TestLivezFailsWhenIntakeIsWedged(t *testing.T) {
	t.Parallel()
	r := newFakeReceiver()
	cfg := fastConfig()
	cfg.ReceiveWait = 50 * time.Millisecond
	cfg.LivenessGrace = 200 * time.Millisecond
	logs := &jsonLog{}
	w, err := New(cfg, Deps{Receiver: r, Graph: newFakeGraph(), Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	live := func() int { return get(t, w, "/livez") }
	// Idle: empty polls are progress.
	require.Eventually(t, func() bool { return r.receives() >= 5 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, 200, live())

	release := r.wedgeReceives()
	defer release()
	require.Eventually(t, func() bool { return live() == 503 }, 5*time.Second, 5*time.Millisecond)
	ok, what, _ := w.Live()
	assert.False(t, ok)
	assert.Equal(t, loopIntake, what)
	live()
	assert.Equal(t, 1, len(logs.lines("worker wedged; /livez fails")), "one line per wedge")
	release()
	require.Eventually(t, func() bool { return live() == 200 }, 5*time.Second, 5*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
}

func TestLivezFailsWhenASettlementIsWedged(t *testing.T) {
	t.Parallel()
	r := newFakeReceiver()
	r.settleBlock = make(chan struct{})
	cfg := fastConfig()
	cfg.SettleTimeout = 100 * time.Millisecond
	cfg.LivenessGrace = 200 * time.Millisecond
	w, _ := runFake(t, cfg, r, newFakeGraph())
	r.addUser("m1", "a@contoso.com")
	require.Eventually(t, func() bool { return get(t, w, "/livez") == 503 }, 5*time.Second, 5*time.Millisecond)
	_, what, _ := w.Live()
	assert.Equal(t, "settlement", what)
	close(r.settleBlock)
	require.Eventually(t, func() bool { return get(t, w, "/livez") == 200 }, 5*time.Second, 5*time.Millisecond)
}

func TestReadyzNamesTheCause(t *testing.T) {
	t.Parallel()
	r := newFakeReceiver()
	r.setPeekErr(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})
	cfg := fastConfig()
	cfg.ServiceBusProbeInterval = 10 * time.Millisecond
	w, _ := runFake(t, cfg, r, newFakeGraph())
	require.Eventually(t, func() bool { return w.ServiceBusCause() == CauseRefused }, 5*time.Second, time.Millisecond)
	code, body := getBody(t, w, "/readyz")
	assert.Equal(t, 503, code)
	assert.JSONEq(t, `{"ready":false,"reason":"servicebus_disconnected","cause":"refused"}`, body)
	r.setPeekErr(nil)
	require.Eventually(t, func() bool { return get(t, w, "/readyz") == 200 }, 5*time.Second, time.Millisecond)
}

// getBody serves one GET through w's handler.
func getBody(t *testing.T, w *Worker, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	w.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Code, rec.Body.String()
}

func get(t *testing.T, w *Worker, path string) int {
	t.Helper()
	code, _ := getBody(t, w, path)
	return code
}

// stalledSettlementSetup starts a worker whose settlements on the
// message's own link hang (a dead link) and hands it one message.
func stalledSettlementSetup(t *testing.T, tokenErr error) (*Worker, *fakeReceiver, *fakeGraph, *azservicebus.ReceivedMessage) {
	t.Helper()
	r, g := newFakeReceiver(), newFakeGraph()
	r.settleHang = true
	r.tokenSettleErr = tokenErr
	cfg := fastConfig()
	cfg.SettleStallTimeout = 50 * time.Millisecond
	cfg.ServiceBusProbeInterval = time.Hour // only the stalled settlement asks for a probe
	w, _ := runFake(t, cfg, r, g)
	require.Eventually(t, func() bool { ok, _ := w.Ready(); return ok }, waitFor, tick)
	seq := int64(7)
	lu := time.Now().Add(time.Minute)
	enq := time.Now()
	m := &azservicebus.ReceivedMessage{MessageID: "m1", Body: []byte(`{"userId":"a@contoso.com"}`), LockedUntil: &lu,
		EnqueuedTime: &enq, SequenceNumber: &seq, DeliveryCount: 1}
	r.redeliver(&azservicebus.ReceivedMessage{MessageID: m.MessageID, Body: m.Body, LockedUntil: m.LockedUntil,
		EnqueuedTime: m.EnqueuedTime, SequenceNumber: m.SequenceNumber})
	return w, r, g, m
}

func TestStalledSettlementIsSettledByLockToken(t *testing.T) {
	t.Parallel()
	w, r, g, _ := stalledSettlementSetup(t, nil)
	// The settlement on the message's link hangs: well before the minute
	// of lock left it is made again by lock token, and succeeds.
	s := waitSettled(t, r, "m1")
	assert.Equal(t, "complete", s.kind)
	assert.True(t, s.byToken, "settled by lock token on $management")
	require.Eventually(t, func() bool {
		return strings.Contains(scrape(t, w), `licensefix_messages_total{outcome="completed",reason=""} 1`)
	}, waitFor, tick)
	text := scrape(t, w)
	assert.Contains(t, text, `licensefix_servicebus_errors_total{cause="connection_lost",op="settle"} 1`)
	assert.Contains(t, text, "licensefix_settled_by_lock_token_total 1")
	assert.Contains(t, text, "licensefix_settle_errors_total 0")
	assert.Equal(t, 1, g.count("a@contoso.com"))
}

func TestStalledSettlementIsLockLostAndTheRedeliveryCoalesced(t *testing.T) {
	t.Parallel()
	w, r, g, m := stalledSettlementSetup(t, &azservicebus.Error{Code: azservicebus.CodeLockLost})

	// The settlement hangs (a dead link) and the lock is gone by lock token
	// too: counted as lock lost, not as a settlement failure.
	require.Eventually(t, func() bool {
		return strings.Contains(scrape(t, w), `licensefix_messages_total{outcome="lock_lost",reason=""} 1`)
	}, waitFor, tick)
	text := scrape(t, w)
	assert.Contains(t, text, "licensefix_settled_by_lock_token_total 0")
	assert.Contains(t, text, "licensefix_settle_errors_total 0")
	assert.Equal(t, 1, g.count("a@contoso.com"))

	// The redelivery is completed from the remembered success.
	r.mu.Lock()
	r.settleHang = false
	r.mu.Unlock()
	r.redeliver(m)
	s := waitSettled(t, r, "m1")
	assert.Equal(t, "complete", s.kind)
	assert.Contains(t, scrape(t, w), `licensefix_messages_total{outcome="coalesced",reason=""} 1`)
	assert.Equal(t, 1, g.count("a@contoso.com"), "no second Graph call")
}
