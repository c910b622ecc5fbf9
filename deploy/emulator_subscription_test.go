package deploy_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/sbemu"
)

// Config.subscription.json, written for Microsoft's emulator (profile
// subscription), also loads in ours, rules included.
func TestEmulatorSubscriptionConfigLoadsInSbemu(t *testing.T) {
	t.Parallel()
	cfg, err := sbemu.LoadConfig(repoPath(t, "deploy", "servicebus-emulator", "Config.subscription.json"))
	require.NoError(t, err)
	require.Len(t, cfg.UserConfig.Namespaces, 1)
	ns := cfg.UserConfig.Namespaces[0]
	require.Len(t, ns.Topics, 1)
	assert.Equal(t, "license-events", ns.Topics[0].Name)
	var subs []string
	for _, s := range ns.Topics[0].Subscriptions {
		subs = append(subs, s.Name)
	}
	assert.ElementsMatch(t, []string{"licensefix", "audit"}, subs)
}
