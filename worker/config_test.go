package worker

import (
	"errors"
	"testing"
	"time"

	"github.com/licensefix/licensefix/graph"
	"github.com/licensefix/licensefix/retry"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c := Config{}.WithDefaults()
	require.NoError(t, c.Validate())
	assert.Equal(t, 16, c.Concurrency)
	assert.Equal(t, 25*time.Second, c.ShutdownTimeout)
	assert.Equal(t, retry.DefaultPolicy(), c.Retry)
	assert.Equal(t, 5, c.BreakerThreshold)
	assert.Equal(t, 30*time.Second, c.ProbeInterval)
	assert.Equal(t, 5*time.Second, c.BreakerProbeInterval)
	assert.Equal(t, graph.APIBeta, c.GraphAPI)
	assert.Equal(t, 10*time.Second, c.ReceiveWait)
}

func TestConfigValidateNamesSetting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		setting string
		mutate  func(*Config)
	}{
		{EnvConcurrency, func(c *Config) { c.Concurrency = -1 }},
		{EnvConcurrency, func(c *Config) { c.Concurrency = 5001 }},
		{EnvShutdownTimeout, func(c *Config) { c.ShutdownTimeout = -time.Second }},
		{EnvRetryInitialInterval, func(c *Config) { c.Retry.InitialInterval = -1 }},
		{EnvRetryMaxInterval, func(c *Config) { c.Retry.MaxInterval = time.Millisecond }},
		{EnvMaxRetryDuration, func(c *Config) { c.Retry.MaxElapsed = -1 }},
		{EnvBreakerThreshold, func(c *Config) { c.BreakerThreshold = -3 }},
		{EnvBreakerProbeInterval, func(c *Config) { c.BreakerProbeInterval = -1 }},
		{EnvProbeInterval, func(c *Config) { c.ProbeInterval = -1 }},
		{EnvGraphAPI, func(c *Config) { c.GraphAPI = "v2" }},
		{EnvReceiveWait, func(c *Config) { c.ReceiveWait = -1 }},
	}
	for _, tc := range tests {
		c := Config{}.WithDefaults()
		tc.mutate(&c)
		err := c.Validate()
		var ce *ConfigError
		require.True(t, errors.As(err, &ce), "%s: %v", tc.setting, err)
		assert.Equal(t, tc.setting, ce.Setting)
		assert.Contains(t, err.Error(), tc.setting)
	}
	_, err := New(Config{Concurrency: -1}, Deps{Receiver: newFakeReceiver(), Graph: newFakeGraph()})
	require.Error(t, err)
	_, err = New(Config{}, Deps{Graph: newFakeGraph()})
	require.Error(t, err)
	_, err = New(Config{}, Deps{Receiver: newFakeReceiver()})
	require.Error(t, err)
}

func TestReasonsClosedSet(t *testing.T) {
	t.Parallel()
	assert.Equal(t, []Reason{"InvalidMessage", "UserNotFound", "GraphRejected", "RetriesExhausted"}, Reasons())
	assert.Equal(t, "User.ReadWrite.All", missingPermission(graph.APIV1))
	assert.Equal(t, "CloudLicensing.AssignLicenses.Organization", missingPermission(graph.APIBeta))
}

func TestDescribeAndProperties(t *testing.T) {
	t.Parallel()
	r := result{reason: ReasonRetriesExhausted, attempts: 4, userID: "u@contoso.com",
		last: &graph.Error{StatusCode: 503, Code: "serviceUnavailable", RequestID: "rid", ClientRequestID: "crid"}}
	d := describe(r)
	for _, want := range []string{"retry budget", "http_status=503", "graph_error_code=serviceUnavailable", "request-id=rid", "client-request-id=crid", "attempts=4"} {
		assert.Contains(t, d, want)
	}
	now := time.Date(2026, 11, 28, 17, 0, 0, 0, time.UTC)
	assert.Equal(t, map[string]any{
		PropReason: "RetriesExhausted", PropAttempts: 4, PropDeadLetteredAt: "2026-11-28T17:00:00Z",
		PropUserID: "u@contoso.com", PropHTTPStatus: 503, PropGraphErrorCode: "serviceUnavailable",
		PropGraphRequestID: "rid", PropClientRequestID: "crid",
	}, deadLetterProperties(r, now))

	transport := describe(result{reason: ReasonRetriesExhausted, attempts: 2, last: &graph.Error{Err: errors.New("reset")}})
	assert.Contains(t, transport, "no HTTP response")
	long := describe(result{reason: ReasonInvalidMessage, description: string(make([]byte, 5000))})
	assert.Len(t, long, maxDescription)
}
