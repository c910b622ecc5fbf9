package graph_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/uuid"
	"github.com/licensefix/licensefix/graph"
	"github.com/licensefix/licensefix/graph/graphsim"
	"github.com/licensefix/licensefix/graph/graphsim/graphsimtest"
	"github.com/licensefix/licensefix/retry"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests run the client against the Graph simulator, the same part the
// worker's tests and `licensefix dev` use.

// countingCredential hands out "tok-1", "tok-2", ...
type countingCredential struct {
	mu    sync.Mutex
	calls int
}

func (c *countingCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	return azcore.AccessToken{Token: fmt.Sprintf("tok-%d", c.calls), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func (c *countingCredential) Calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

func simClient(t *testing.T, sim *graphsim.Server, cfg graph.Config) (*graph.Client, *countingCredential) {
	t.Helper()
	cred := &countingCredential{}
	cfg.RootURL = sim.URL
	if cfg.Auth == "" {
		cfg.Credential = cred
	}
	c, err := graph.New(cfg)
	require.NoError(t, err)
	return c, cred
}

func TestSimulatorPathsAndHeaders(t *testing.T) {
	t.Parallel()
	sim := graphsimtest.NewTestServer(t, graphsim.Options{})
	beta, cred := simClient(t, sim, graph.Config{UserAgent: "licensefix/test"})
	v1, _ := simClient(t, sim, graph.Config{API: graph.APIV1})
	ids := []string{
		graphsim.DemoHealthyUser1, graphsim.DemoUPNUser, graphsim.DemoGuestUser,
		"$dollar@contoso.onmicrosoft.com", "$o'neil@contoso.onmicrosoft.com",
	}
	var results []graph.Result
	for _, id := range ids {
		res, err := beta.Reprocess(context.Background(), id)
		require.NoError(t, err, id)
		results = append(results, res)
	}
	res, err := v1.Reprocess(context.Background(), graphsim.DemoUPNUser)
	require.NoError(t, err)
	results = append(results, res)
	assert.Equal(t, 1, cred.Calls())

	reqs := sim.Requests()
	require.Len(t, reqs, len(ids)+1)
	for i, r := range reqs {
		want := graphsim.DemoUPNUser
		api := graphsim.APIV1
		if i < len(ids) {
			want, api = ids[i], graphsim.APIBeta
		}
		assert.Equal(t, want, r.UserID, "the simulator decodes the id we meant (path %s)", r.Path)
		assert.Equal(t, api, r.API)
		assert.Equal(t, http.MethodPost, r.Method)
		assert.Zero(t, r.BodyLength)
		assert.True(t, r.HasAuthorization)
		assert.Equal(t, results[i].ClientRequestID, r.ClientRequestID)
		_, err := uuid.Parse(r.ClientRequestID)
		assert.NoError(t, err)
		assert.Equal(t, http.StatusOK, results[i].StatusCode)
		assert.NotEmpty(t, results[i].RequestID, "the simulator's request-id is reported")
	}
	assert.Equal(t, "licensefix/test", reqs[0].UserAgent)
	assert.Contains(t, reqs[2].Path, "%23EXT%23")
	assert.True(t, strings.HasPrefix(reqs[3].Path, "/beta/users('$dollar@"), reqs[3].Path)
}

func TestSimulatorFailuresAreClassified(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		resp       graphsim.Response
		class      retry.Class
		status     int
		code       string
		retryAfter time.Duration
	}{
		{"429 fractional Retry-After", graphsim.Response{Status: 429, RetryAfter: "2.128"}, retry.Transient, 429, "TooManyRequests", 2128 * time.Millisecond},
		{"429 large Retry-After", graphsim.Response{Status: 429, RetryAfter: "180"}, retry.Transient, 429, "TooManyRequests", 3 * time.Minute},
		{"429 without request-id in body", graphsim.Response{Status: 429, OmitBodyRequestID: true}, retry.Transient, 429, "TooManyRequests", 0},
		{"503", graphsim.Response{Status: 503, RetryAfter: "5"}, retry.Transient, 503, "", 5 * time.Second},
		{"502 HTML", graphsim.Response{Status: 502, Body: "<html>bad gateway</html>"}, retry.Transient, 502, "", 0},
		{"500", graphsim.Response{Status: 500}, retry.Transient, 500, "", 0},
		{"504", graphsim.Response{Status: 504}, retry.Transient, 504, "", 0},
		{"409 concurrency", graphsim.Response{Status: 409, Code: "Directory_ConcurrencyViolation"}, retry.Transient, 409, "Directory_ConcurrencyViolation", 0},
		{"400", graphsim.Response{Status: 400, Code: "Request_BadRequest"}, retry.Permanent, 400, "Request_BadRequest", 0},
		{"404", graphsim.Response{Status: 404, Code: "Request_ResourceNotFound"}, retry.Permanent, 404, "Request_ResourceNotFound", 0},
		{"405", graphsim.Response{Status: 405}, retry.Permanent, 405, "", 0},
		{"501", graphsim.Response{Status: 501}, retry.Permanent, 501, "", 0},
		{"unknown code", graphsim.Response{Status: 422, Code: "BrandNewCode"}, retry.Permanent, 422, "BrandNewCode", 0},
		{"403", graphsim.Response{Status: 403, Code: "Authorization_RequestDenied"}, retry.Systemic, 403, "Authorization_RequestDenied", 0},
	}
	sim := graphsimtest.NewTestServer(t, graphsim.Options{})
	c, _ := simClient(t, sim, graph.Config{})
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := fmt.Sprintf("user%d@contoso.onmicrosoft.com", i)
			sim.Script(id, tt.resp)
			_, err := c.Reprocess(context.Background(), id)
			var ge *graph.Error
			require.True(t, errors.As(err, &ge), "%v", err)
			assert.Equal(t, tt.class, ge.Class)
			assert.Equal(t, tt.status, ge.StatusCode)
			if tt.code != "" {
				assert.Equal(t, tt.code, ge.Code)
			}
			assert.Equal(t, tt.retryAfter, ge.RetryAfter)
			assert.Equal(t, tt.retryAfter != 0, ge.HasRetryAfter)
			assert.NotEmpty(t, ge.RequestID, "request-id comes from the header when the body lacks it")
			assert.False(t, ge.Date.IsZero())
			assert.Equal(t, 1, sim.Calls(id), "no retries inside the client")

			// The script is used up: the next call succeeds.
			_, err = c.Reprocess(context.Background(), id)
			require.NoError(t, err)
		})
	}
}

