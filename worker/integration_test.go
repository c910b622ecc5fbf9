package worker_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/licensefix/licensefix/graph/graphsim"
	"github.com/licensefix/licensefix/worker"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func users(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%02d@contoso.com", prefix, i)
	}
	return out
}

func TestIntegrationHappyPath(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	us := users("happy", 20)
	h.sendUsers(us...)
	h.start()
	h.waitCompleted(len(us), 20*time.Second)
	for _, u := range us {
		assert.Equal(t, 1, h.gs.Calls(u), u)
	}
	require.Eventually(t, func() bool { s := h.stats(); return s.Active == 0 && s.Locked == 0 }, 5*time.Second, 10*time.Millisecond)
	h.requireNoDeadLetters()
	assert.EqualValues(t, len(us), h.metric(`licensefix_graph_calls_total{status="200"}`))
	assert.EqualValues(t, len(us), h.metric(`licensefix_graph_call_duration_seconds_count`))
	assert.Zero(t, h.metric("licensefix_messages_in_flight"))
	require.NoError(t, h.stop())
	// One outcome line per message with the documented attributes.
	lines := h.logs.lines("message completed")
	require.Len(t, lines, len(us))
	for _, key := range []string{"message_id", "user_id", "delivery_count", "attempts", "duration", "graph_request_id", "client_request_id", "http_status"} {
		assert.Contains(t, lines[0], key)
	}
	assert.EqualValues(t, 1, lines[0]["delivery_count"])
}

func TestIntegrationDeadLetterReasons(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{config: func(c *worker.Config) {
		c.Retry.MaxElapsed = 500 * time.Millisecond
	}})
	h.gs.Forever("gone@contoso.com", graphsim.Response{Status: 404, Code: "Request_ResourceNotFound"})
	h.gs.Forever("bad@contoso.com", graphsim.Response{Status: 400, Code: "Request_BadRequest"})
	h.gs.Forever("flaky@contoso.com", graphsim.Response{Status: 503})
	h.sendRaw("m-invalid", `{"userId": 42}`)
	h.sendUsers("gone@contoso.com", "bad@contoso.com", "flaky@contoso.com")
	healthy := users("healthy", 10)
	h.sendUsers(healthy[:5]...)
	h.start()
	// Healthy traffic keeps flowing while the flaky user spends its budget.
	time.Sleep(100 * time.Millisecond)
	h.sendUsers(healthy[5:]...)
	h.waitCompleted(len(healthy), 20*time.Second)

	dl := h.receiveAll(azservicebus.SubQueueDeadLetter, 4, 20*time.Second)
	require.Len(t, dl, 4)
	byID := map[string]*azservicebus.ReceivedMessage{}
	for _, m := range dl {
		byID[m.MessageID] = m
	}
	check := func(id string, reason worker.Reason, status int, code string, attempts int) {
		t.Helper()
		m := byID[id]
		require.NotNil(t, m, id)
		require.NotNil(t, m.DeadLetterReason)
		assert.Equal(t, string(reason), *m.DeadLetterReason)
		p := m.ApplicationProperties
		assert.Equal(t, string(reason), p[worker.PropReason])
		assert.EqualValues(t, attempts, p[worker.PropAttempts])
		at, ok := p[worker.PropDeadLetteredAt].(string)
		require.True(t, ok)
		_, err := time.Parse(time.RFC3339, at)
		assert.NoError(t, err)
		require.NotNil(t, m.DeadLetterErrorDescription)
		desc := *m.DeadLetterErrorDescription
		assert.Contains(t, desc, fmt.Sprintf("attempts=%d", attempts))
		if status == 0 {
			return
		}
		assert.EqualValues(t, status, p[worker.PropHTTPStatus])
		assert.Equal(t, code, p[worker.PropGraphErrorCode])
		assert.NotEmpty(t, p[worker.PropGraphRequestID])
		assert.NotEmpty(t, p[worker.PropClientRequestID])
		assert.Equal(t, id[len("m-"):], p[worker.PropUserID])
		assert.Contains(t, desc, fmt.Sprintf("http_status=%d", status))
		assert.Contains(t, desc, code)
		assert.Contains(t, desc, "request-id="+p[worker.PropGraphRequestID].(string))
		assert.Contains(t, desc, "client-request-id="+p[worker.PropClientRequestID].(string))
	}
	check("m-invalid", worker.ReasonInvalidMessage, 0, "", 0)
	assert.Equal(t, "userId", byID["m-invalid"].ApplicationProperties[worker.PropInvalidField])
	assert.NotContains(t, byID["m-invalid"].ApplicationProperties, worker.PropUserID)
	check("m-gone@contoso.com", worker.ReasonUserNotFound, 404, "Request_ResourceNotFound", 1)
	check("m-bad@contoso.com", worker.ReasonGraphRejected, 400, "Request_BadRequest", 1)
	flakyCalls := h.gs.Calls("flaky@contoso.com")
	assert.Greater(t, flakyCalls, 1)
	check("m-flaky@contoso.com", worker.ReasonRetriesExhausted, 503, graphsim.DefaultCode(503), flakyCalls)
	assert.Equal(t, 1, h.gs.Calls("gone@contoso.com"))
	assert.Equal(t, 1, h.gs.Calls("bad@contoso.com"))
	for _, r := range []worker.Reason{worker.ReasonInvalidMessage, worker.ReasonUserNotFound, worker.ReasonGraphRejected, worker.ReasonRetriesExhausted} {
		assert.EqualValues(t, 1, h.metric(deadLetteredSample(r)), r)
	}
}

