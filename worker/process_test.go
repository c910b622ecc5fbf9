package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/licensefix/licensefix/pacing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const waitFor = 5 * time.Second
const tick = 5 * time.Millisecond

func waitSettled(t *testing.T, r *fakeReceiver, id string) settlement {
	t.Helper()
	var s settlement
	require.Eventually(t, func() bool {
		var ok bool
		s, ok = r.find(id)
		return ok
	}, waitFor, tick, "message %s not settled", id)
	return s
}

func TestOutcomeMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		answers  []answer
		body     string
		kind     string
		reason   Reason
		attempts int
		status   int
	}{
		{"200 completes", []answer{{status: 200}}, "", "complete", "", 1, 0},
		{"204 completes", []answer{{status: 204}}, "", "complete", "", 1, 0},
		{"404 is UserNotFound", []answer{{status: 404, code: "Request_ResourceNotFound"}}, "", "deadletter", ReasonUserNotFound, 1, 404},
		{"400 is GraphRejected", []answer{{status: 400, code: "Request_BadRequest"}}, "", "deadletter", ReasonGraphRejected, 1, 400},
		{"405 is GraphRejected", []answer{{status: 405}}, "", "deadletter", ReasonGraphRejected, 1, 405},
		{"501 is GraphRejected", []answer{{status: 501}}, "", "deadletter", ReasonGraphRejected, 1, 501},
		{"429 then 200", []answer{{status: 429, code: "TooManyRequests"}, {status: 200}}, "", "complete", "", 2, 0},
		{"503 then 200", []answer{{status: 503}, {status: 503}, {status: 200}}, "", "complete", "", 3, 0},
		{"409 concurrency then 200", []answer{{status: 409, code: "Directory_ConcurrencyViolation"}, {status: 200}}, "", "complete", "", 2, 0},
		{"network error then 200", []answer{{netErr: true}, {status: 200}}, "", "complete", "", 2, 0},
		{"invalid body is InvalidMessage", nil, `{"userId":`, "deadletter", ReasonInvalidMessage, 0, 0},
		{"missing userId is InvalidMessage", nil, `{"tenantId":"x"}`, "deadletter", ReasonInvalidMessage, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, g := newFakeReceiver(), newFakeGraph()
			user := "u1@contoso.com"
			g.script(user, tc.answers...)
			if tc.body != "" {
				r.add("m1", tc.body)
			} else {
				r.addUser("m1", user)
			}
			runFake(t, fastConfig(), r, g)
			s := waitSettled(t, r, "m1")
			assert.Equal(t, tc.kind, s.kind)
			assert.Equal(t, string(tc.reason), s.reason)
			assert.Equal(t, tc.attempts, g.count(user), "graph calls")
			if tc.kind != "deadletter" {
				return
			}
			assert.Equal(t, string(tc.reason), s.props[PropReason])
			assert.Equal(t, tc.attempts, s.props[PropAttempts])
			_, err := time.Parse(time.RFC3339, s.props[PropDeadLetteredAt].(string))
			assert.NoError(t, err)
			if tc.reason == ReasonInvalidMessage {
				assert.NotEmpty(t, s.props[PropInvalidField])
				assert.NotContains(t, s.props, PropUserID)
				assert.NotContains(t, s.props, PropHTTPStatus)
				return
			}
			assert.Equal(t, tc.status, s.props[PropHTTPStatus])
			assert.Equal(t, user, s.props[PropUserID])
			assert.Equal(t, "req-"+user+"-1", s.props[PropGraphRequestID])
			assert.Equal(t, "client-"+user+"-1", s.props[PropClientRequestID])
			assert.Contains(t, s.desc, "http_status=")
			assert.Contains(t, s.desc, "request-id=req-"+user+"-1")
			assert.Contains(t, s.desc, "client-request-id=client-"+user+"-1")
			assert.Contains(t, s.desc, "attempts=1")
			if tc.answers[0].code != "" {
				assert.Equal(t, tc.answers[0].code, s.props[PropGraphErrorCode])
				assert.Contains(t, s.desc, tc.answers[0].code)
			}
		})
	}
}

