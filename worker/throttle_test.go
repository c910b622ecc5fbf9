package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestThrottlingNeverDeadLettersNorSpendsTheBudget(t *testing.T) {
	t.Parallel()
	r, g := newFakeReceiver(), newFakeGraph()
	throttled := answer{status: 429, code: "TooManyRequests", retryAfter: 5 * time.Millisecond}
	for _, u := range []string{"a", "b", "c", "d", "e"} {
		for range 8 {
			g.script(u+"@contoso.com", throttled)
		}
		r.addUser(u, u+"@contoso.com")
	}
	cfg := fastConfig()
	cfg.BreakerThreshold = 2
	cfg.Retry.MaxElapsed = time.Millisecond // a budget that one backoff would spend
	w, _ := runFake(t, cfg, r, g)
	for _, u := range []string{"a", "b", "c", "d", "e"} {
		s := waitSettled(t, r, u)
		assert.Equal(t, "complete", s.kind, u)
		assert.Equal(t, 9, g.count(u+"@contoso.com"), u)
	}
	assert.Equal(t, 40.0, metricValue(t, w, "licensefix_graph_throttled_total"))
	assert.Equal(t, 0.0, metricValue(t, w, "licensefix_breaker_open"))
	assert.Equal(t, 40.0, metricValue(t, w, `licensefix_graph_calls_total{status="429"}`))
	assert.NotContains(t, scrape(t, w), `outcome="dead_lettered"`)
}

func TestThrottledForLongTheLockIsRenewed(t *testing.T) {
	t.Parallel()
	r, g := newFakeReceiver(), newFakeGraph()
	r.lockDur = 300 * time.Millisecond
	for range 20 {
		g.script("u@contoso.com", answer{status: 429, retryAfter: 50 * time.Millisecond})
	}
	r.addUser("m", "u@contoso.com")
	cfg := fastConfig()
	cfg.Retry.MaxElapsed = 10 * time.Millisecond
	runFake(t, cfg, r, g)
	s := waitSettled(t, r, "m")
	assert.Equal(t, "complete", s.kind)
	assert.GreaterOrEqual(t, s.renewed, 2, "a second of throttling spans several locks")
}

func TestIntakeTakesNothingDuringARetryAfter(t *testing.T) {
	t.Parallel()
	r, g := newFakeReceiver(), newFakeGraph()
	g.script("first@contoso.com", answer{status: 429, retryAfter: 600 * time.Millisecond})
	r.addUser("first", "first@contoso.com")
	w, _ := runFake(t, fastConfig(), r, g)
	require.Eventually(t, func() bool { return g.count("first@contoso.com") == 1 }, 5*time.Second, time.Millisecond)
	time.Sleep(50 * time.Millisecond) // the 429 is being handled
	r.addUser("second", "second@contoso.com")
	time.Sleep(300 * time.Millisecond)
	r.mu.Lock()
	handed := r.handed
	r.mu.Unlock()
	assert.Equal(t, 1, handed, "no message taken while the Retry-After holds")
	assert.Equal(t, 1.0, metricValue(t, w, "licensefix_graph_throttle_hold"))
	assert.Equal(t, "complete", waitSettled(t, r, "second").kind)
	assert.Equal(t, "complete", waitSettled(t, r, "first").kind)
}

