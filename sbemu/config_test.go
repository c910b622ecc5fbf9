package sbemu

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadConfigExampleFile(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig("testdata/Config.json")
	require.NoError(t, err)
	ns := c.UserConfig.Namespaces[0]
	assert.Equal(t, "sbemulatorns", ns.Name)
	require.Len(t, ns.Queues, 2)
	q := ns.Queues[1]
	assert.Equal(t, "license-fixed-replay", q.Name)
	assert.Equal(t, Duration(30*time.Second), q.Properties.LockDuration)
	assert.Equal(t, Duration(24*time.Hour), q.Properties.DefaultMessageTimeToLive)
	assert.Equal(t, 5, q.Properties.MaxDeliveryCount)
	assert.True(t, q.Properties.RequiresDuplicateDetection)
	assert.True(t, q.Properties.DeadLetteringOnMessageExpiration)
	assert.Equal(t, "File", c.UserConfig.Logging.Type)

	qc := c.queueConfigs()
	require.Len(t, qc, 2)
	assert.Equal(t, time.Minute, qc[0].LockDuration)
	assert.Equal(t, 10*time.Minute, qc[1].DuplicateDetectionWindow)
}

func TestLoadConfigMissingFile(t *testing.T) {
	t.Parallel()
	_, err := LoadConfig("testdata/does-not-exist.json")
	require.Error(t, err)
}

func TestDefaultConfig(t *testing.T) {
	t.Parallel()
	c := DefaultConfig()
	require.NoError(t, c.Validate())
	qc := c.queueConfigs()
	require.Len(t, qc, 1)
	assert.Equal(t, DefaultQueueName, qc[0].Name)
	assert.Equal(t, time.Minute, qc[0].LockDuration)
	assert.Equal(t, 10, qc[0].MaxDeliveryCount)
}

// queueJSON is one queue with the given properties body.
func queueJSON(props string) string {
	return `{"UserConfig":{"Namespaces":[{"Name":"ns","Queues":[{"Name":"a","Properties":{}},{"Name":"b","Properties":{` + props + `}}]}]}}`
}

func TestParseConfigErrorsNameTheField(t *testing.T) {
	t.Parallel()
	const qp = "UserConfig.Namespaces[0].Queues[1].Properties."
	for _, tc := range []struct {
		name, json, path string
	}{
		{"not json", `{`, "(root)"},
		{"unknown top-level field", `{"UserConfig":{"Namespaces":[]},"Extra":1}`, "Extra"},
		{"missing UserConfig", `{}`, "UserConfig"},
		{"missing namespaces", `{"UserConfig":{}}`, "UserConfig.Namespaces"},
		{"no namespace", `{"UserConfig":{"Namespaces":[]}}`, "UserConfig.Namespaces"},
		{"two namespaces", `{"UserConfig":{"Namespaces":[{"Name":"a"},{"Name":"b"}]}}`, "UserConfig.Namespaces"},
		{"unknown namespace field", `{"UserConfig":{"Namespaces":[{"Name":"a","Color":"red"}]}}`, "UserConfig.Namespaces[0].Color"},
		{"empty namespace name", `{"UserConfig":{"Namespaces":[{"Name":""}]}}`, "UserConfig.Namespaces[0].Name"},
		{"topics", `{"UserConfig":{"Namespaces":[{"Name":"a","Topics":[{"Name":"t"}]}]}}`, "UserConfig.Namespaces[0].Topics"},
		{"bad logging", `{"UserConfig":{"Namespaces":[{"Name":"a"}],"Logging":{"Type":"Syslog"}}}`, "UserConfig.Logging.Type"},
		{"unknown logging field", `{"UserConfig":{"Namespaces":[{"Name":"a"}],"Logging":{"Level":"x"}}}`, "UserConfig.Logging.Level"},
		{"unknown queue field", `{"UserConfig":{"Namespaces":[{"Name":"a","Queues":[{"Name":"q","Size":1}]}]}}`, "UserConfig.Namespaces[0].Queues[0].Size"},
		{"queue name with slash", `{"UserConfig":{"Namespaces":[{"Name":"a","Queues":[{"Name":"a/b"}]}]}}`, "UserConfig.Namespaces[0].Queues[0].Name"},
		{"empty queue name", `{"UserConfig":{"Namespaces":[{"Name":"a","Queues":[{"Name":""}]}]}}`, "UserConfig.Namespaces[0].Queues[0].Name"},
		{"duplicate queue name", `{"UserConfig":{"Namespaces":[{"Name":"a","Queues":[{"Name":"q"},{"Name":"Q"}]}]}}`, "UserConfig.Namespaces[0].Queues[1].Name"},
		{"unknown property", queueJSON(`"Partitioned":true`), qp + "Partitioned"},
		{"lock duration not ISO", queueJSON(`"LockDuration":"1m"`), qp + "LockDuration"},
		{"lock duration a number", queueJSON(`"LockDuration":60`), qp + "LockDuration"},
		{"lock duration too long", queueJSON(`"LockDuration":"PT6M"`), qp + "LockDuration"},
		{"lock duration zero", queueJSON(`"LockDuration":"PT0S"`), qp + "LockDuration"},
		{"max delivery count zero", queueJSON(`"MaxDeliveryCount":0`), qp + "MaxDeliveryCount"},
		{"max delivery count negative", queueJSON(`"MaxDeliveryCount":-1`), qp + "MaxDeliveryCount"},
		{"max delivery count text", queueJSON(`"MaxDeliveryCount":"3"`), qp + "MaxDeliveryCount"},
		{"ttl months", queueJSON(`"DefaultMessageTimeToLive":"P1M"`), qp + "DefaultMessageTimeToLive"},
		{"dedup window bad", queueJSON(`"DuplicateDetectionHistoryTimeWindow":"PTS"`), qp + "DuplicateDetectionHistoryTimeWindow"},
		{"requires session", queueJSON(`"RequiresSession":true`), qp + "RequiresSession"},
		{"bool as text", queueJSON(`"RequiresDuplicateDetection":"yes"`), qp + "RequiresDuplicateDetection"},
		{"forward to unknown", queueJSON(`"ForwardTo":"nowhere"`), qp + "ForwardTo"},
		{"forward to itself", queueJSON(`"ForwardTo":"b"`), qp + "ForwardTo"},
		{"dead letters to unknown", queueJSON(`"ForwardDeadLetteredMessagesTo":"zz"`), qp + "ForwardDeadLetteredMessagesTo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseConfig([]byte(tc.json))
			require.Error(t, err)
			var ce *ConfigError
			require.True(t, errors.As(err, &ce), "want *ConfigError, got %T: %v", err, err)
			assert.Equal(t, tc.path, ce.Path, "error: %v", err)
			assert.Contains(t, err.Error(), tc.path)
		})
	}
}

