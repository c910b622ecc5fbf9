package deploy_test

import (
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
