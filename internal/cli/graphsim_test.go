package cli

import (
	"context"
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

// graphsimPost calls the beta action for user on a standalone simulator.
func graphsimPost(t *testing.T, c *http.Client, url, user string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/beta/users/"+user+"/cloudLicensing/assignments/reprocessAssignments", nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp
}

func TestGraphsimSubcommandQuotaSettings(t *testing.T) {
	t.Parallel()
	// The scenario's quota is replaced by the settings'; its users stay.
	scenario := filepath.Join(t.TempDir(), "s.json")
	require.NoError(t, os.WriteFile(scenario, []byte(`{"quota":{"rate":1000},"users":[{"id":"gone@contoso.com","forever":{"status":404}}]}`), 0o600))
	env := map[string]string{"LICENSEFIX_GRAPHSIM_QUOTA_RATE": "0.01", "LICENSEFIX_GRAPHSIM_QUOTA_STEPS": "1h=5"}
	url, _, stop := startCommand(t, env, "graphsim", "--listen", "127.0.0.1:0", "--scenario", scenario,
		"--quota-burst", "2", "--latency", "200ms")
	c := &http.Client{}
	t.Cleanup(c.CloseIdleConnections)
	ctl := graphsim.Control{URL: url, Client: c}
	ctx := context.Background()

	st, err := ctl.QuotaStats(ctx)
	require.NoError(t, err)
	assert.True(t, st.Enabled)
	assert.InDelta(t, 0.01, st.Rate, 0)
	assert.InDelta(t, 2.0, st.Burst, 0)

	began := time.Now()
	assert.Equal(t, http.StatusNotFound, graphsimPost(t, c, url, "gone@contoso.com").StatusCode)
	assert.GreaterOrEqual(t, time.Since(began), 200*time.Millisecond, "--latency delays every answer")
	assert.Equal(t, http.StatusOK, graphsimPost(t, c, url, "a@contoso.com").StatusCode)
	resp := graphsimPost(t, c, url, "a@contoso.com")
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	ra, err := strconv.ParseFloat(resp.Header.Get("Retry-After"), 64)
	require.NoError(t, err)
	assert.InDelta(t, 200, ra, 5, "two tokens short at 0.01/s")

	st, err = ctl.QuotaStats(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(3), st.Calls)
	assert.Equal(t, int64(1), st.Throttled)
	assert.Equal(t, int64(1), st.Succeeded)
	assert.Equal(t, int64(1), st.UsersSucceeded)

	// A benchmark restarts the measurement over HTTP.
	st, err = ctl.SetQuota(ctx, graphsim.Quota{Rate: 40})
	require.NoError(t, err)
	assert.Less(t, st.Elapsed, time.Minute)
	st.Elapsed = 0 // real time passes
	assert.Equal(t, graphsim.QuotaStats{Enabled: true, Rate: 40, Burst: 40, Balance: 40}, st)
	c.CloseIdleConnections()
	assert.Equal(t, ExitOK, stop())
}

func TestGraphsimSubcommandKeepsTheScenarioQuota(t *testing.T) {
	t.Parallel()
	scenario := filepath.Join(t.TempDir(), "s.json")
	require.NoError(t, os.WriteFile(scenario, []byte(`{"quota":{"rate":7,"burst":3}}`), 0o600))
	url, _, stop := startCommand(t, nil, "graphsim", "--listen", "127.0.0.1:0", "--scenario", scenario)
	st, err := graphsim.Control{URL: url}.QuotaStats(context.Background())
	require.NoError(t, err)
	assert.InDelta(t, 7.0, st.Rate, 0)
	assert.InDelta(t, 3.0, st.Burst, 0)
	http.DefaultClient.CloseIdleConnections()
	assert.Equal(t, ExitOK, stop())
}

func TestGraphsimSubcommandBadQuotaSettings(t *testing.T) {
	t.Parallel()
	cases := []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"LICENSEFIX_GRAPHSIM_QUOTA_RATE": "fast"}, nil, "LICENSEFIX_GRAPHSIM_QUOTA_RATE"},
		{nil, []string{"--quota-rate", "-1"}, "LICENSEFIX_GRAPHSIM_QUOTA_RATE"},
		{nil, []string{"--quota-rate", "NaN"}, "LICENSEFIX_GRAPHSIM_QUOTA_RATE"},
		{nil, []string{"--quota-rate", "Inf"}, "LICENSEFIX_GRAPHSIM_QUOTA_RATE"},
		{nil, []string{"--quota-burst", "5"}, "LICENSEFIX_GRAPHSIM_QUOTA_RATE (--quota-rate): must be set"},
		{nil, []string{"--quota-steps", "30s=5"}, "LICENSEFIX_GRAPHSIM_QUOTA_RATE (--quota-rate): must be set"},
		{nil, []string{"--quota-rate", "5", "--quota-burst", "0.5"}, "LICENSEFIX_GRAPHSIM_QUOTA_BURST"},
		{map[string]string{"LICENSEFIX_GRAPHSIM_QUOTA_BURST": "-3"}, []string{"--quota-rate", "5"}, "LICENSEFIX_GRAPHSIM_QUOTA_BURST"},
		{nil, []string{"--quota-rate", "5", "--quota-steps", "30s"}, "LICENSEFIX_GRAPHSIM_QUOTA_STEPS"},
		{nil, []string{"--quota-rate", "5", "--quota-steps", "60s=1,30s=2"}, "LICENSEFIX_GRAPHSIM_QUOTA_STEPS (--quota-steps): graphsim: quota: steps[1].at"},
		{map[string]string{"LICENSEFIX_GRAPHSIM_QUOTA_STEPS": "30s=0"}, []string{"--quota-rate", "5"}, "steps[0].rate"},
		{nil, []string{"--latency", "-1s"}, "LICENSEFIX_GRAPHSIM_LATENCY"},
		{map[string]string{"LICENSEFIX_GRAPHSIM_LATENCY": "soon"}, nil, "LICENSEFIX_GRAPHSIM_LATENCY"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			t.Parallel()
			code, _, errOut := runCLI(t, tc.env, append([]string{"graphsim", "--listen", "127.0.0.1:0"}, tc.args...)...)
			assert.Equal(t, ExitUsage, code, errOut)
			assert.Contains(t, errOut, tc.want)
		})
	}
}
