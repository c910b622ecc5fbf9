package deploy_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/sbemu"
)

// deploy/servicebus-emulator/Config.json is written in Microsoft's
// emulator schema and serves both emulators in docker-compose.yml; our
// emulator's loader must accept it unchanged.
func TestEmulatorConfigLoadsInSbemu(t *testing.T) {
	t.Parallel()
	cfg, err := sbemu.LoadConfig(repoPath(t, "deploy", "servicebus-emulator", "Config.json"))
	require.NoError(t, err)
	require.Len(t, cfg.UserConfig.Namespaces, 1)
	ns := cfg.UserConfig.Namespaces[0]
	assert.Equal(t, "sbemulatorns", ns.Name, "the name Microsoft's emulator requires")
	require.Len(t, ns.Queues, 1)
	q := ns.Queues[0]
	assert.Equal(t, "license-fixed", q.Name)
	assert.Equal(t, time.Minute, time.Duration(q.Properties.LockDuration))
	assert.Equal(t, 10, q.Properties.MaxDeliveryCount)
	assert.True(t, q.Properties.DeadLetteringOnMessageExpiration)
	assert.False(t, q.Properties.RequiresSession)

	// The same queue everywhere.
	b := buildBase(t, "deploy/kubernetes")
	assert.Equal(t, q.Name, b.config.Data["LICENSEFIX_QUEUE"])
	assert.Equal(t, q.Name, envOf(loadCompose(t, nil).Services["worker"])["LICENSEFIX_QUEUE"])
}

// Microsoft's emulator validates Config.json against its own schema
// (ServiceBus-Emulator/Schema/Config-schema.json in
// Azure/azure-service-bus-emulator-installer) and is stricter than sbemu.
// These are the rules from that schema this file has to meet.
func TestEmulatorConfigMeetsMicrosoftsSchema(t *testing.T) {
	t.Parallel()
	var doc struct {
		UserConfig struct {
			Namespaces []map[string]json.RawMessage
			Logging    *struct{ Type string }
		}
	}
	raw := readFile(t, "deploy", "servicebus-emulator", "Config.json")
	require.NoError(t, json.Unmarshal([]byte(raw), &doc))
	require.NotNil(t, doc.UserConfig.Logging, "UserConfig.Logging is required")
	assert.Contains(t, []string{"File", "Console", "File,Console", "Console,File"}, doc.UserConfig.Logging.Type)
	require.Len(t, doc.UserConfig.Namespaces, 1, "exactly one namespace")
	ns := doc.UserConfig.Namespaces[0]
	for _, k := range []string{"Name", "Queues", "Topics"} {
		assert.Contains(t, ns, k, "namespace.%s is required", k)
	}
	var name string
	require.NoError(t, json.Unmarshal(ns["Name"], &name))
	assert.Equal(t, "sbemulatorns", name, "the only namespace name allowed")

	var queues []struct {
		Name       string
		Properties map[string]json.RawMessage
	}
	require.NoError(t, json.Unmarshal(ns["Queues"], &queues))
	require.NotEmpty(t, queues)
	durations := map[string][2]time.Duration{ // inclusive bounds
		"LockDuration":                        {5 * time.Second, 5 * time.Minute},
		"DefaultMessageTimeToLive":            {5 * time.Minute, time.Hour},
		"DuplicateDetectionHistoryTimeWindow": {5 * time.Second, 5 * time.Minute},
	}
	for _, q := range queues {
		assert.Regexp(t, `^[A-Za-z0-9]([\w.\-/]*[A-Za-z0-9])?$`, q.Name)
		for prop, bounds := range durations {
			v, ok := q.Properties[prop]
			if !ok {
				continue
			}
			var s string
			require.NoError(t, json.Unmarshal(v, &s), prop)
			d, err := sbemu.ParseISODuration(s)
			require.NoError(t, err, prop)
			assert.GreaterOrEqual(t, d, bounds[0], "%s.%s", q.Name, prop)
			assert.LessOrEqual(t, d, bounds[1], "%s.%s", q.Name, prop)
		}
		if v, ok := q.Properties["MaxDeliveryCount"]; ok {
			var n int
			require.NoError(t, json.Unmarshal(v, &n))
			assert.True(t, n >= 1 && n <= 10, "%s.MaxDeliveryCount %d is within 1..10", q.Name, n)
		}
	}
}
