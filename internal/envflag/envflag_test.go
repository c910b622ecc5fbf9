package envflag

import (
	"bytes"
	"errors"
	"flag"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type testSettings struct {
	queue   string
	conc    int
	timeout time.Duration
	secret  string
	debug   bool
	types   []string
	ratio   float64
}

func newTestSet(env map[string]string) (*Set, *testSettings, *bytes.Buffer) {
	var out bytes.Buffer
	s := New("run", func(k string) string { return env[k] }, &out)
	ts := &testSettings{}
	s.String(&ts.queue, "queue", "LICENSEFIX_QUEUE", "license-fixed", "queue name")
	s.Int(&ts.conc, "concurrency", "LICENSEFIX_CONCURRENCY", 16, "messages in hand")
	s.Duration(&ts.timeout, "graph-timeout", "LICENSEFIX_GRAPH_TIMEOUT", 30*time.Second, "per attempt")
	s.Secret(&ts.secret, "servicebus-connection-string", "LICENSEFIX_SERVICEBUS_CONNECTION_STRING", "connection string")
	s.Bool(&ts.debug, "debug", "LICENSEFIX_DEBUG", false, "debug")
	s.List(&ts.types, "cloudevent-types", "LICENSEFIX_CLOUDEVENT_TYPES", nil, "allow-list")
	s.Float(&ts.ratio, "ratio", "LICENSEFIX_RATIO", 0.5, "a ratio")
	return s, ts, &out
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	s, ts, _ := newTestSet(nil)
	require.NoError(t, s.Parse(nil))
	assert.Equal(t, "license-fixed", ts.queue)
	assert.Equal(t, 16, ts.conc)
	assert.Equal(t, 30*time.Second, ts.timeout)
	assert.Equal(t, "", ts.secret)
	assert.False(t, ts.debug)
	assert.Empty(t, ts.types)
	assert.Equal(t, 0.5, ts.ratio)
}

func TestEnvThenFlagPrecedence(t *testing.T) {
	t.Parallel()
	s, ts, _ := newTestSet(map[string]string{
		"LICENSEFIX_QUEUE":            "from-env",
		"LICENSEFIX_CONCURRENCY":      "4",
		"LICENSEFIX_GRAPH_TIMEOUT":    "5",
		"LICENSEFIX_CLOUDEVENT_TYPES": "a, b,,c",
		"LICENSEFIX_DEBUG":            "false",
	})
	require.NoError(t, s.Parse([]string{"--queue", "from-flag", "--ratio=2.5", "--debug"}))
	assert.Equal(t, "from-flag", ts.queue)
	assert.Equal(t, 4, ts.conc)
	assert.Equal(t, 5*time.Second, ts.timeout)
	assert.Equal(t, []string{"a", "b", "c"}, ts.types)
	assert.True(t, ts.debug)
	assert.Equal(t, 2.5, ts.ratio)
}

func TestBadValuesNameTheSetting(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"env int", map[string]string{"LICENSEFIX_CONCURRENCY": "many"}, nil, "LICENSEFIX_CONCURRENCY (--concurrency)"},
		{"flag int", nil, []string{"--concurrency=x"}, "LICENSEFIX_CONCURRENCY (--concurrency): invalid value"},
		{"env duration", map[string]string{"LICENSEFIX_GRAPH_TIMEOUT": "soon"}, nil, "LICENSEFIX_GRAPH_TIMEOUT"},
		{"flag bool", nil, []string{"--debug=maybe"}, "LICENSEFIX_DEBUG"},
		{"unknown flag", nil, []string{"--nope"}, "arguments"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _, _ := newTestSet(tc.env)
			err := s.Parse(tc.args)
			require.Error(t, err)
			assert.True(t, IsSettingError(err))
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	t.Parallel()
	const secret = "Endpoint=sb://x/;SharedAccessKeyName=k;SharedAccessKey=TOPSECRET"
	s, ts, out := newTestSet(map[string]string{"LICENSEFIX_SERVICEBUS_CONNECTION_STRING": secret})
	require.NoError(t, s.Parse(nil))
	assert.Equal(t, secret, ts.secret)
	s.PrintUsage(out)
	assert.NotContains(t, out.String(), "TOPSECRET")
	err := s.Invalid("LICENSEFIX_SERVICEBUS_CONNECTION_STRING", "must not be combined with LICENSEFIX_SERVICEBUS_NAMESPACE")
	assert.NotContains(t, err.Error(), "TOPSECRET")
	assert.Contains(t, err.Error(), "--servicebus-connection-string")
}

func TestHelpAndUsageListsDefaults(t *testing.T) {
	t.Parallel()
	s, _, out := newTestSet(nil)
	err := s.Parse([]string{"--help"})
	assert.True(t, errors.Is(err, flag.ErrHelp))
	s.PrintUsage(out)
	for _, want := range []string{"--concurrency", "LICENSEFIX_CONCURRENCY", "default 16", "default 30s", "default license-fixed"} {
		assert.Contains(t, out.String(), want)
	}
}

func TestBadValuePrintsNoUsage(t *testing.T) {
	t.Parallel()
	s, _, out := newTestSet(nil)
	err := s.Parse([]string{"--concurrency", "abc"})
	var se *SettingError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "LICENSEFIX_CONCURRENCY", se.Env)
	assert.Empty(t, out.String(), "a mistake must not print the whole usage")

	s, _, out = newTestSet(nil)
	require.Error(t, s.Parse([]string{"--no-such-flag"}))
	assert.Empty(t, out.String())
}

func TestHelpPrintsUsage(t *testing.T) {
	t.Parallel()
	s, _, out := newTestSet(nil)
	require.ErrorIs(t, s.Parse([]string{"-h"}), flag.ErrHelp)
	assert.Contains(t, out.String(), "Usage: licensefix run [flags]")
	assert.Contains(t, out.String(), "LICENSEFIX_GRAPH_TIMEOUT")
}

func TestFlagNames(t *testing.T) {
	t.Parallel()
	s, _, _ := newTestSet(nil)
	var extra []string
	s.FlagSet().Var((*listValue)(&extra), "extra", "registered directly")
	assert.Equal(t, []string{"cloudevent-types", "concurrency", "debug", "extra", "graph-timeout", "queue", "ratio", "servicebus-connection-string"}, s.FlagNames())
}

type listValue []string

func (l *listValue) String() string     { return "" }
func (l *listValue) Set(v string) error { *l = append(*l, v); return nil }

func TestGiven(t *testing.T) {
	t.Parallel()
	s, _, _ := newTestSet(map[string]string{"LICENSEFIX_CONCURRENCY": "4"})
	require.NoError(t, s.Parse([]string{"--queue="}))
	assert.True(t, s.Given("LICENSEFIX_QUEUE"), "an empty flag is given")
	assert.True(t, s.Given("LICENSEFIX_CONCURRENCY"), "a variable is given")
	assert.False(t, s.Given("LICENSEFIX_GRAPH_TIMEOUT"), "a default is not given")
	assert.False(t, s.Given("LICENSEFIX_NO_SUCH_SETTING"))

	s, _, _ = newTestSet(map[string]string{"LICENSEFIX_QUEUE": ""})
	require.NoError(t, s.Parse(nil))
	assert.False(t, s.Given("LICENSEFIX_QUEUE"), "an empty variable is unset")
}
