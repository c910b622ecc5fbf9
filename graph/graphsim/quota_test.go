package graphsim_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/graph/graphsim"
)

// fakeClock is a clock for Options.Now that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestQuotaOverHTTP(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s, c := start(t, graphsim.Options{AppID: "app-1", TenantID: "tenant-1", Now: clock.Now})
	require.NoError(t, s.SetQuota(graphsim.Quota{Rate: 10}))
	s.Script("scripted@contoso.com", graphsim.Response{Status: 404})

	var got []int
	var pct []string
	for i := range 10 {
		res := post(t, s, c, "user"+strconv.Itoa(i%4)+"@contoso.com")
		got = append(got, res.status)
		pct = append(pct, res.header.Get("x-ms-throttle-limit-percentage"))
	}
	assert.Equal(t, []int{200, 200, 200, 200, 200, 200, 200, 200, 200, 200}, got, "a full second's worth at once")
	assert.Equal(t, []string{"", "", "", "", "", "", "", "", "0.90", "1.00"}, pct, "only above 80 %")

	res := post(t, s, c, "scripted@contoso.com")
	require.Equal(t, http.StatusTooManyRequests, res.status)
	assert.Equal(t, "0.2", res.header.Get("Retry-After"), "two tokens short at 10/s: the throttled call is charged")
	assert.Equal(t, "Tenant_Application/Write/app-1/tenant-1", res.header.Get("x-ms-throttle-scope"))
	assert.Equal(t, "WriteLimitExceeded", res.header.Get("x-ms-throttle-information"))
	assert.Empty(t, res.header.Get("x-ms-throttle-limit-percentage"), "never on a 429")
	assert.Equal(t, "TooManyRequests", decodeError(t, res.body).Error.Code)

	res = post(t, s, c, "scripted@contoso.com")
	require.Equal(t, http.StatusTooManyRequests, res.status)
	assert.Equal(t, "0.3", res.header.Get("Retry-After"), "hammering lengthens the throttle")

	clock.Advance(300 * time.Millisecond)
	res = post(t, s, c, "scripted@contoso.com")
	assert.Equal(t, http.StatusNotFound, res.status, "throttled calls did not consume the script")
	assert.Empty(t, res.header.Get("x-ms-throttle-limit-percentage"), "usage is 100 %, but the answer is not a 2xx")

	st := s.QuotaStats()
	assert.Equal(t, graphsim.QuotaStats{Enabled: true, Rate: 10, Burst: 10, Balance: 0,
		Elapsed: 300 * time.Millisecond, Calls: 13, Accepted: 11, Throttled: 2,
		Succeeded: 10, UsersSucceeded: 4}, st)
	assert.Equal(t, map[string]int{"user0@contoso.com": 3, "user1@contoso.com": 3, "user2@contoso.com": 2, "user3@contoso.com": 2},
		s.SuccessesByUser())

	// Removing the quota restarts the counters; successes still count.
	require.NoError(t, s.SetQuota(graphsim.Quota{}))
	assert.Equal(t, []int{200, 200}, answers(t, s, c, "scripted@contoso.com", 2))
	assert.Equal(t, graphsim.QuotaStats{Succeeded: 2, UsersSucceeded: 1}, s.QuotaStats())
}

func TestQuotaIsNotChargedForOutagesAndBadTokens(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s, c := start(t, graphsim.Options{RequireToken: "tok", Now: clock.Now})
	require.NoError(t, s.SetQuota(graphsim.Quota{Rate: 1, Burst: 1}))
	assert.Equal(t, []int{401, 401}, answers(t, s, c, "a@contoso.com", 2))
	s.SetOutage("")
	assert.Equal(t, []int{503}, answers(t, s, c, "a@contoso.com", 1, "Authorization", "Bearer tok"))
	s.EndOutage()
	assert.Equal(t, http.StatusMethodNotAllowed, call(t, c, http.MethodGet, s.URL+betaPath("a@contoso.com")).status)
	assert.Equal(t, []int{200, 429}, answers(t, s, c, "a@contoso.com", 2, "Authorization", "Bearer tok"))
	st := s.QuotaStats()
	assert.Equal(t, int64(2), st.Calls)
	assert.Equal(t, int64(1), st.Throttled)
}

