package cli

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/dlq"
	"github.com/licensefix/licensefix/graph/graphsim"
	"github.com/licensefix/licensefix/sbemu"
)

// subscriptionEmulator starts sbemu with the topic license-events and two
// subscriptions that take every message, licensefix and audit, and returns
// the settings that point licensefix at the first.
func subscriptionEmulator(t *testing.T) (*sbemu.Server, map[string]string) {
	t.Helper()
	cfg, err := sbemu.ParseConfig([]byte(`{"UserConfig": {"Namespaces": [{"Name": "sbemulatorns", "Queues": [], "Topics": [{
	  "Name": "license-events",
	  "Subscriptions": [
	    {"Name": "licensefix", "Properties": {"LockDuration": "PT5S", "MaxDeliveryCount": 10}},
	    {"Name": "audit", "Properties": {"LockDuration": "PT5S", "MaxDeliveryCount": 10}}
	  ]}]}], "Logging": {"Type": "Console"}}}`))
	require.NoError(t, err)
	srv, err := sbemu.NewServer(&sbemu.Options{TB: t, Config: cfg})
	require.NoError(t, err)
	return srv, map[string]string{
		"LICENSEFIX_SERVICEBUS_CONNECTION_STRING": srv.ConnectionString(),
		EnvTopic:                "license-events",
		EnvSubscription:         "licensefix",
		"LICENSEFIX_LOG_FORMAT": "json",
	}
}

// TestSubscriptionRunSendListReplay drives the commands on a topic
// subscription through the real SDK: send --topic reaches both
// subscriptions, run settles only its own (the unknown user in its
// dead-letter queue), dlq list shows that dead letter, and dlq replay sends
// the copy, addressed to this subscription, which the worker dead-letters
// again.
func TestSubscriptionRunSendListReplay(t *testing.T) {
	t.Parallel()
	srv, env := subscriptionEmulator(t)
	gs, err := graphsim.NewServer(graphsim.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = gs.Close() })
	gs.LoadScenario(graphsim.DemoScenario())
	env["LICENSEFIX_GRAPH_URL"] = gs.URL
	env["LICENSEFIX_GRAPH_AUTH"] = "none"
	env["LICENSEFIX_HTTP_ADDR"] = "127.0.0.1:0"
	env["LICENSEFIX_RECEIVE_WAIT"] = "1s"
	const sub, audit = "license-events/Subscriptions/licensefix", "license-events/Subscriptions/audit"

	// send ignores LICENSEFIX_SUBSCRIPTION: the same environment works.
	code, out, errOut := runCLIStdin(t, env, "", "send", "--user-id", graphsim.DemoHealthyUser1, "--user-id", graphsim.DemoUnknownUser)
	require.Equal(t, ExitOK, code, errOut)
	assert.Equal(t, "sent 2\n", out)
	assert.Contains(t, errOut, `"entity":"license-events"`)
	for _, entity := range []string{sub, audit} {
		st, err := srv.QueueStats(entity)
		require.NoError(t, err)
		assert.Equal(t, 2, st.Active, "%s has a copy of each", entity)
	}

	var stderr runLogBuffer
	e := &Env{Getenv: func(k string) string { return env[k] }, Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- Main(ctx, e, []string{"run"}) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			assert.Equal(t, ExitOK, code, stderr.String())
		case <-time.After(30 * time.Second):
			t.Error("run did not stop after cancel")
		}
	}
	t.Cleanup(stop)
	dlqCount := func() int {
		st, err := srv.QueueStats(sub + "/$DeadLetterQueue")
		require.NoError(t, err)
		return st.Active
	}
	require.Eventually(t, func() bool {
		st, err := srv.QueueStats(sub)
		return err == nil && st.Active+st.Locked == 0 && dlqCount() == 1
	}, 20*time.Second, 10*time.Millisecond, stderr.String())
	assert.Equal(t, 1, gs.Calls(graphsim.DemoHealthyUser1))
	assert.Contains(t, stderr.String(), `"entity":"license-events/Subscriptions/licensefix","topic":"license-events","subscription":"licensefix"`)
	st, err := srv.QueueStats(audit)
	require.NoError(t, err)
	assert.Equal(t, 2, st.Active, "the other subscription's copies are untouched")

	code, out, errOut = runCLIStdin(t, env, "", "dlq", "list")
	require.Equal(t, ExitOK, code, errOut)
	assert.Contains(t, out, dlq.ReasonUserNotFound)
	assert.Contains(t, out, graphsim.DemoUnknownUser)
	assert.NotContains(t, out, graphsim.DemoHealthyUser1)

	code, out, errOut = runCLIStdin(t, env, "", "dlq", "replay", "--reason", "UserNotFound")
	require.Equal(t, ExitOK, code, errOut)
	assert.Contains(t, out, "replayed 1, skipped 0, failed 0")
	assert.Contains(t, errOut, `"replay_to":"licensefix"`, "the audit line names the subscription the copies are for")
	assert.Contains(t, errOut, "note: copies go to topic license-events with licensefix_replay_to=licensefix", "the operator is told where the copies go")
	// The worker takes the copy and dead-letters it again (the user is
	// still unknown): replay count 1, addressed to this subscription.
	require.Eventually(t, func() bool { return gs.Calls(graphsim.DemoUnknownUser) == 2 && dlqCount() == 1 }, 20*time.Second, 10*time.Millisecond)
	code, out, errOut = runCLIStdin(t, env, "", "dlq", "list", "--json")
	require.Equal(t, ExitOK, code, errOut)
	assert.Contains(t, out, `"`+dlq.PropReplayTo+`": "licensefix"`)
	assert.Contains(t, out, `"replayCount": 1`)

	code, out, errOut = runCLIStdin(t, env, "", "dlq", "purge", "--all", "--yes")
	require.Equal(t, ExitOK, code, errOut)
	assert.Contains(t, out, "purged 1")
	assert.Zero(t, dlqCount())
	stop()
}
