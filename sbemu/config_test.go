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

	qc, _, err := c.brokerConfigs()
	require.NoError(t, err)
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
	qc, _, err := c.brokerConfigs()
	require.NoError(t, err)
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
		{"topic without subscriptions", `{"UserConfig":{"Namespaces":[{"Name":"a","Topics":[{"Name":"t"}]}]}}`, "UserConfig.Namespaces[0].Topics[0].Subscriptions"},
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

// topicJSON is one topic "t" (beside queue "q") with topic properties and
// one subscription "s" with the given properties and rules.
func topicJSON(topicProps, subProps, rules string) string {
	return `{"UserConfig":{"Namespaces":[{"Name":"ns","Queues":[{"Name":"q"}],"Topics":[{"Name":"t","Properties":{` + topicProps +
		`},"Subscriptions":[{"Name":"s","Properties":{` + subProps + `},"Rules":[` + rules + `]}]}]}]}}`
}

// ruleJSON is one rule named "r" with the given Properties body.
func ruleJSON(props string) string { return `{"Name":"r","Properties":{` + props + `}}` }

func TestParseConfigTopicErrorsNameTheField(t *testing.T) {
	t.Parallel()
	const tp = "UserConfig.Namespaces[0].Topics[0]."
	const sp = tp + "Subscriptions[0]."
	const rp = sp + "Rules[0].Properties."
	corr := `"FilterType":"Correlation","CorrelationFilter":{"Label":"x"}`
	for _, tc := range []struct {
		name, json, path, reason string
	}{
		{"topic named like a queue", `{"UserConfig":{"Namespaces":[{"Name":"a","Queues":[{"Name":"q"}],"Topics":[{"Name":"Q","Subscriptions":[{"Name":"s"}]}]}]}}`, tp + "Name", "already used by Queues[0]"},
		{"unknown topic field", `{"UserConfig":{"Namespaces":[{"Name":"a","Topics":[{"Name":"t","Size":1,"Subscriptions":[]}]}]}}`, tp + "Size", "unknown field"},
		{"no subscriptions", `{"UserConfig":{"Namespaces":[{"Name":"a","Topics":[{"Name":"t","Subscriptions":[]}]}]}}`, tp + "Subscriptions", "at least one"},
		{"topic lock duration", topicJSON(`"LockDuration":"PT1M"`, "", ""), tp + "Properties.LockDuration", "unknown field"},
		{"topic dedup window zero", topicJSON(`"DuplicateDetectionHistoryTimeWindow":"PT0S"`, "", ""), tp + "Properties.DuplicateDetectionHistoryTimeWindow", "longer than zero"},
		{"duplicate subscription", `{"UserConfig":{"Namespaces":[{"Name":"a","Topics":[{"Name":"t","Subscriptions":[{"Name":"s"},{"Name":"S"}]}]}]}}`, tp + "Subscriptions[1].Name", "already used"},
		{"subscription name with slash", `{"UserConfig":{"Namespaces":[{"Name":"a","Topics":[{"Name":"t","Subscriptions":[{"Name":"s/x"}]}]}]}}`, tp + "Subscriptions[0].Name", "contains"},
		{"subscription name too long", `{"UserConfig":{"Namespaces":[{"Name":"a","Topics":[{"Name":"t","Subscriptions":[{"Name":"` + strings.Repeat("s", 51) + `"}]}]}]}}`, tp + "Subscriptions[0].Name", "longer than 50"},
		{"rule name too long", topicJSON("", "", `{"Name":"`+strings.Repeat("r", 51)+`","Properties":{`+corr+`}}`), sp + "Rules[0].Name", "longer than 50"},
		{"subscription requires session", topicJSON("", `"RequiresSession":true`, ""), sp + "Properties.RequiresSession", "sessions are not supported"},
		{"subscription dedup", topicJSON("", `"RequiresDuplicateDetection":true`, ""), sp + "Properties.RequiresDuplicateDetection", "unknown field"},
		{"subscription max delivery zero", topicJSON("", `"MaxDeliveryCount":0`, ""), sp + "Properties.MaxDeliveryCount", "not positive"},
		{"subscription lock too long", topicJSON("", `"LockDuration":"PT10M"`, ""), sp + "Properties.LockDuration", "outside"},
		{"forward to unknown", topicJSON("", `"ForwardTo":"nowhere"`, ""), sp + "Properties.ForwardTo", "not a queue or topic"},
		{"forward to own topic", topicJSON("", `"ForwardTo":"T"`, ""), sp + "Properties.ForwardTo", "its own topic"},
		{"rule without name", topicJSON("", "", `{"Properties":{`+corr+`}}`), sp + "Rules[0].Name", `topic "t", subscription "s", rule ""`},
		{"duplicate rule", topicJSON("", "", ruleJSON(corr)+","+ruleJSON(corr)), sp + "Rules[1].Name", "already used by Rules[0]"},
		{"rule without properties", topicJSON("", "", `{"Name":"r"}`), sp + "Rules[0].Properties", "missing"},
		{"unknown filter type", topicJSON("", "", ruleJSON(`"FilterType":"Boolean"`)), rp + "FilterType", `rule "r": "Boolean" is not`},
		{"correlation without filter", topicJSON("", "", ruleJSON(`"FilterType":"Correlation"`)), rp + "CorrelationFilter", "missing"},
		{"empty correlation filter", topicJSON("", "", ruleJSON(`"FilterType":"Correlation","CorrelationFilter":{}`)), rp + "CorrelationFilter", "names no property"},
		{"unknown correlation field", topicJSON("", "", ruleJSON(`"FilterType":"Correlation","CorrelationFilter":{"Subject":"x"}`)), rp + "CorrelationFilter.Subject", "unknown field"},
		{"correlation property object", topicJSON("", "", ruleJSON(`"FilterType":"Correlation","CorrelationFilter":{"Properties":{"a":{}}}`)), rp + "CorrelationFilter.Properties.a", "want a string"},
		{"sql with correlation filter", topicJSON("", "", ruleJSON(`"FilterType":"Sql","SqlFilter":{"SqlExpression":"1=1"},"CorrelationFilter":{"To":"x"}`)), rp + "CorrelationFilter", "not allowed"},
		{"sql without expression", topicJSON("", "", ruleJSON(`"FilterType":"Sql","SqlFilter":{"SqlExpression":" "}`)), rp + "SqlFilter.SqlExpression", "missing"},
		{"sql that does not parse", topicJSON("", "", ruleJSON(`"FilterType":"Sql","SqlFilter":{"SqlExpression":"color = = 'red'"}`)), rp + "SqlFilter.SqlExpression", `topic "t", subscription "s", rule "r"`},
		{"sql naming no system property", topicJSON("", "", ruleJSON(`"FilterType":"Sql","SqlFilter":{"SqlExpression":"sys.Colour = 'red'"}`)), rp + "SqlFilter.SqlExpression", "sys.colour is not a system property"},
		{"action setting a read-only property", topicJSON("", "", ruleJSON(corr+`,"Action":{"SqlExpression":"SET sys.Nope = 1"}`)), rp + "Action.SqlExpression", "sys.nope is not a system property"},
		{"action that does not parse", topicJSON("", "", ruleJSON(corr+`,"Action":{"SqlExpression":"SET"}`)), rp + "Action.SqlExpression", `topic "t", subscription "s", rule "r"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseConfig([]byte(tc.json))
			require.Error(t, err)
			var ce *ConfigError
			require.True(t, errors.As(err, &ce), "want *ConfigError, got %T: %v", err, err)
			assert.Equal(t, tc.path, ce.Path, "error: %v", err)
			assert.Contains(t, err.Error(), tc.reason)
		})
	}
}

func TestLoadConfigTopics(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig("testdata/topics.json") // has // comments, like Microsoft's sample
	require.NoError(t, err)
	topics := c.UserConfig.Namespaces[0].Topics
	require.Len(t, topics, 1)
	tp := topics[0]
	assert.Equal(t, "conftopic", tp.Name)
	assert.True(t, tp.Properties.RequiresDuplicateDetection)
	assert.Equal(t, Duration(time.Minute), tp.Properties.DuplicateDetectionHistoryTimeWindow)
	require.Len(t, tp.Subscriptions, 5)
	assert.Equal(t, 3, tp.Subscriptions[0].Properties.MaxDeliveryCount)
	assert.Empty(t, tp.Subscriptions[0].Rules)
	r := tp.Subscriptions[1].Rules[0]
	assert.Equal(t, "eu-orders", r.Name)
	assert.Equal(t, FilterTypeCorrelation, r.Properties.FilterType)
	assert.Equal(t, &CorrelationFilter{Label: "orders", Properties: map[string]any{"region": "eu"}}, r.Properties.CorrelationFilter)

	queues, bt, err := c.brokerConfigs()
	require.NoError(t, err)
	assert.Empty(t, queues)
	require.Len(t, bt, 1)
	assert.Equal(t, time.Hour, bt[0].DefaultMessageTimeToLive)
	assert.Equal(t, time.Minute, bt[0].DuplicateDetectionWindow)
	require.Len(t, bt[0].Subscriptions, 5)
	assert.Nil(t, bt[0].Subscriptions[0].Router, "no rules: the $Default rule takes everything")
	assert.NotNil(t, bt[0].Subscriptions[1].Router)
	assert.Equal(t, 10, bt[0].Subscriptions[1].MaxDeliveryCount)
	assert.Equal(t, "sys.Label = 'orders' AND user.qty > 10", tp.Subscriptions[2].Rules[0].Properties.SQLFilter.Expression)
	assert.Equal(t, "SET sys.To = 'eu-desk'; SET stage = 'routed'; REMOVE region", tp.Subscriptions[3].Rules[0].Properties.Action.Expression)
	assert.Equal(t, time.Minute, bt[0].Subscriptions[4].LockDuration)

	b, err := json.Marshal(c)
	require.NoError(t, err)
	back, err := ParseConfig(b)
	require.NoError(t, err)
	assert.Equal(t, c, back)
}

func TestParseConfigCommentsOnlyOutsideStrings(t *testing.T) {
	t.Parallel()
	c, err := ParseConfig([]byte("{\"UserConfig\": // the root\n{\"Namespaces\":[{\"Name\":\"a\",\"Queues\":[{\"Name\":\"q\",\"Properties\":{\"ForwardTo\":\"\"}}]," +
		"\"Topics\":[{\"Name\":\"t\",\"Subscriptions\":[{\"Name\":\"s\",\"Rules\":[{\"Name\":\"r\",\"Properties\":{\"FilterType\":\"Correlation\"," +
		"\"CorrelationFilter\":{\"To\":\"http://x/\\\"//y\"}}}]}]}]}]}}"))
	require.NoError(t, err)
	assert.Equal(t, `http://x/"//y`, c.UserConfig.Namespaces[0].Topics[0].Subscriptions[0].Rules[0].Properties.CorrelationFilter.To)
}

func TestParseConfigQueueForwardsToTopic(t *testing.T) {
	t.Parallel()
	c, err := ParseConfig([]byte(`{"UserConfig":{"Namespaces":[{"Name":"a","Queues":[{"Name":"q","Properties":{"ForwardTo":"t"}}],` +
		`"Topics":[{"Name":"t","Subscriptions":[{"Name":"s","Properties":{"ForwardDeadLetteredMessagesTo":"q"}}]}]}]}}`))
	require.NoError(t, err)
	assert.Equal(t, "t", c.UserConfig.Namespaces[0].Queues[0].Properties.ForwardTo)
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
	qc, _, err := c.brokerConfigs()
	require.NoError(t, err)
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
	for _, s := range []string{queueJSON(`"LockDuration":"PT1M"`), `{"UserConfig":{"Namespaces":[{"Name":"a"}]}}`, `[]`, `null`,
		topicJSON(`"RequiresDuplicateDetection":true`, `"MaxDeliveryCount":3`, ruleJSON(`"FilterType":"Correlation","CorrelationFilter":{"Properties":{"n":1.5}}`)),
		"{// c\n\"UserConfig\":{}}",
		topicJSON("", "", ruleJSON(`"FilterType":"Sql","SqlFilter":{"SqlExpression":"a LIKE 'x%' OR sys.To IN ('a','b')"},"Action":{"SqlExpression":"SET b = a + 1; REMOVE c"}`))} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil {
			return
		}
		require.NoError(t, c.Validate())
		queues, topics, err := c.brokerConfigs()
		require.NoError(t, err)
		for _, tc := range topics {
			for _, sc := range tc.Subscriptions {
				queues = append(queues, sc.QueueConfig)
			}
		}
		for _, qc := range queues {
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