func TestIntegrationTransientThenSuccess(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.gs.Script("throttled@contoso.com", graphsim.Response{Status: 429, RetryAfter: "0.2"})
	h.gs.Script("unavailable@contoso.com", graphsim.Response{Status: 503}, graphsim.Response{Status: 503})
	h.gs.Script("conflict@contoso.com", graphsim.Response{Status: 409, Code: "Directory_ConcurrencyViolation"})
	h.sendUsers("throttled@contoso.com", "unavailable@contoso.com", "conflict@contoso.com")
	h.start()
	h.waitCompleted(3, 20*time.Second)
	assert.Equal(t, 2, h.gs.Calls("throttled@contoso.com"))
	assert.Equal(t, 3, h.gs.Calls("unavailable@contoso.com"))
	assert.Equal(t, 2, h.gs.Calls("conflict@contoso.com"))
	assert.EqualValues(t, 4, h.metric("licensefix_retries_total"))
	h.requireNoDeadLetters()
}

func TestIntegrationRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.gs.Script("first@contoso.com", graphsim.Response{Status: 429, RetryAfter: "1"})
	h.sendUsers("first@contoso.com")
	h.start()
	require.Eventually(t, func() bool { return h.gs.Calls("first@contoso.com") == 1 }, 10*time.Second, 5*time.Millisecond)
	others := users("other", 5)
	h.sendUsers(others...)
	h.waitCompleted(1+len(others), 20*time.Second)
	reqs := h.gs.Requests()
	require.NotEmpty(t, reqs)
	throttledAt := reqs[0].Time
	require.Equal(t, "first@contoso.com", reqs[0].UserID)
	for _, r := range reqs[1:] {
		assert.GreaterOrEqual(t, r.Time.Sub(throttledAt), time.Second, "call for %s made before Retry-After elapsed", r.UserID)
	}
	assert.Len(t, reqs, 2+len(others))
}

func TestIntegrationRetriesSpanLockDurations(t *testing.T) {
	t.Parallel()
	lock := 2 * time.Second
	h := newHarness(t, harnessOptions{lockDuration: lock})
	// Three 503s each asking for two seconds: three lock durations of retrying.
	r := graphsim.Response{Status: 503, RetryAfter: "2"}
	h.gs.Script("slow@contoso.com", r, r, r)
	h.sendUsers("slow@contoso.com")
	h.start()
	h.waitCompleted(1, 30*time.Second)
	assert.Equal(t, 4, h.gs.Calls("slow@contoso.com"), "no redelivery: exactly the scripted calls")
	assert.GreaterOrEqual(t, h.metric("licensefix_lock_renewals_total"), 3.0)
	assert.Zero(t, h.metric("licensefix_lock_losses_total"))
	require.NoError(t, h.stop())
	lines := h.logs.lines("message completed")
	require.Len(t, lines, 1)
	assert.EqualValues(t, 1, lines[0]["delivery_count"])
	assert.EqualValues(t, 4, lines[0]["attempts"])
	h.requireNoDeadLetters()
}

