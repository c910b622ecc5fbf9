package graphsim_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/graph/graphsim"
)

func TestDemoScenarioOverHTTP(t *testing.T) {
	t.Parallel()
	s, c := start(t, graphsim.Options{})
	s.Forever("leftover@contoso.com", graphsim.Response{Status: 500})
	s.LoadScenario(graphsim.DemoScenario())

	for _, id := range []string{graphsim.DemoHealthyUser1, graphsim.DemoHealthyUser2, graphsim.DemoHealthyUser3,
		graphsim.DemoUPNUser, graphsim.DemoGuestUser, "leftover@contoso.com"} {
		assert.Equal(t, []int{200, 200}, answers(t, s, c, id, 2), id)
	}
	var ras []string
	for range 3 {
		res := post(t, s, c, graphsim.DemoThrottledUser)
		ras = append(ras, res.header.Get("Retry-After"))
		if res.status == http.StatusTooManyRequests {
			assert.Equal(t, "WriteLimitExceeded", res.header.Get("x-ms-throttle-information"))
			assert.Contains(t, res.header.Get("x-ms-throttle-scope"), "Tenant_Application/Write/")
		}
	}
	assert.Equal(t, []string{"1", "1", ""}, ras)
	assert.Equal(t, 3, s.Calls(graphsim.DemoThrottledUser))
	assert.Equal(t, []int{503, 503, 200}, answers(t, s, c, graphsim.DemoFlakyUser, 3))
	assert.Equal(t, []int{404, 404, 404}, answers(t, s, c, graphsim.DemoUnknownUser, 3))
	assert.Equal(t, []int{400, 400}, answers(t, s, c, graphsim.DemoRejectedUser, 2))
	assert.Len(t, graphsim.DemoUsers(), 9)
	// The guest's '#' arrived encoded and decoded to the full id.
	for _, r := range s.Requests() {
		if r.UserID == graphsim.DemoGuestUser {
			assert.Contains(t, r.Path, "%23EXT%23")
		}
	}
}

func TestDemoScenarioIDsAreLicensefixUserIDs(t *testing.T) {
	t.Parallel()
	// Every id is a GUID or a userPrincipalName with one '@' and a dotted domain.
	for _, id := range graphsim.DemoUsers() {
		assert.Regexp(t, `^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[^@\s]+@[a-z0-9-]+(\.[a-z0-9-]+)+)$`, id)
	}
}

func TestScenarioJSONRoundTrip(t *testing.T) {
	t.Parallel()
	sc := graphsim.DemoScenario()
	sc.Default = &graphsim.Response{Status: 204, Header: http.Header{"X-Multi": {"a", "b"}}}
	sc.TokenBucket = &graphsim.BucketSetting{Writes: 3000, Window: 150 * time.Second}
	sc.Quota = &graphsim.Quota{Rate: 40, Burst: 80, Steps: []graphsim.QuotaStep{{At: 30 * time.Second, Rate: 20}, {At: time.Minute, Rate: 40.5}}}
	sc.Latency = 20 * time.Millisecond
	sc.Users = append(sc.Users, graphsim.UserScript{ID: "slow@contoso.com", Responses: []graphsim.Response{
		{Delay: 1500 * time.Millisecond, Reset: true},
		{RedirectTo: "https://example.invalid/x", Body: "<html/>", OmitBodyRequestID: true, Code: "C"},
	}})
	data, err := json.Marshal(sc)
	require.NoError(t, err)
	got, err := graphsim.ParseScenario(data)
	require.NoError(t, err)
	assert.Equal(t, sc, got)
}

func TestCommittedDemoScenarioFileMatchesDemoScenario(t *testing.T) {
	t.Parallel()
	got, err := graphsim.LoadScenarioFile(filepath.Join("testdata", "demo-scenario.json"))
	require.NoError(t, err)
	assert.Equal(t, graphsim.DemoScenario(), got)
}