func TestQuotaStepsOverHTTP(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s, c := start(t, graphsim.Options{Now: clock.Now})
	// 40/s, then 20/s from 30 s, then 40/s from 60 s.
	require.NoError(t, s.SetQuota(graphsim.Quota{Rate: 40, Burst: 40,
		Steps: []graphsim.QuotaStep{{At: 30 * time.Second, Rate: 20}, {At: 60 * time.Second, Rate: 40}}}))
	// In each phase: the bucket is full again, the burst goes through,
	// and the first throttled call is told the time to two tokens (its
	// own and the next call's) at the phase's rate.
	for _, phase := range []struct {
		at         time.Duration
		rate       float64
		retryAfter string
	}{{0, 40, "0.05"}, {30 * time.Second, 20, "0.1"}, {60 * time.Second, 40, "0.05"}} {
		clock.Advance(phase.at - s.QuotaStats().Elapsed)
		st := s.QuotaStats()
		require.InDelta(t, phase.rate, st.Rate, 0, "at %v", phase.at)
		require.InDelta(t, 40.0, st.Balance, 1e-9, "at %v", phase.at)
		for i := range 40 {
			require.Equal(t, http.StatusOK, post(t, s, c, "u@contoso.com").status, "call %d at %v", i, phase.at)
		}
		res := post(t, s, c, "u@contoso.com")
		require.Equal(t, http.StatusTooManyRequests, res.status)
		assert.Equal(t, phase.retryAfter, res.header.Get("Retry-After"), "at %v", phase.at)
	}
}

// TestQuotaPunishesCallsMadeWhileThrottled drives the steps with a client
// that offers 50 calls/s and honours Retry-After. Each throttled call
// costs a token, so such a client gets about half of each phase's rate:
// after an accepted call, the next one 20 ms later finds less than a token,
// is throttled and charged, and Retry-After covers both tokens.
func TestQuotaPunishesCallsMadeWhileThrottled(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s, c := start(t, graphsim.Options{Now: clock.Now, MaxRequests: 1})
	require.NoError(t, s.SetQuota(graphsim.Quota{Rate: 40,
		Steps: []graphsim.QuotaStep{{At: 30 * time.Second, Rate: 20}, {At: 60 * time.Second, Rate: 40}}}))
	accepted := map[int]int{} // per 30 s phase
	for i := 0; ; i++ {
		elapsed := s.QuotaStats().Elapsed
		if elapsed >= 90*time.Second {
			break
		}
		res := post(t, s, c, "u"+strconv.Itoa(i%7)+"@contoso.com")
		if res.status == http.StatusOK {
			accepted[int(elapsed/(30*time.Second))]++
			clock.Advance(20 * time.Millisecond)
			continue
		}
		require.Equal(t, http.StatusTooManyRequests, res.status)
		ra, err := time.ParseDuration(res.header.Get("Retry-After") + "s")
		require.NoError(t, err)
		clock.Advance(ra)
	}
	t.Logf("accepted per phase: %v", accepted)
	// Phase 1: the burst of 40 drains in 4 s at a net 10/s (200 calls),
	// then 26 s at 20/s. Phase 2: 30 s at 10/s. Phase 3: 30 s at 20/s.
	assert.InDelta(t, 200+26*20, accepted[0], 30)
	assert.InDelta(t, 30*10, accepted[1], 15)
	assert.InDelta(t, 30*20, accepted[2], 30)
	st := s.QuotaStats()
	assert.Equal(t, st.Calls, st.Accepted+st.Throttled)
	assert.Equal(t, int64(accepted[0]+accepted[1]+accepted[2]), st.Accepted)
	assert.Equal(t, st.Accepted, st.Succeeded)
	assert.Equal(t, int64(7), st.UsersSucceeded)
}