func TestIntegrationOutage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{config: func(c *worker.Config) {
		c.BreakerThreshold = 3
		c.Retry.MaxElapsed = 300 * time.Millisecond // far shorter than the outage
	}})
	h.gs.SetOutage("")
	us := users("outage", 6)
	h.sendUsers(us...)
	h.start()
	require.Eventually(t, func() bool { _, why := h.w.Ready(); return why == worker.ReadyReasonOutage }, 10*time.Second, 5*time.Millisecond)
	assert.EqualValues(t, 1, h.metric("licensefix_breaker_open"))
	// Let the outage outlast every budget several times over.
	time.Sleep(1500 * time.Millisecond)
	assert.Zero(t, h.metric(completedSample()))
	for _, r := range worker.Reasons() {
		assert.Zero(t, h.metric(deadLetteredSample(r)))
	}
	calls := len(h.gs.Requests())
	assert.Less(t, calls, 40, "one probe at a time while the breaker is open")
	h.gs.EndOutage()
	h.waitCompleted(len(us), 20*time.Second)
	ok, _ := h.w.Ready()
	assert.True(t, ok)
	assert.Greater(t, h.metric("licensefix_paused_seconds_total"), 1.0)
	h.requireNoDeadLetters()
}

func TestIntegrationPermissionMissing(t *testing.T) {
	t.Parallel()
	lock := 2 * time.Second
	h := newHarness(t, harnessOptions{lockDuration: lock})
	h.gs.SetDefault(graphsim.Response{Status: 403, Code: "Authorization_RequestDenied"})
	us := users("denied", 3)
	h.sendUsers(us...)
	h.start()
	srv := httptest.NewServer(h.w.Handler())
	defer srv.Close()
	require.Eventually(t, func() bool { _, why := h.w.Ready(); return why == worker.ReadyReasonPermissionMissing }, 10*time.Second, 5*time.Millisecond)
	resp, err := http.Get(srv.URL + "/readyz")
	require.NoError(t, err)
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, map[string]any{"ready": false, "reason": "graph_permission_missing"}, body)

	// Held past a lock duration: what the worker took before the pause is
	// still locked by us (renewed); what it had not taken stays in the
	// queue (intake takes nothing while paused, and the SDK releases what a
	// receive cancelled by the pause had prefetched); nothing is
	// dead-lettered.
	time.Sleep(lock + lock/2)
	s := h.stats()
	assert.Positive(t, s.Locked, "the message held is still locked after a lock duration")
	assert.Equal(t, len(us), s.Active+s.Locked)
	assert.Positive(t, h.metric("licensefix_lock_renewals_total"))
	assert.Zero(t, h.metric(completedSample()))
	for _, r := range worker.Reasons() {
		assert.Zero(t, h.metric(deadLetteredSample(r)))
	}
	logged := h.logs.lines("graph permission missing; intake paused until a probe call succeeds")
	require.Len(t, logged, 1)
	assert.Equal(t, "CloudLicensing.AssignLicenses.Organization", logged[0]["missing_permission"])

	h.gs.SetDefault(graphsim.Response{}) // the permission is granted
	h.waitCompleted(len(us), 20*time.Second)
	ok, _ := h.w.Ready()
	assert.True(t, ok)
	h.requireNoDeadLetters()
}

func TestIntegrationShutdownMidFlight(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{config: func(c *worker.Config) {
		c.ShutdownTimeout = time.Second
		c.Retry.InitialInterval = 5 * time.Second
		c.Retry.MaxInterval = 5 * time.Second
	}})
	quick := users("quick", 3)
	stuck := users("stuck", 3)
	waiting := users("waiting", 2)
	for _, u := range quick {
		h.gs.Script(u, graphsim.Response{Delay: 300 * time.Millisecond})
	}
	for _, u := range stuck {
		h.gs.Script(u, graphsim.Response{Delay: time.Minute})
	}
	for _, u := range waiting {
		h.gs.Script(u, graphsim.Response{Status: 503})
	}
	all := append(append(append([]string(nil), quick...), stuck...), waiting...)
	h.sendUsers(all...)
	h.start()
	require.Eventually(t, func() bool { return len(h.gs.Requests()) == len(all) }, 10*time.Second, 5*time.Millisecond)
	start := time.Now()
	require.NoError(t, h.stop())
	assert.Less(t, time.Since(start), 5*time.Second)

	// The quick calls finished within the shutdown timeout and completed;
	// everything else is back in the queue at once (abandoned), none lost.
	assert.EqualValues(t, len(quick), h.metric(completedSample()))
	back := h.receiveAll(azservicebus.SubQueue(0), len(stuck)+len(waiting), 10*time.Second)
	var ids []string
	for _, m := range back {
		ids = append(ids, m.MessageID)
		assert.EqualValues(t, 2, m.DeliveryCount, "abandoned, not expired")
	}
	var want []string
	for _, u := range append(append([]string(nil), stuck...), waiting...) {
		want = append(want, "m-"+u)
	}
	assert.ElementsMatch(t, want, ids)
	h.requireNoDeadLetters()
}
