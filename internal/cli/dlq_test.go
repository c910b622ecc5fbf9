package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseReplayRate(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]float64{"": 0, "10/s": 10, "0.5/s": 0.5, " 3 ": 3, "0": 0} {
		got, err := parseReplayRate(in)
		require.NoError(t, err, in)
		assert.InDelta(t, want, got, 1e-9, in)
	}
	for _, bad := range []string{"fast", "-1/s", "10/m", "NaN", "1e9"} {
		_, err := parseReplayRate(bad)
		assert.Error(t, err, bad)
	}
}

func TestDLQUsageErrors(t *testing.T) {
	t.Parallel()
	env := map[string]string{"LICENSEFIX_SERVICEBUS_CONNECTION_STRING": dummyConn}
	tests := []struct {
		args    []string
		setting string
	}{
		{[]string{"dlq", "list", "--since", "yesterday"}, "LICENSEFIX_DLQ_SINCE"},
		{[]string{"dlq", "list", "--until", "soon"}, "LICENSEFIX_DLQ_UNTIL"},
		{[]string{"dlq", "list", "--since", "1h", "--until", "2h"}, "LICENSEFIX_DLQ_UNTIL"},
		{[]string{"dlq", "list", "--limit", "-1"}, "LICENSEFIX_DLQ_LIMIT"},
		{[]string{"dlq", "replay", "--rate", "fast"}, "LICENSEFIX_DLQ_RATE"},
		{[]string{"dlq", "replay", "--max", "-2"}, "LICENSEFIX_DLQ_MAX"},
		{[]string{"dlq", "replay", "--max-replays", "0"}, "LICENSEFIX_DLQ_MAX_REPLAYS"},
		{[]string{"dlq", "replay", "--receive-timeout", "0"}, "LICENSEFIX_DLQ_RECEIVE_TIMEOUT"},
		{[]string{"dlq", "replay", "--dry-run=maybe"}, "LICENSEFIX_DLQ_DRY_RUN"},
	}
	for _, tc := range tests {
		code, _, errOut := runCLI(t, env, tc.args...)
		assert.Equal(t, ExitUsage, code, "%v", tc.args)
		assert.Contains(t, errOut, tc.setting, "%v", tc.args)
	}
	code, _, errOut := runCLI(t, env, "dlq")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "list or replay")
	code, _, _ = runCLI(t, env, "dlq", "purge")
	assert.Equal(t, ExitUsage, code)
	code, _, _ = runCLI(t, env, "dlq", "--help")
	assert.Equal(t, ExitOK, code)
}

func TestDLQText(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "-", dlqText(""))
	assert.Equal(t, "a b c", dlqText("a\nb\x1bc"))
}
