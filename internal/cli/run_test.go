package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/licensefix/licensefix/graph/graphsim"
	"github.com/licensefix/licensefix/sbemu"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// validRunEnv is a complete, valid run environment (it would connect to a
// loopback address nothing listens on, so tests use it only for cases that
// must fail before connecting).
func validRunEnv() map[string]string {
	return map[string]string{
		"LICENSEFIX_SERVICEBUS_CONNECTION_STRING": "Endpoint=sb://127.0.0.1:1;SharedAccessKeyName=k;SharedAccessKey=c2VjcmV0LWtleS12YWx1ZQ==;UseDevelopmentEmulator=true",
		"LICENSEFIX_GRAPH_URL":                    "http://127.0.0.1:1",
		"LICENSEFIX_GRAPH_AUTH":                   "none",
	}
}

func TestRunHelpListsEverySetting(t *testing.T) {
	t.Parallel()
	code, _, errOut := runCLI(t, nil, "run", "--help")
	assert.Equal(t, ExitOK, code)
	for setting, def := range map[string]string{
		"LICENSEFIX_SERVICEBUS_CONNECTION_STRING": "(secret, unset)",
		"LICENSEFIX_SERVICEBUS_NAMESPACE":         `""`,
		"LICENSEFIX_QUEUE":                        "license-fixed",
		"LICENSEFIX_TOPIC":                        `""`,
		"LICENSEFIX_SUBSCRIPTION":                 `""`,
		"LICENSEFIX_CONCURRENCY":                  "16",
		"LICENSEFIX_SHUTDOWN_TIMEOUT":             "25s",
		"LICENSEFIX_HTTP_ADDR":                    ":8080",
		"LICENSEFIX_LOG_FORMAT":                   "auto",
		"LICENSEFIX_LOG_LEVEL":                    "info",
		"LICENSEFIX_GRAPH_API":                    "beta",
		"LICENSEFIX_GRAPH_CLOUD":                  "global",
		"LICENSEFIX_GRAPH_URL":                    `""`,
		"LICENSEFIX_GRAPH_AUTH":                   "azure",
		"LICENSEFIX_GRAPH_TIMEOUT":                "30s",
		"LICENSEFIX_RETRY_INITIAL_INTERVAL":       "1s",
		"LICENSEFIX_RETRY_MAX_INTERVAL":           "1m0s",
		"LICENSEFIX_MAX_RETRY_DURATION":           "10m0s",
		"LICENSEFIX_CLOUDEVENT_TYPES":             `""`,
		"LICENSEFIX_BREAKER_THRESHOLD":            "5",
		"LICENSEFIX_BREAKER_PROBE_INTERVAL":       "5s",
		"LICENSEFIX_PROBE_INTERVAL":               "30s",
		"LICENSEFIX_RECEIVE_WAIT":                 "10s",
		"LICENSEFIX_GRAPH_MAX_RATE":               "0",
		"LICENSEFIX_GRAPH_INITIAL_RATE":           "10",
		"LICENSEFIX_COALESCE_SKEW":                "1s",
		"LICENSEFIX_COALESCE_MEMORY":              "50000",
		"LICENSEFIX_COALESCE_MAX_AGE":             "1h0m0s",
		"LICENSEFIX_TENANT_ID":                    `""`,
	} {
		assert.Regexp(t, setting+` +default `+regexpQuote(def)+`\n`, errOut, setting)
	}
}

