package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"
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