// jsonLog captures JSON log lines.
type jsonLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *jsonLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *jsonLog) lines(msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(l.buf.Bytes(), []byte("\n")) {
		var m map[string]any
		if json.Unmarshal(line, &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// metricValue returns the value of one sample line of w's /metrics, or -1.
func metricValue(t *testing.T, w *Worker, sample string) float64 {
	t.Helper()
	for _, line := range strings.Split(scrape(t, w), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err)
			return f
		}
	}
	return -1
}

// runLogged runs a worker over fakes with JSON logs captured.
func runLogged(t *testing.T, cfg Config, r *fakeReceiver, g *fakeGraph) (*Worker, *jsonLog, func()) {
	logs := &jsonLog{}
	w, err := New(cfg, Deps{Receiver: r, Graph: g, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	stop := func() {
		cancel()
		require.NoError(t, <-done)
	}
	return w, logs, stop
}

func TestWaitingMessagesForOneUserShareOneCall(t *testing.T) {
	t.Parallel()
	r, g := newFakeReceiver(), newFakeGraph()
	g.setDefault(answer{delay: 300 * time.Millisecond})
	// m0 is taken alone (the worker learns the lock duration from it) and
	// its call is in flight while m1..m3 arrive together: they wait, and
	// the one next call covers all three.
	for _, id := range []string{"m0", "m1", "m2", "m3"} {
		r.addUser(id, "u@contoso.com")
	}
	w, logs, stop := runLogged(t, fastConfig(), r, g)
	for _, id := range []string{"m0", "m1", "m2", "m3"} {
		assert.Equal(t, "complete", waitSettled(t, r, id).kind)
	}
	// How many joined m0's call before it was sent depends on scheduling
	// (the coalescer's own tests pin each case); whatever the split, four
	// messages take at most two calls, each call completes one message and
	// the others name the call that covered them.
	calls := g.count("u@contoso.com")
	require.Contains(t, []int{1, 2}, calls)
	assert.Equal(t, float64(calls), metricValue(t, w, `licensefix_messages_total{outcome="completed",reason=""}`))
	assert.Equal(t, float64(4-calls), metricValue(t, w, `licensefix_messages_total{outcome="coalesced",reason=""}`))
	stop()
	coalesced := logs.lines("message coalesced")
	require.Len(t, coalesced, 4-calls)
	made := []any{}
	for i := 1; i <= calls; i++ {
		made = append(made, fmt.Sprintf("client-u@contoso.com-%d", i))
	}
	for _, l := range coalesced {
		assert.Contains(t, made, l["client_request_id"], "names the call that covered it")
	}
}

func TestMessagesArrivingDuringTheCallWaitForTheNext(t *testing.T) {
	t.Parallel()
	r, g := newFakeReceiver(), newFakeGraph()
	g.setDefault(answer{delay: 200 * time.Millisecond})
	r.addUser("m1", "u@contoso.com")
	w, logs, stop := runLogged(t, fastConfig(), r, g)
	require.Eventually(t, func() bool { return g.count("u@contoso.com") == 1 }, 5*time.Second, time.Millisecond)
	// The call in flight may predate these messages' fix.
	r.addUser("m2", "u@contoso.com")
	r.addUser("m3", "u@contoso.com")
	for _, id := range []string{"m1", "m2", "m3"} {
		assert.Equal(t, "complete", waitSettled(t, r, id).kind)
	}
	assert.Equal(t, 2, g.count("u@contoso.com"))
	assert.Equal(t, 2.0, metricValue(t, w, `licensefix_messages_total{outcome="completed",reason=""}`))
	assert.Equal(t, 1.0, metricValue(t, w, `licensefix_messages_total{outcome="coalesced",reason=""}`))
	stop()
	coalesced := logs.lines("message coalesced")
	require.Len(t, coalesced, 1)
	assert.Equal(t, "client-u@contoso.com-2", coalesced[0]["client_request_id"])
}

func TestTenantGuard(t *testing.T) {
	t.Parallel()
	const ours, theirs = "72f988bf-86f1-41af-91ab-2d7cd011db47", "11111111-2222-3333-4444-555555555555"
	r, g := newFakeReceiver(), newFakeGraph()
	r.add("other", `{"userId":"a@contoso.com","tenantId":"`+theirs+`"}`)
	r.add("same", `{"userId":"b@contoso.com","tenantId":"`+strings.ToUpper(ours)+`"}`)
	r.add("none", `{"userId":"c@contoso.com"}`)
	cfg := fastConfig()
	cfg.TenantID = ours
	runFake(t, cfg, r, g)
	s := waitSettled(t, r, "other")
	assert.Equal(t, "deadletter", s.kind)
	assert.Equal(t, string(ReasonInvalidMessage), s.reason)
	assert.Equal(t, "tenantId", s.props[PropInvalidField])
	assert.Contains(t, s.desc, theirs)
	assert.Contains(t, s.desc, ours)
	assert.Zero(t, g.count("a@contoso.com"), "no Graph call for another tenant's user")
	assert.Equal(t, "complete", waitSettled(t, r, "same").kind, "tenant ids compare case-insensitively")
	assert.Equal(t, "complete", waitSettled(t, r, "none").kind, "no tenantId means the worker's tenant")

	// A worker that does not know its tenant checks nothing.
	r2, g2 := newFakeReceiver(), newFakeGraph()
	r2.add("other", `{"userId":"a@contoso.com","tenantId":"`+theirs+`"}`)
	runFake(t, fastConfig(), r2, g2)
	assert.Equal(t, "complete", waitSettled(t, r2, "other").kind)
}