func TestRetriesExhaustedAmidHealthyTraffic(t *testing.T) {
	t.Parallel()
	r, g := newFakeReceiver(), newFakeGraph()
	g.setForever("bad@contoso.com", answer{status: 503})
	cfg := fastConfig()
	cfg.Retry.MaxElapsed = 150 * time.Millisecond
	r.addUser("bad", "bad@contoso.com")
	r.addUser("good1", "good1@contoso.com")
	runFake(t, cfg, r, g)
	waitSettled(t, r, "good1")
	// Keep healthy traffic flowing while the bad message spends its budget.
	s := waitSettled(t, r, "bad")
	assert.Equal(t, "deadletter", s.kind)
	assert.Equal(t, string(ReasonRetriesExhausted), s.reason)
	assert.Greater(t, g.count("bad@contoso.com"), 1)
	assert.Equal(t, g.count("bad@contoso.com"), s.props[PropAttempts])
	assert.Equal(t, 503, s.props[PropHTTPStatus])
}

func TestOutageDeadLettersNothing(t *testing.T) {
	t.Parallel()
	r, g := newFakeReceiver(), newFakeGraph()
	g.setDefault(answer{status: 503})
	cfg := fastConfig()
	cfg.Retry.MaxElapsed = 100 * time.Millisecond // far shorter than the outage
	w, _ := runFake(t, cfg, r, g)
	for i := range 6 {
		r.addUser("m"+string(rune('a'+i)), "user"+string(rune('a'+i))+"@contoso.com")
	}
	require.Eventually(t, func() bool { ok, why := w.Ready(); return !ok && why == ReadyReasonOutage }, waitFor, tick)
	time.Sleep(300 * time.Millisecond) // the outage outlasts every budget
	assert.Empty(t, r.settlements(), "nothing settled during the outage")
	g.setDefault(answer{status: 200})
	for i := range 6 {
		s := waitSettled(t, r, "m"+string(rune('a'+i)))
		assert.Equal(t, "complete", s.kind)
	}
	ok, _ := w.Ready()
	assert.True(t, ok)
}

func TestLoneMessageOutageIsNotDeadLettered(t *testing.T) {
	t.Parallel()
	r, g := newFakeReceiver(), newFakeGraph()
	g.setDefault(answer{status: 503})
	cfg := fastConfig()
	cfg.Retry.MaxElapsed = 50 * time.Millisecond
	w, _ := runFake(t, cfg, r, g)
	r.addUser("m1", "u1@contoso.com")
	// Below the breaker threshold, but nothing has ever worked: an outage.
	require.Eventually(t, func() bool { _, why := w.Ready(); return why == ReadyReasonOutage }, waitFor, tick)
	assert.Empty(t, r.settlements())
	g.setDefault(answer{status: 200})
	assert.Equal(t, "complete", waitSettled(t, r, "m1").kind)
}

func TestSystemicPauseAndResume(t *testing.T) {
	t.Parallel()
	r, g := newFakeReceiver(), newFakeGraph()
	g.setDefault(answer{status: 403, code: "Authorization_RequestDenied"})
	cfg := fastConfig()
	cfg.ProbeInterval = 50 * time.Millisecond
	w, _ := runFake(t, cfg, r, g)
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()
	r.addUser("m1", "u1@contoso.com")
	r.addUser("m2", "u2@contoso.com")
	require.Eventually(t, func() bool { _, why := w.Ready(); return why == ReadyReasonPermissionMissing }, waitFor, tick)

	resp, err := http.Get(srv.URL + "/readyz")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	var rd map[string]any
	require.NoError(t, json.Unmarshal(body, &rd))
	assert.Equal(t, false, rd["ready"])
	assert.Equal(t, "graph_permission_missing", rd["reason"])

	// While paused: nothing settled, and probes are spaced by ProbeInterval.
	before := g.count("u1@contoso.com") + g.count("u2@contoso.com")
	time.Sleep(260 * time.Millisecond)
	after := g.count("u1@contoso.com") + g.count("u2@contoso.com")
	assert.LessOrEqual(t, after-before, 7, "about one probe per interval")
	assert.Empty(t, r.settlements())

	g.setDefault(answer{status: 200}) // permission granted
	assert.Equal(t, "complete", waitSettled(t, r, "m1").kind)
	assert.Equal(t, "complete", waitSettled(t, r, "m2").kind)
	ok, _ := w.Ready()
	assert.True(t, ok)
}