// TestQuotaSharedByWorkers runs several independent clients (as separate
// workers would be) against one simulator: the quota is tenant-wide.
func TestQuotaSharedByWorkers(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s, _ := start(t, graphsim.Options{Now: clock.Now, MaxRequests: 10})
	require.NoError(t, s.SetQuota(graphsim.Quota{Rate: 50, Burst: 50}))
	const workers, goroutines, each = 3, 4, 60
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[int]int{}
	for w := range workers {
		c := &http.Client{Transport: &http.Transport{}} // a worker's own connections
		t.Cleanup(c.CloseIdleConnections)
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					res, err := try(c, http.MethodPost, s.URL+betaPath(userN((w*goroutines+g+i)%20)))
					if !assert.NoError(t, err) {
						return
					}
					mu.Lock()
					counts[res.status]++
					mu.Unlock()
					_ = s.QuotaStats()
				}
			}()
		}
	}
	// Control calls race with the traffic; the clock stays put, so
	// exactly the burst gets through.
	stats := graphsim.Control{URL: s.URL}
	_, err := stats.QuotaStats(context.Background())
	require.NoError(t, err)
	wg.Wait()
	total := workers * goroutines * each
	assert.Equal(t, map[int]int{200: 50, 429: total - 50}, counts)
	st := s.QuotaStats()
	assert.Equal(t, int64(total), st.Calls)
	assert.Equal(t, int64(50), st.Accepted)
	assert.Equal(t, int64(total-50), st.Throttled)
	assert.Equal(t, int64(50), st.Succeeded)
	assert.InDelta(t, -graphsim.QuotaDebtBursts*50.0, st.Balance, 1e-9, "the debt is bounded")
	sum := 0
	for _, n := range s.SuccessesByUser() {
		sum += n
	}
	assert.Equal(t, 50, sum)
	assert.Equal(t, int64(len(s.SuccessesByUser())), st.UsersSucceeded)
}

func TestQuotaControlEndpoint(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s, c := start(t, graphsim.Options{Now: clock.Now, RequireToken: "tok"})
	ctl := graphsim.Control{URL: s.URL + "/", Client: c}
	ctx := context.Background()

	st, err := ctl.SetQuota(ctx, graphsim.Quota{Rate: 2, Burst: 3, Steps: []graphsim.QuotaStep{{At: time.Minute, Rate: 1}}})
	require.NoError(t, err)
	assert.Equal(t, graphsim.QuotaStats{Enabled: true, Rate: 2, Burst: 3, Balance: 3}, st)
	assert.Equal(t, []int{200, 200, 200, 429}, answers(t, s, c, "a@contoso.com", 4, "Authorization", "Bearer tok"))
	clock.Advance(1500 * time.Millisecond)
	st, err = ctl.QuotaStats(ctx)
	require.NoError(t, err)
	assert.Equal(t, graphsim.QuotaStats{Enabled: true, Rate: 2, Burst: 3, Balance: 2, Elapsed: 1500 * time.Millisecond,
		Calls: 4, Accepted: 3, Throttled: 1, Succeeded: 3, UsersSucceeded: 1}, st)

	// The documented JSON field names, read without the Go client.
	res := call(t, c, http.MethodGet, s.URL+graphsim.ControlQuotaPath)
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, "application/json", res.header.Get("Content-Type"))
	var raw map[string]any
	require.NoError(t, json.Unmarshal(res.body, &raw))
	assert.Equal(t, map[string]any{"enabled": true, "rate": 2.0, "burst": 3.0, "balance": 2.0, "elapsed_seconds": 1.5,
		"calls": 4.0, "accepted": 3.0, "throttled": 1.0, "succeeded": 3.0, "users_succeeded": 1.0}, raw)

	// Setting over raw HTTP, in the scenario's form.
	res = call(t, c, http.MethodPost, s.URL+graphsim.ControlQuotaPath)
	assert.Equal(t, http.StatusBadRequest, res.status, "an empty body is not a quota")
	req, err := http.NewRequest(http.MethodPost, s.URL+graphsim.ControlQuotaPath,
		strings.NewReader(`{"rate": 40, "steps": [{"at": "30s", "rate": 20}]}`))
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	st = s.QuotaStats()
	assert.Equal(t, graphsim.QuotaStats{Enabled: true, Rate: 40, Burst: 40, Balance: 40}, st, "counters restart")
	clock.Advance(30 * time.Second)
	assert.InDelta(t, 20.0, s.QuotaStats().Rate, 0)

	// Bad quotas are refused, naming the field, and change nothing.
	_, err = ctl.SetQuota(ctx, graphsim.Quota{Rate: 1, Steps: []graphsim.QuotaStep{{At: time.Second, Rate: -1}}})
	require.ErrorContains(t, err, "steps[0].rate")
	require.ErrorContains(t, err, "400")
	for body, want := range map[string]string{`{"rate":1,"brust":2}`: `unknown field "brust"`, `{"rate":-1}`: "rate -1", `{"rate":1,"steps":[{"at":5,"rate":1}]}`: "duration"} {
		req, err := http.NewRequest(http.MethodPut, s.URL+graphsim.ControlQuotaPath, strings.NewReader(body))
		require.NoError(t, err)
		resp, err := c.Do(req)
		require.NoError(t, err)
		var e graphError
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
		assert.Equal(t, "BadRequest", e.Error.Code)
		assert.Contains(t, e.Error.Message, want, body)
	}
	assert.InDelta(t, 20.0, s.QuotaStats().Rate, 0, "unchanged")

	res = call(t, c, http.MethodDelete, s.URL+graphsim.ControlQuotaPath)
	assert.Equal(t, http.StatusMethodNotAllowed, res.status)
	assert.Contains(t, res.header.Get("Allow"), "GET")
	assert.Len(t, s.Requests(), 4, "control calls are not recorded")
	assert.Equal(t, int64(0), s.QuotaStats().Calls, "nor charged")
}