func TestSimulatorRefreshOnce(t *testing.T) {
	t.Parallel()
	sim := graphsimtest.NewTestServer(t, graphsim.Options{RequireToken: "tok-1"})
	c, cred := simClient(t, sim, graph.Config{})
	_, err := c.Reprocess(context.Background(), graphsim.DemoUPNUser)
	require.NoError(t, err)

	sim.SetAcceptedTokens("tok-2")
	_, err = c.Reprocess(context.Background(), graphsim.DemoUPNUser)
	require.NoError(t, err, "401 -> refresh -> success")
	assert.Equal(t, 2, cred.Calls())

	sim.SetAcceptedTokens("nobody-has-this")
	_, err = c.Reprocess(context.Background(), graphsim.DemoUPNUser)
	var ge *graph.Error
	require.True(t, errors.As(err, &ge))
	assert.Equal(t, http.StatusUnauthorized, ge.StatusCode)
	assert.Equal(t, retry.Systemic, ge.Class)
	assert.Equal(t, 3, cred.Calls())
	assert.Equal(t, 5, sim.Calls(graphsim.DemoUPNUser), "1 + (401, 200) + (401, 401)")
}

func TestSimulatorTransportFailures(t *testing.T) {
	t.Parallel()
	sim := graphsimtest.NewTestServer(t, graphsim.Options{})
	other := graphsimtest.NewTestServer(t, graphsim.Options{})
	c, _ := simClient(t, sim, graph.Config{Timeout: 100 * time.Millisecond})

	sim.Script("slow@contoso.com", graphsim.Response{Delay: time.Minute})
	_, err := c.Reprocess(context.Background(), "slow@contoso.com")
	assert.ErrorIs(t, err, graph.ErrAttemptTimeout)
	assert.Equal(t, retry.Transient, graph.ClassOf(err))

	sim.Script("reset@contoso.com", graphsim.Response{Reset: true})
	_, err = c.Reprocess(context.Background(), "reset@contoso.com")
	var ge *graph.Error
	require.True(t, errors.As(err, &ge), "%v", err)
	assert.Equal(t, retry.Transient, ge.Class)
	assert.Zero(t, ge.StatusCode)

	sim.Script("moved@contoso.com", graphsim.Response{RedirectTo: other.URL + "/beta/users/moved@contoso.com/cloudLicensing/assignments/reprocessAssignments"})
	_, err = c.Reprocess(context.Background(), "moved@contoso.com")
	assert.ErrorIs(t, err, graph.ErrRedirect)
	assert.Equal(t, retry.Systemic, graph.ClassOf(err))
	assert.Empty(t, other.Requests(), "the redirect is not followed, so no token reaches the other host")
}