func TestRetryAfterHoldsBackEveryCall(t *testing.T) {
	t.Parallel()
	r, g := newFakeReceiver(), newFakeGraph()
	g.script("u1@contoso.com", answer{status: 429, retryAfter: 300 * time.Millisecond})
	cfg := fastConfig()
	w, _ := runFake(t, cfg, r, g)
	r.addUser("m1", "u1@contoso.com")
	require.Eventually(t, func() bool { return g.count("u1@contoso.com") == 1 }, waitFor, tick)
	r.addUser("m2", "u2@contoso.com")
	waitSettled(t, r, "m1")
	waitSettled(t, r, "m2")
	first := g.times("u1@contoso.com")
	second := g.times("u2@contoso.com")
	require.Len(t, first, 2)
	require.Len(t, second, 1)
	assert.GreaterOrEqual(t, first[1].Sub(first[0]), 300*time.Millisecond, "retry not sooner than Retry-After")
	assert.GreaterOrEqual(t, second[0].Sub(first[0]), 300*time.Millisecond, "other users held back too")
	_ = w
}

func TestShutdownAbandonsWaitingAndLetsCallsFinish(t *testing.T) {
	t.Parallel()
	r, g := newFakeReceiver(), newFakeGraph()
	g.script("slow@contoso.com", answer{status: 200, delay: 300 * time.Millisecond})
	g.setForever("flaky@contoso.com", answer{status: 503})
	cfg := fastConfig()
	cfg.Retry.InitialInterval = time.Second
	cfg.Retry.MaxInterval = time.Second
	_, stop := runFake(t, cfg, r, g)
	r.addUser("slow", "slow@contoso.com")
	r.addUser("flaky", "flaky@contoso.com")
	require.Eventually(t, func() bool {
		return g.count("slow@contoso.com") == 1 && g.count("flaky@contoso.com") >= 1
	}, waitFor, tick)
	require.NoError(t, stop())
	slow, ok := r.find("slow")
	require.True(t, ok)
	assert.Equal(t, "complete", slow.kind, "an in-flight call may finish and complete")
	flaky, ok := r.find("flaky")
	require.True(t, ok)
	assert.Equal(t, "abandon", flaky.kind, "a waiting message is abandoned, not dead-lettered")
}

func TestShutdownTimeoutAbandonsSlowCall(t *testing.T) {
	t.Parallel()
	r, g := newFakeReceiver(), newFakeGraph()
	g.script("slow@contoso.com", answer{status: 200, delay: time.Minute})
	cfg := fastConfig()
	cfg.ShutdownTimeout = 300 * time.Millisecond
	_, stop := runFake(t, cfg, r, g)
	r.addUser("slow", "slow@contoso.com")
	require.Eventually(t, func() bool { return g.count("slow@contoso.com") == 1 }, waitFor, tick)
	start := time.Now()
	require.NoError(t, stop())
	assert.Less(t, time.Since(start), 5*time.Second)
	s, ok := r.find("slow")
	require.True(t, ok)
	assert.Equal(t, "abandon", s.kind)
}

func TestLockRenewedAndLockLost(t *testing.T) {
	t.Parallel()
	r, g := newFakeReceiver(), newFakeGraph()
	r.lockDur = 100 * time.Millisecond
	g.script("slow@contoso.com", answer{status: 200, delay: 400 * time.Millisecond})
	g.script("lost@contoso.com", answer{status: 200, delay: time.Minute})
	w, _ := runFake(t, fastConfig(), r, g)
	r.addUser("slow", "slow@contoso.com")
	r.addUser("lost", "lost@contoso.com")
	s := waitSettled(t, r, "slow")
	assert.Equal(t, "complete", s.kind)
	assert.GreaterOrEqual(t, s.renewed, 3, "renewed at half the remaining lock time")

	r.mu.Lock()
	r.lostLock["lost"] = true
	r.mu.Unlock()
	require.Eventually(t, func() bool {
		return strings.Contains(scrape(t, w), `licensefix_messages_total{outcome="lock_lost",reason=""} 1`)
	}, waitFor, tick)
	_, settled := r.find("lost")
	assert.False(t, settled, "a message whose lock is lost is never settled")
	assert.Contains(t, scrape(t, w), "licensefix_lock_losses_total 1")
}