func TestControlClientErrors(t *testing.T) {
	t.Parallel()
	notSim := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notSim.Close)
	_, err := graphsim.Control{URL: notSim.URL}.QuotaStats(context.Background())
	require.ErrorContains(t, err, "404")

	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<html>")) }))
	t.Cleanup(garbage.Close)
	_, err = graphsim.Control{URL: garbage.URL}.QuotaStats(context.Background())
	require.ErrorContains(t, err, "quota stats")

	_, err = graphsim.Control{URL: "http://127.0.0.1:1"}.QuotaStats(context.Background())
	require.ErrorContains(t, err, "graphsim: control")
	_, err = graphsim.Control{URL: "::bad"}.QuotaStats(context.Background())
	require.ErrorContains(t, err, "graphsim: control")
}

func TestResetForgetsTheQuota(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s, c := start(t, graphsim.Options{Now: clock.Now})
	require.NoError(t, s.SetQuota(graphsim.Quota{Rate: 1}))
	assert.Equal(t, []int{200, 429}, answers(t, s, c, "a@contoso.com", 2))
	s.Reset()
	assert.Equal(t, graphsim.QuotaStats{}, s.QuotaStats())
	assert.Equal(t, []int{200, 200}, answers(t, s, c, "a@contoso.com", 2))
	assert.Equal(t, graphsim.QuotaStats{Succeeded: 2, UsersSucceeded: 1}, s.QuotaStats())
	require.Error(t, s.SetQuota(graphsim.Quota{Rate: 1, Burst: 0.5}))
	assert.False(t, s.QuotaStats().Enabled, "an invalid quota changes nothing")
}

func TestParseQuotaSteps(t *testing.T) {
	t.Parallel()
	got, err := graphsim.ParseQuotaSteps(" 30s=20, 1m=40.5 ,,")
	require.NoError(t, err)
	assert.Equal(t, []graphsim.QuotaStep{{At: 30 * time.Second, Rate: 20}, {At: time.Minute, Rate: 40.5}}, got)
	got, err = graphsim.ParseQuotaSteps("")
	require.NoError(t, err)
	assert.Empty(t, got)
	for in, want := range map[string]string{"30s": "AT=RATE", "30=20": `"30" is not a duration`, "30s=fast": `"fast" is not a number`} {
		_, err := graphsim.ParseQuotaSteps(in)
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), want, in)
	}
}

func FuzzParseQuotaSteps(f *testing.F) {
	f.Add("30s=20,60s=40")
	f.Add("1h=0.5")
	f.Add("=,=")
	f.Fuzz(func(t *testing.T, in string) {
		steps, err := graphsim.ParseQuotaSteps(in)
		if err != nil {
			return
		}
		// What parses writes back and parses to the same steps.
		var parts []string
		for _, st := range steps {
			parts = append(parts, st.At.String()+"="+strconv.FormatFloat(st.Rate, 'g', -1, 64))
		}
		again, err := graphsim.ParseQuotaSteps(strings.Join(parts, ","))
		require.NoError(t, err)
		require.Len(t, again, len(steps))
		for i := range steps {
			require.Equal(t, steps[i].At, again[i].At)
			if steps[i].Rate == steps[i].Rate { // NaN compares unequal
				require.Equal(t, steps[i].Rate, again[i].Rate)
			}
		}
		// Validation never panics on parsed input, and a quota it accepts
		// can be set.
		q := graphsim.Quota{Rate: 1, Steps: steps}
		if q.Validate() == nil {
			s := graphsim.New(graphsim.Options{})
			require.NoError(t, s.SetQuota(q))
			require.NoError(t, s.Close())
		}
	})
}