func regexpQuote(s string) string {
	out := ""
	for _, r := range s {
		if r == '(' || r == ')' || r == '.' {
			out += `\`
		}
		out += string(r)
	}
	return out
}

func TestRunBadSettingsExit2(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		set     map[string]string
		unset   []string
		setting string
	}{
		{"both connection string and namespace", map[string]string{"LICENSEFIX_SERVICEBUS_NAMESPACE": "contoso.servicebus.windows.net"}, nil, "LICENSEFIX_SERVICEBUS_NAMESPACE"},
		{"neither connection string nor namespace", nil, []string{"LICENSEFIX_SERVICEBUS_CONNECTION_STRING"}, "LICENSEFIX_SERVICEBUS_CONNECTION_STRING"},
		{"beta in usgov", map[string]string{"LICENSEFIX_GRAPH_CLOUD": "usgov", "LICENSEFIX_GRAPH_API": "beta"}, nil, "LICENSEFIX_GRAPH_API"},
		{"auth none with a remote URL", map[string]string{"LICENSEFIX_GRAPH_URL": "https://graph.example.com"}, nil, "LICENSEFIX_GRAPH_AUTH"},
		{"unknown cloud", map[string]string{"LICENSEFIX_GRAPH_CLOUD": "mars"}, nil, "LICENSEFIX_GRAPH_CLOUD"},
		{"unknown api", map[string]string{"LICENSEFIX_GRAPH_API": "v2"}, nil, "LICENSEFIX_GRAPH_API"},
		{"unknown auth", map[string]string{"LICENSEFIX_GRAPH_AUTH": "basic"}, nil, "LICENSEFIX_GRAPH_AUTH"},
		{"malformed concurrency", map[string]string{"LICENSEFIX_CONCURRENCY": "many"}, nil, "LICENSEFIX_CONCURRENCY"},
		{"zero concurrency", map[string]string{"LICENSEFIX_CONCURRENCY": "0"}, nil, "LICENSEFIX_CONCURRENCY"},
		{"malformed duration", map[string]string{"LICENSEFIX_SHUTDOWN_TIMEOUT": "soon"}, nil, "LICENSEFIX_SHUTDOWN_TIMEOUT"},
		{"negative retry interval", map[string]string{"LICENSEFIX_RETRY_INITIAL_INTERVAL": "-1s"}, nil, "LICENSEFIX_RETRY_INITIAL_INTERVAL"},
		{"max interval below initial", map[string]string{"LICENSEFIX_RETRY_INITIAL_INTERVAL": "10s", "LICENSEFIX_RETRY_MAX_INTERVAL": "1s"}, nil, "LICENSEFIX_RETRY_MAX_INTERVAL"},
		{"zero retry budget", map[string]string{"LICENSEFIX_MAX_RETRY_DURATION": "0s"}, nil, "LICENSEFIX_MAX_RETRY_DURATION"},
		{"zero breaker threshold", map[string]string{"LICENSEFIX_BREAKER_THRESHOLD": "0"}, nil, "LICENSEFIX_BREAKER_THRESHOLD"},
		{"negative max rate", map[string]string{"LICENSEFIX_GRAPH_MAX_RATE": "-1"}, nil, "LICENSEFIX_GRAPH_MAX_RATE"},
		{"max rate not a number", map[string]string{"LICENSEFIX_GRAPH_MAX_RATE": "fast"}, nil, "LICENSEFIX_GRAPH_MAX_RATE"},
		{"zero initial rate", map[string]string{"LICENSEFIX_GRAPH_INITIAL_RATE": "0"}, nil, "LICENSEFIX_GRAPH_INITIAL_RATE"},
		{"initial rate below the floor", map[string]string{"LICENSEFIX_GRAPH_INITIAL_RATE": "0.01"}, nil, "LICENSEFIX_GRAPH_INITIAL_RATE"},
		{"negative coalesce skew", map[string]string{"LICENSEFIX_COALESCE_SKEW": "-1s"}, nil, "LICENSEFIX_COALESCE_SKEW"},
		{"zero coalesce memory", map[string]string{"LICENSEFIX_COALESCE_MEMORY": "0"}, nil, "LICENSEFIX_COALESCE_MEMORY"},
		{"zero coalesce age", map[string]string{"LICENSEFIX_COALESCE_MAX_AGE": "0s"}, nil, "LICENSEFIX_COALESCE_MAX_AGE"},
		{"tenant not a GUID", map[string]string{"LICENSEFIX_TENANT_ID": "contoso"}, nil, "LICENSEFIX_TENANT_ID"},
		{"zero probe interval", map[string]string{"LICENSEFIX_PROBE_INTERVAL": "0"}, nil, "LICENSEFIX_PROBE_INTERVAL"},
		{"zero graph timeout", map[string]string{"LICENSEFIX_GRAPH_TIMEOUT": "0s"}, nil, "LICENSEFIX_GRAPH_TIMEOUT"},
		{"bad http addr", map[string]string{"LICENSEFIX_HTTP_ADDR": "8080"}, nil, "LICENSEFIX_HTTP_ADDR"},
		{"bad log level", map[string]string{"LICENSEFIX_LOG_LEVEL": "loud"}, nil, "LICENSEFIX_LOG_LEVEL"},
		{"bad log format", map[string]string{"LICENSEFIX_LOG_FORMAT": "xml"}, nil, "LICENSEFIX_LOG_FORMAT"},
		{"empty queue", map[string]string{"LICENSEFIX_QUEUE": " "}, nil, "LICENSEFIX_QUEUE"},
		{"malformed connection string", map[string]string{"LICENSEFIX_SERVICEBUS_CONNECTION_STRING": "garbage;SharedAccessKey=hunter2hunter2"}, nil, "LICENSEFIX_SERVICEBUS_CONNECTION_STRING"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := validRunEnv()
			for k, v := range tc.set {
				env[k] = v
			}
			for _, k := range tc.unset {
				delete(env, k)
			}
			code, _, errOut := runCLI(t, env, "run")
			assert.Equal(t, ExitUsage, code, errOut)
			assert.Contains(t, errOut, tc.setting)
			assert.NotContains(t, errOut, "c2VjcmV0LWtleS12YWx1ZQ==", "the key never appears")
			assert.NotContains(t, errOut, "hunter2hunter2", "the key never appears")
		})
	}
}

func TestRunFlagOverridesEnv(t *testing.T) {
	t.Parallel()
	env := validRunEnv()
	env["LICENSEFIX_CONCURRENCY"] = "4"
	code, _, errOut := runCLI(t, env, "run", "--concurrency=-2")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, errOut, "LICENSEFIX_CONCURRENCY")
	code, _, errOut = runCLI(t, env, "run", "extra")
	assert.Equal(t, ExitUsage, code, errOut)
}

// runLogBuffer is an io.Writer safe for the logger and the test at once.
type runLogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *runLogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *runLogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestRunProcessesAndStopsOnCancel(t *testing.T) {
	t.Parallel()
	srv, env := emulator(t)
	gs, err := graphsim.NewServer(graphsim.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = gs.Close() })
	env["LICENSEFIX_GRAPH_URL"] = gs.URL
	env["LICENSEFIX_GRAPH_AUTH"] = "none"
	env["LICENSEFIX_HTTP_ADDR"] = "127.0.0.1:0"
	env["LICENSEFIX_RECEIVE_WAIT"] = "1s"

	code, _, errOut := runCLIStdin(t, env, "", "send", "--user-id", "run-test@contoso.com")
	require.Equal(t, ExitOK, code, errOut)

	var stderr runLogBuffer
	e := &Env{Getenv: func(k string) string { return env[k] }, Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- Main(ctx, e, []string{"run"}) }()

	require.Eventually(t, func() bool {
		s, err := srv.QueueStats(sbemu.DefaultQueueName)
		return err == nil && gs.Calls("run-test@contoso.com") == 1 && s.Active == 0 && s.Locked == 0
	}, 20*time.Second, 10*time.Millisecond, stderr.String())

	// The health server answers on the address it logged.
	var addr string
	for _, line := range strings.Split(stderr.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "http server listening" {
			addr, _ = rec["http_addr"].(string)
		}
	}
	require.NotEmpty(t, addr, stderr.String())
	resp, err := http.Get("http://" + addr + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	cancel()
	select {
	case code := <-done:
		assert.Equal(t, ExitOK, code, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop after cancel")
	}
	logs := stderr.String()
	assert.Contains(t, logs, `"msg":"message completed"`)
	assert.Contains(t, logs, `"user_id":"run-test@contoso.com"`)
	assert.NotContains(t, logs, sbemu.DefaultKey, "no secret in the logs")
}

func TestRunFatalServiceBusErrorsExit1(t *testing.T) {
	t.Parallel()
	srv, base := emulator(t)
	gs, err := graphsim.NewServer(graphsim.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = gs.Close() })
	wrongKey := strings.Replace(srv.ConnectionString(), "SharedAccessKey="+sbemu.DefaultKey, "SharedAccessKey=bm90LXRoZS1rZXk=", 1)
	for name, set := range map[string]map[string]string{
		"queue not found": {"LICENSEFIX_QUEUE": "no-such-queue"},
		"wrong key":       {"LICENSEFIX_SERVICEBUS_CONNECTION_STRING": wrongKey},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"LICENSEFIX_GRAPH_URL": gs.URL, "LICENSEFIX_GRAPH_AUTH": "none", "LICENSEFIX_HTTP_ADDR": "127.0.0.1:0"}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range set {
				env[k] = v
			}
			code, _, errOut := runCLIStdin(t, env, "", "run")
			assert.Equal(t, ExitFailure, code, errOut)
			assert.Contains(t, errOut, "service bus refused the receiver")
			assert.NotContains(t, errOut, "bm90LXRoZS1rZXk=")
			assert.NotContains(t, errOut, sbemu.DefaultKey)
		})
	}
}