func TestIntakeHoldsOnlyWhatTheRateCanStartWithinHalfTheLock(t *testing.T) {
	t.Parallel()
	r, g := newFakeReceiver(), newFakeGraph()
	r.lockDur = 3 * time.Second
	r.recvErrs = []error{&azservicebus.Error{Code: azservicebus.CodeConnectionLost}, &azservicebus.Error{Code: azservicebus.CodeTimeout}}
	cfg := fastConfig()
	// 2 calls/s × 3 s lock × 0.5 = 3 messages worth holding.
	cfg.Pacing = pacing.Config{InitialRate: 2, MaxRate: 2}
	w, _ := runFake(t, cfg, r, g)
	for i := range 8 {
		r.addUser(fmt.Sprintf("m%d", i), fmt.Sprintf("u%d@contoso.com", i))
	}
	for i := range 8 {
		assert.Equal(t, "complete", waitSettled(t, r, fmt.Sprintf("m%d", i)).kind)
	}
	r.mu.Lock()
	asked := append([]int(nil), r.maxAsked...)
	r.mu.Unlock()
	for _, n := range asked {
		assert.LessOrEqual(t, n, 3)
		assert.GreaterOrEqual(t, n, 1)
	}
	assert.LessOrEqual(t, r.maxHeld(), 3, "never more held than the rate can start within half the lock")
	assert.Contains(t, scrape(t, w), "licensefix_receive_errors_total 2")
}

func TestFatalReceiveErrorStopsRun(t *testing.T) {
	t.Parallel()
	r, g := newFakeReceiver(), newFakeGraph()
	r.recvErrs = []error{&azservicebus.Error{Code: azservicebus.CodeUnauthorizedAccess}}
	w, err := New(fastConfig(), Deps{Receiver: r, Graph: g, Logger: testLogger(t)})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	err = w.Run(ctx)
	var fe *FatalError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, azservicebus.CodeUnauthorizedAccess, fe.Code)
	require.ErrorIs(t, w.Run(ctx), errRunTwice)
}

func TestHandlerEndpoints(t *testing.T) {
	t.Parallel()
	r, g := newFakeReceiver(), newFakeGraph()
	w, err := New(fastConfig(), Deps{Receiver: r, Graph: g})
	require.NoError(t, err)
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, _ := get("/livez")
	assert.Equal(t, 200, code)
	code, body := get("/readyz")
	assert.Equal(t, 503, code)
	assert.JSONEq(t, `{"ready":false,"reason":"starting"}`, body)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	require.Eventually(t, func() bool { c, _ := get("/readyz"); return c == 200 }, waitFor, tick)
	_, body = get("/readyz")
	assert.JSONEq(t, `{"ready":true}`, body)
	_, metricsText := get("/metrics")
	for _, name := range metricNames {
		assert.Contains(t, metricsText, name)
	}
	cancel()
	require.NoError(t, <-done)
}

// metricNames are the metrics every deployment can rely on.
var metricNames = []string{
	"licensefix_graph_call_duration_seconds", "licensefix_retries_total", "licensefix_messages_in_flight",
	"licensefix_lock_renewals_total", "licensefix_lock_losses_total", "licensefix_receive_errors_total",
	"licensefix_breaker_open", "licensefix_systemic_pause", "licensefix_paused_seconds_total",
	"licensefix_servicebus_connected", "licensefix_live", "go_goroutines", "process_cpu_seconds_total",
}