func TestParseConfigRequiresSessionSaysUnsupported(t *testing.T) {
	t.Parallel()
	_, err := ParseConfig([]byte(queueJSON(`"RequiresSession":true`)))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "sessions are not supported")
}

func TestParseConfigValidForwarding(t *testing.T) {
	t.Parallel()
	c, err := ParseConfig([]byte(queueJSON(`"ForwardTo":"a","ForwardDeadLetteredMessagesTo":"A"`)))
	require.NoError(t, err)
	qc := c.queueConfigs()
	assert.Equal(t, "a", qc[1].ForwardTo)
	assert.Equal(t, "A", qc[1].ForwardDeadLetteredMessagesTo)
}

func TestConfigJSONRoundTrip(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig("testdata/Config.json")
	require.NoError(t, err)
	b, err := json.Marshal(c)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"LockDuration":"PT30S"`)
	back, err := ParseConfig(b)
	require.NoError(t, err)
	assert.Equal(t, c, back)
}

func TestParseISODuration(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{
		"PT1M":       time.Minute,
		"PT20S":      20 * time.Second,
		"PT1H":       time.Hour,
		"P1D":        24 * time.Hour,
		"P1W":        7 * 24 * time.Hour,
		"P1DT2H3M4S": 26*time.Hour + 3*time.Minute + 4*time.Second,
		"PT0.5S":     500 * time.Millisecond,
		"PT1,5S":     1500 * time.Millisecond,
	} {
		got, err := ParseISODuration(in)
		require.NoError(t, err, in)
		assert.InDelta(t, float64(want), float64(got), float64(time.Microsecond), in)
	}
	for _, bad := range []string{"", "P", "PT", "1M", "PT1", "P1H", "PT1D", "P1Y", "P1M", "PT1M1M", "PTT1M", "PT-1S", "PT1.2.3S", "P99999999999999999999D"} {
		_, err := ParseISODuration(bad)
		assert.Error(t, err, bad)
	}
}

func TestFormatISODuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0:                             "PT0S",
		time.Minute:                   "PT1M",
		26*time.Hour + 30*time.Second: "P1DT2H30S",
		48 * time.Hour:                "P2D",
		1500 * time.Millisecond:       "PT1.5S",
	} {
		assert.Equal(t, want, FormatISODuration(d))
		if d > 0 {
			back, err := ParseISODuration(want)
			require.NoError(t, err)
			assert.Equal(t, d, back)
		}
	}
}

func TestValidateConfigBuiltInCode(t *testing.T) {
	t.Parallel()
	c := DefaultConfig()
	c.UserConfig.Namespaces[0].Queues = append(c.UserConfig.Namespaces[0].Queues,
		Queue{Name: strings.Repeat("x", 261)})
	err := c.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "UserConfig.Namespaces[0].Queues[1].Name")
}

func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{queueJSON(`"LockDuration":"PT1M"`), `{"UserConfig":{"Namespaces":[{"Name":"a"}]}}`, `[]`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil {
			return
		}
		require.NoError(t, c.Validate())
		for _, qc := range c.queueConfigs() {
			require.Positive(t, qc.LockDuration)
			require.Positive(t, qc.MaxDeliveryCount)
			require.GreaterOrEqual(t, qc.DefaultMessageTimeToLive, time.Duration(0))
		}
	})
}

func FuzzParseISODuration(f *testing.F) {
	for _, s := range []string{"PT1M", "P1DT2H", "PT0.5S", "P1W", "PT", "P1Y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseISODuration(s)
		if err == nil {
			require.GreaterOrEqual(t, d, time.Duration(0))
		}
	})
}