func TestLoadScenarioFileErrors(t *testing.T) {
	t.Parallel()
	_, err := graphsim.LoadScenarioFile(filepath.Join(t.TempDir(), "missing.json"))
	require.ErrorIs(t, err, os.ErrNotExist)

	p := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(p, []byte(`{"usres":[]}`), 0o600))
	_, err = graphsim.LoadScenarioFile(p)
	require.ErrorContains(t, err, `"usres"`)
	require.ErrorContains(t, err, p)
}

func TestParseScenarioRejects(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ in, want string }{
		"unknown top field":      {`{"nmae":"x"}`, `unknown field "nmae"`},
		"unknown response field": {`{"users":[{"id":"a@b.co","responses":[{"stauts":429}]}]}`, `unknown field "stauts"`},
		"unknown bucket field":   {`{"token_bucket":{"writes":1,"window":"1s","burst":2}}`, `unknown field "burst"`},
		"bad duration":           {`{"latency":"soon"}`, `"soon"`},
		"numeric duration":       {`{"latency":5}`, `duration must be a string`},
		"negative latency":       {`{"latency":"-1s"}`, `latency`},
		"status":                 {`{"default":{"status":99}}`, `default.status 99`},
		"negative delay":         {`{"users":[{"id":"a@b.co","forever":{"delay":"-1s"}}]}`, `users[0].forever.delay`},
		"empty id":               {`{"users":[{"responses":[]}]}`, `users[0].id is empty`},
		"duplicate id":           {`{"users":[{"id":"a@b.co"},{"id":"A@B.co"}]}`, `users[1].id "A@B.co" appears twice`},
		"window":                 {`{"token_bucket":{"writes":5}}`, `token_bucket.window`},
		"unknown quota field":    {`{"quota":{"rate":1,"brust":2}}`, `unknown field "brust"`},
		"unknown step field":     {`{"quota":{"rate":1,"steps":[{"at":"1s","rate":1,"x":1}]}}`, `unknown field "x"`},
		"quota rate":             {`{"quota":{"rate":-5}}`, `quota.rate -5`},
		"quota rate missing":     {`{"quota":{"burst":5}}`, `quota.rate must be positive`},
		"quota burst":            {`{"quota":{"rate":5,"burst":0.5}}`, `quota.burst 0.5`},
		"quota step at":          {`{"quota":{"rate":5,"steps":[{"at":"0s","rate":1}]}}`, `quota.steps[0].at`},
		"quota step order":       {`{"quota":{"rate":5,"steps":[{"at":"2s","rate":1},{"at":"1s","rate":1}]}}`, `quota.steps[1].at 1s must be after steps[0].at 2s`},
		"quota step rate":        {`{"quota":{"rate":5,"steps":[{"at":"1s","rate":0}]}}`, `quota.steps[0].rate`},
		"quota step duration":    {`{"quota":{"rate":5,"steps":[{"at":"soon","rate":1}]}}`, `"soon"`},
		"relative redirect":      {`{"users":[{"id":"a@b.co","responses":[{"redirect_to":"/x"}]}]}`, `users[0].responses[0].redirect_to`},
		"header value":           {`{"default":{"header":{"X":5}}}`, `header value`},
		"trailing data":          {`{} {}`, `data after`},
		"not an object":          {`[]`, `scenario`},
		"empty":                  {``, `scenario`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := graphsim.ParseScenario([]byte(tc.in))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestParseScenarioHeaderForms(t *testing.T) {
	t.Parallel()
	sc, err := graphsim.ParseScenario([]byte(`{"default":{"status":429,"retry_after":"2.128","header":{"x-ms-throttle-scope":"Tenant/Write/a/b","x-multi":["1","2"]}}}`))
	require.NoError(t, err)
	require.NotNil(t, sc.Default)
	assert.Equal(t, "2.128", sc.Default.RetryAfter)
	assert.Equal(t, "Tenant/Write/a/b", sc.Default.Header.Get("x-ms-throttle-scope"))
	assert.Equal(t, []string{"1", "2"}, sc.Default.Header.Values("x-multi"))
}

func TestLoadScenarioAppliesTenantSettings(t *testing.T) {
	t.Parallel()
	s, c := start(t, graphsim.Options{})
	sc, err := graphsim.ParseScenario([]byte(`{
		"default": {"status": 202},
		"token_bucket": {"writes": 2, "window": "1h"},
		"latency": "1ms",
		"users": [{"id": "a@contoso.com", "forever": {"status": 404}, "responses": [{"status": 503}]}]
	}`))
	require.NoError(t, err)
	s.LoadScenario(sc)
	assert.Equal(t, []int{503, 404, 429}, answers(t, s, c, "a@contoso.com", 3))
	s.LoadScenario(graphsim.Scenario{Default: &graphsim.Response{Status: 202}})
	assert.Equal(t, []int{202, 202, 202}, answers(t, s, c, "b@contoso.com", 3), "loading resets the bucket")

	// A quota: far too slow to refill during the test, so the third call
	// is throttled with about 2 tokens / 0.001 per s to wait.
	sc, err = graphsim.ParseScenario([]byte(`{"quota": {"rate": 0.001, "burst": 2, "steps": [{"at": "1h", "rate": 5}]}}`))
	require.NoError(t, err)
	s.LoadScenario(sc)
	st := s.QuotaStats()
	assert.True(t, st.Enabled)
	assert.InDelta(t, 2.0, st.Burst, 0)
	res := post(t, s, c, "c@contoso.com")
	assert.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, []int{200, 429}, answers(t, s, c, "c@contoso.com", 2))
	ra, err := strconv.ParseFloat(post(t, s, c, "c@contoso.com").header.Get("Retry-After"), 64)
	require.NoError(t, err)
	assert.InDelta(t, 3000, ra, 10, "three tokens short at 0.001/s")
	assert.Equal(t, int64(4), s.QuotaStats().Calls)

	// LoadScenario does not validate: an invalid quota is left out.
	s.LoadScenario(graphsim.Scenario{Quota: &graphsim.Quota{Rate: -1}})
	assert.False(t, s.QuotaStats().Enabled)
}

func FuzzParseScenario(f *testing.F) {
	demo, err := json.Marshal(graphsim.DemoScenario())
	require.NoError(f, err)
	f.Add(demo)
	f.Add([]byte(`{"users":[{"id":"a@b.co","responses":[{"status":429,"retry_after":"1","header":{"x":["1","2"]}}]}]}`))
	f.Add([]byte(`{"latency":"1s","token_bucket":{"writes":1,"window":"1s"}}`))
	f.Add([]byte(`{"quota":{"rate":40,"burst":40,"steps":[{"at":"30s","rate":20},{"at":"60s","rate":40}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := graphsim.ParseScenario(data)
		if err != nil {
			return
		}
		// Whatever parses re-encodes to an equal scenario and can be loaded.
		again, err := json.Marshal(sc)
		require.NoError(t, err)
		sc2, err := graphsim.ParseScenario(again)
		require.NoError(t, err, "re-encoded %s", again)
		require.Equal(t, normalize(sc), normalize(sc2))
		s := graphsim.New(graphsim.Options{})
		s.LoadScenario(sc)
		require.NoError(t, s.Close())
	})
}

// normalize maps empty slices and headers to nil so a JSON round trip
// compares equal.
func normalize(sc graphsim.Scenario) graphsim.Scenario {
	fix := func(r graphsim.Response) graphsim.Response {
		if len(r.Header) == 0 {
			r.Header = nil
		}
		return r
	}
	if sc.Default != nil {
		d := fix(*sc.Default)
		sc.Default = &d
	}
	var users []graphsim.UserScript
	for _, u := range sc.Users {
		var rs []graphsim.Response
		for _, r := range u.Responses {
			rs = append(rs, fix(r))
		}
		u.Responses = rs
		if u.Forever != nil {
			f := fix(*u.Forever)
			u.Forever = &f
		}
		users = append(users, u)
	}
	sc.Users = users
	return sc
}