func scrape(t *testing.T, w *Worker) string {
	t.Helper()
	rec := httptest.NewRecorder()
	w.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

func TestReadinessWhileServiceBusFails(t *testing.T) {
	t.Parallel()
	r, g := newFakeReceiver(), newFakeGraph()
	for range 3 {
		r.recvErrs = append(r.recvErrs, &azservicebus.Error{Code: azservicebus.CodeConnectionLost})
	}
	cfg := fastConfig()
	cfg.ReceiveRetryInterval = 100 * time.Millisecond // 100, 200, 400ms: not ready meanwhile
	w, _ := runFake(t, cfg, r, g)
	require.Eventually(t, func() bool { _, why := w.Ready(); return why == ReadyReasonDisconnected }, waitFor, tick)
	r.addUser("m1", "u1@contoso.com")
	assert.Equal(t, "complete", waitSettled(t, r, "m1").kind)
	require.Eventually(t, func() bool { ok, _ := w.Ready(); return ok }, waitFor, tick)
}

func TestCloudEventTypeAllowList(t *testing.T) {
	t.Parallel()
	r, g := newFakeReceiver(), newFakeGraph()
	cfg := fastConfig()
	cfg.CloudEventTypes = []string{"com.example.license.fixed"}
	runFake(t, cfg, r, g)
	ce := func(id, typ, user string) {
		body := fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"/hr","type":%q,"datacontenttype":"application/json","data":{"userId":%q}}`, id, typ, user)
		r.addTyped(id, body, "application/cloudevents+json")
	}
	ce("allowed", "com.example.license.fixed", "a@contoso.com")
	ce("other", "com.example.other", "b@contoso.com")
	assert.Equal(t, "complete", waitSettled(t, r, "allowed").kind)
	s := waitSettled(t, r, "other")
	assert.Equal(t, "deadletter", s.kind)
	assert.Equal(t, string(ReasonInvalidMessage), s.reason)
	assert.Equal(t, 0, g.count("b@contoso.com"))
	assert.Contains(t, s.props[PropInvalidField], "type")
}

// TestFirstReceiveWaitsForTheFirstProbe: the receiver's first use is the
// probe's peek alone; intake's first receive starts only once that peek has
// returned (azservicebus creates a receiver's links on first use, and two
// first calls at once can leave an extra link set open; see intake). While
// the first peek is held, nothing is received however long it takes.
func TestFirstReceiveWaitsForTheFirstProbe(t *testing.T) {
	t.Parallel()
	r, g := newFakeReceiver(), newFakeGraph()
	gate := make(chan struct{})
	r.peekGate = gate
	r.addUser("m1", "first@contoso.com")
	runFake(t, fastConfig(), r, g)
	// Far longer than intake needs to make its first receive when it does
	// not wait: the fake answers at once.
	time.Sleep(300 * time.Millisecond)
	assert.Zero(t, r.receives(), "no receive while the first peek is out")
	r.mu.Lock()
	r.peekGate = nil
	r.mu.Unlock()
	close(gate)
	assert.Equal(t, "complete", waitSettled(t, r, "m1").kind, "intake starts once the peek has returned")
}

// TestFirstReceiveWaitsForAProbeThatSucceeds: while Service Bus is
// unreachable at start-up the receiver has no links, and each failed peek
// leaves it without; intake makes no receive (which could create links at
// the same moment as the next peek) until a peek has succeeded.
func TestFirstReceiveWaitsForAProbeThatSucceeds(t *testing.T) {
	t.Parallel()
	r, g := newFakeReceiver(), newFakeGraph()
	r.setPeekErr(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})
	r.addUser("m1", "first@contoso.com")
	cfg := fastConfig()
	cfg.ServiceBusProbeInterval = 10 * time.Millisecond
	w, _ := runFake(t, cfg, r, g)
	require.Eventually(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.peeks >= 5
	}, waitFor, tick, "the probe keeps trying")
	assert.Equal(t, CauseRefused, w.ServiceBusCause())
	assert.Zero(t, r.receives(), "no receive while every peek fails")
	r.setPeekErr(nil)
	assert.Equal(t, "complete", waitSettled(t, r, "m1").kind, "intake starts once a peek succeeds")
}

// TestFirstProbeRefusedStillStopsRun: a first peek refused for good
// (credentials, queue) releases intake, whose receive then stops Run with
// the FatalError, as without the wait.
func TestFirstProbeRefusedStillStopsRun(t *testing.T) {
	t.Parallel()
	r, g := newFakeReceiver(), newFakeGraph()
	r.setPeekErr(&azservicebus.Error{Code: azservicebus.CodeUnauthorizedAccess})
	r.recvErrs = []error{&azservicebus.Error{Code: azservicebus.CodeUnauthorizedAccess}}
	w, err := New(fastConfig(), Deps{Receiver: r, Graph: g, Logger: testLogger(t)})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	var fe *FatalError
	require.ErrorAs(t, w.Run(ctx), &fe, "Run returns before the test's deadline")
	assert.Equal(t, azservicebus.CodeUnauthorizedAccess, fe.Code)
}