func TestSimulatorTenantConditions(t *testing.T) {
	t.Parallel()
	sim := graphsimtest.NewTestServer(t, graphsim.Options{})
	c, _ := simClient(t, sim, graph.Config{})

	sim.SetOutage("7")
	_, err := c.Reprocess(context.Background(), graphsim.DemoUPNUser)
	var ge *graph.Error
	require.True(t, errors.As(err, &ge))
	assert.Equal(t, http.StatusServiceUnavailable, ge.StatusCode)
	assert.Equal(t, 7*time.Second, ge.RetryAfter)
	assert.Equal(t, retry.Transient, ge.Class)
	sim.EndOutage()

	sim.SetTokenBucket(1, time.Minute)
	_, err = c.Reprocess(context.Background(), graphsim.DemoUPNUser)
	require.NoError(t, err)
	_, err = c.Reprocess(context.Background(), graphsim.DemoUPNUser)
	require.True(t, errors.As(err, &ge))
	assert.Equal(t, http.StatusTooManyRequests, ge.StatusCode)
	assert.True(t, ge.HasRetryAfter)
	assert.Positive(t, ge.RetryAfter)
	assert.LessOrEqual(t, ge.RetryAfter, time.Minute)
	assert.Contains(t, ge.ThrottleScope, "Tenant_Application/Write/")
	assert.Equal(t, "WriteLimitExceeded", ge.ThrottleInformation)
	assert.Equal(t, retry.Transient, ge.Class)
}

// TestSimulatorQuotaSignals checks the client reads the quota's signals as
// sent: the usage header on successes, a fractional Retry-After to the
// millisecond and the throttle scope on 429s.
func TestSimulatorQuotaSignals(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	sim := graphsimtest.NewTestServer(t, graphsim.Options{Now: clock})
	c, _ := simClient(t, sim, graph.Config{})
	require.NoError(t, sim.SetQuota(graphsim.Quota{Rate: 8, Burst: 10}))
	var pct []float64
	for range 10 {
		res, err := c.Reprocess(context.Background(), graphsim.DemoUPNUser)
		require.NoError(t, err)
		pct = append(pct, res.ThrottleLimitPercentage)
	}
	assert.Equal(t, []float64{0, 0, 0, 0, 0, 0, 0, 0, 0.9, 1}, pct)
	_, err := c.Reprocess(context.Background(), graphsim.DemoUPNUser)
	var ge *graph.Error
	require.True(t, errors.As(err, &ge))
	assert.Equal(t, http.StatusTooManyRequests, ge.StatusCode)
	assert.True(t, ge.HasRetryAfter)
	assert.Equal(t, 250*time.Millisecond, ge.RetryAfter, "two tokens at 8/s, not rounded to a second")
	assert.Equal(t, "Tenant_Application/Write/"+graphsim.DefaultAppID+"/"+graphsim.DefaultTenantID, ge.ThrottleScope)
	assert.Equal(t, "WriteLimitExceeded", ge.ThrottleInformation)
	assert.Equal(t, retry.Transient, ge.Class)
	mu.Lock()
	now = now.Add(ge.RetryAfter)
	mu.Unlock()
	_, err = c.Reprocess(context.Background(), graphsim.DemoUPNUser)
	require.NoError(t, err, "waiting Retry-After is enough")
	st := sim.QuotaStats()
	assert.Equal(t, int64(12), st.Calls)
	assert.Equal(t, int64(1), st.Throttled)
	assert.Equal(t, int64(11), st.Succeeded)
}
