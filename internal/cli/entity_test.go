package cli

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// receiveCommands are the commands that consume a queue or a subscription,
// with arguments that pass their other checks.
var receiveCommands = [][]string{
	{"run"},
	{"dlq", "list"},
	{"dlq", "replay"},
	{"dlq", "purge", "--all", "--yes"},
}

func TestEntitySettingsExit2NamingTheSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		set      map[string]string
		args     []string
		setting  string
		mentions string
	}{
		{"queue and topic and subscription", map[string]string{EnvQueue: "q", EnvTopic: "t", EnvSubscription: "s"}, nil, EnvQueue, EnvTopic + " and " + EnvSubscription},
		{"queue flag and topic variables", map[string]string{EnvTopic: "t", EnvSubscription: "s"}, []string{"--queue", "q"}, EnvQueue, EnvTopic},
		{"queue and subscription", map[string]string{EnvQueue: "q", EnvSubscription: "s"}, nil, EnvQueue, EnvSubscription},
		{"topic without subscription", map[string]string{EnvTopic: "t"}, nil, EnvSubscription, EnvTopic},
		{"subscription without topic", map[string]string{EnvSubscription: "s"}, nil, EnvTopic, EnvSubscription},
		{"neither: empty queue", nil, []string{"--queue="}, EnvQueue, "must not be empty"},
		{"empty topic flag", map[string]string{EnvSubscription: "s"}, []string{"--topic="}, EnvTopic, "must not be empty"},
		{"subscription not a name", map[string]string{EnvTopic: "t", EnvSubscription: "a/b"}, nil, EnvSubscription, "not a subscription name"},
		{"subscription too long", map[string]string{EnvTopic: "t", EnvSubscription: "s123456789012345678901234567890123456789012345678901"}, nil, EnvSubscription, "not a subscription name"},
	}
	for _, cmd := range receiveCommands {
		for _, tc := range tests {
			t.Run(cmd[0]+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				env := validRunEnv()
				for k, v := range tc.set {
					env[k] = v
				}
				code, _, errOut := runCLI(t, env, append(append([]string{}, cmd...), tc.args...)...)
				assert.Equal(t, ExitUsage, code, errOut)
				assert.Contains(t, errOut, "invalid setting "+tc.setting, "names the setting at fault")
				assert.Contains(t, errOut, tc.mentions)
				assert.NotContains(t, errOut, "c2VjcmV0LWtleS12YWx1ZQ==", "the key never appears")
			})
		}
	}
}

func TestSendEntitySettings(t *testing.T) {
	t.Parallel()
	send := []string{"send", "--user-id", "alice@contoso.com"}
	for name, tc := range map[string]struct {
		set      map[string]string
		args     []string
		mentions string
	}{
		"queue and topic":      {map[string]string{EnvQueue: "q", EnvTopic: "t"}, nil, "invalid setting " + EnvQueue},
		"empty topic":          {nil, []string{"--topic="}, "invalid setting " + EnvTopic},
		"no subscription flag": {nil, []string{"--topic", "t", "--subscription", "s"}, "-subscription"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := validRunEnv()
			for k, v := range tc.set {
				env[k] = v
			}
			code, _, errOut := runCLI(t, env, append(append([]string{}, send...), tc.args...)...)
			assert.Equal(t, ExitUsage, code, errOut)
			assert.Contains(t, errOut, tc.mentions)
		})
	}
}

func TestHelpListsTheEntitySettings(t *testing.T) {
	t.Parallel()
	for _, cmd := range [][]string{{"run"}, {"dlq", "list"}, {"dlq", "replay"}, {"dlq", "purge"}} {
		code, _, errOut := runCLI(t, nil, append(cmd, "--help")...)
		require.Equal(t, ExitOK, code, cmd)
		for _, want := range []string{"--queue", "--topic", "--subscription", EnvQueue, EnvTopic, EnvSubscription} {
			assert.Contains(t, errOut, want, cmd)
		}
	}
	code, _, errOut := runCLI(t, nil, "send", "--help")
	require.Equal(t, ExitOK, code)
	assert.Contains(t, errOut, "--topic")
	assert.Contains(t, errOut, EnvTopic)
	assert.NotContains(t, errOut, EnvSubscription, "send sends to the topic: it takes no subscription")
}

func TestResolveEntity(t *testing.T) {
	t.Parallel()
	resolve := func(role entityRole, env map[string]string, args ...string) entity {
		t.Helper()
		e := &Env{Getenv: func(k string) string { return env[k] }}
		s := e.newSet("test")
		sb := addServiceBusSettings(s, role)
		require.NoError(t, s.Parse(args))
		en, err := sb.resolveEntity(s)
		require.NoError(t, err)
		return en
	}
	def := resolve(roleReceive, nil)
	assert.Equal(t, entity{queue: "license-fixed"}, def, "neither form: the default queue")
	assert.Equal(t, "license-fixed", def.String())
	assert.Equal(t, "queue", def.kind())
	assert.Equal(t, "license-fixed", def.sendTo())
	assert.Equal(t, []any{"entity", "license-fixed", "queue", "license-fixed"}, attrPairs(def.logAttrs()))

	sub := resolve(roleReceive, map[string]string{EnvTopic: "users", EnvSubscription: "licensefix"})
	assert.True(t, sub.isSubscription())
	assert.Equal(t, "users/Subscriptions/licensefix", sub.String())
	assert.Equal(t, "subscription", sub.kind())
	assert.Equal(t, "users", sub.sendTo(), "Service Bus sends to the topic")
	assert.Equal(t, []any{"entity", "users/Subscriptions/licensefix", "topic", "users", "subscription", "licensefix"}, attrPairs(sub.logAttrs()))

	flags := resolve(roleReceive, nil, "--topic", "users", "--subscription", "licensefix")
	assert.Equal(t, sub, flags, "flags work like variables")

	topic := resolve(roleSend, map[string]string{EnvTopic: "users"})
	assert.False(t, topic.isSubscription())
	assert.Equal(t, "users", topic.String())
	assert.Equal(t, "topic", topic.kind())
	assert.Equal(t, "users", topic.sendTo())

	// send ignores LICENSEFIX_SUBSCRIPTION (it has no such setting), so one
	// environment serves run, dlq and send.
	shared := resolve(roleSend, map[string]string{EnvTopic: "users", EnvSubscription: "licensefix"})
	assert.Equal(t, entity{topic: "users"}, shared)
}

// attrPairs flattens slog.Attr values into key, value pairs.
func attrPairs(attrs []any) []any {
	var out []any
	for _, a := range attrs {
		at := a.(slog.Attr)
		out = append(out, at.Key, at.Value.String())
	}
	return out
}
