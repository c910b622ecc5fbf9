package deploy_test

import (
	"context"
	"encoding/json"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	composecli "github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/dlq"
	"github.com/licensefix/licensefix/graph/graphsim"
	"github.com/licensefix/licensefix/messages"
)

// loadCompose loads docker-compose.yml the way "docker compose" does, with
// the given profiles and only the given environment (no .env file, no
// process environment), so the result does not depend on the machine.
func loadCompose(t *testing.T, env []string, profiles ...string) *types.Project {
	t.Helper()
	root := repoRoot(t)
	opts, err := composecli.NewProjectOptions(
		[]string{filepath.Join(root, "docker-compose.yml")},
		composecli.WithWorkingDirectory(root),
		composecli.WithEnv(env),
		composecli.WithProfiles(profiles),
		composecli.WithResolvedPaths(true),
	)
	require.NoError(t, err)
	p, err := opts.LoadProject(context.Background())
	require.NoError(t, err)
	return p
}

// licensefixServices are the services that run this repository's image.
func licensefixServices(p *types.Project) []types.ServiceConfig {
	var out []types.ServiceConfig
	for _, s := range p.Services {
		if s.Build != nil {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func envOf(s types.ServiceConfig) map[string]string {
	m := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			m[k] = *v
		}
	}
	return m
}

func serviceNames(s types.Services) []string {
	var names []string
	for n := range s {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// sbEndpoint returns host and port of a connection string's Endpoint.
func sbEndpoint(t *testing.T, cs string) (host, port string) {
	t.Helper()
	for _, part := range strings.Split(cs, ";") {
		k, v, _ := strings.Cut(part, "=")
		if strings.EqualFold(k, "Endpoint") {
			u, err := url.Parse(v)
			require.NoError(t, err)
			require.Equal(t, "sb", u.Scheme)
			return u.Hostname(), u.Port()
		}
	}
	t.Fatalf("no Endpoint in connection string")
	return "", ""
}

func TestComposeDefaultProfile(t *testing.T) {
	t.Parallel()
	p := loadCompose(t, nil)
	root := repoRoot(t)

	require.Equal(t, []string{"emulator", "graphsim", "send", "worker"}, serviceNames(p.Services),
		"docker compose up (no profile) runs exactly the worker, both simulators and the sender")
	require.ElementsMatch(t, []string{"graphsim-official", "send-official", "servicebus-emulator", "sqledge", "worker-official",
		"graphsim-subscription", "send-subscription", "servicebus-emulator-subscription", "sqledge-subscription", "worker-subscription"},
		serviceNames(p.DisabledServices), "the official emulator stacks stay behind their profiles")

	for _, s := range licensefixServices(p) {
		t.Run(s.Name, func(t *testing.T) {
			require.NotNil(t, s.Build)
			assert.Equal(t, root, s.Build.Context, "built from this repository")
			assert.Equal(t, "licensefix:local", s.Image, "every licensefix service shares one image")
			assert.True(t, s.ReadOnly, "read-only root filesystem")
			assert.Contains(t, []string(s.Tmpfs), "/tmp", "the only writable path")
			assert.Contains(t, s.CapDrop, "ALL")
			assert.Contains(t, s.SecurityOpt, "no-new-privileges:true")
			require.NotEmpty(t, s.Command, "names the subcommand")
		})
	}

	emu := p.Services["emulator"]
	assert.Equal(t, []string{"emulator"}, []string(emu.Command))
	emuEnv := envOf(emu)
	_, emuPort, err := net.SplitHostPort(emuEnv["LICENSEFIX_EMULATOR_LISTEN"])
	require.NoError(t, err)
	assert.Equal(t, "0.0.0.0:"+emuPort, emuEnv["LICENSEFIX_EMULATOR_LISTEN"], "reachable from the other containers")
	cfg := bindSource(t, emu, emuEnv["LICENSEFIX_EMULATOR_CONFIG"])
	assert.Equal(t, repoPath(t, "deploy", "servicebus-emulator", "Config.json"), cfg)

	worker := p.Services["worker"]
	assert.Equal(t, []string{"run"}, []string(worker.Command))
	wEnv := envOf(worker)
	host, port := sbEndpoint(t, wEnv["LICENSEFIX_SERVICEBUS_CONNECTION_STRING"])
	assert.Equal(t, "emulator", host)
	assert.Equal(t, emuPort, port)
	assert.Equal(t, "none", wEnv["LICENSEFIX_GRAPH_AUTH"])
	assert.Equal(t, "license-fixed", wEnv["LICENSEFIX_QUEUE"])
	require.Contains(t, worker.DependsOn, "emulator")
	require.NotNil(t, worker.StopGracePeriod)
	assert.Greater(t, *worker.StopGracePeriod, types.Duration(envDuration(t, wEnv, "LICENSEFIX_SHUTDOWN_TIMEOUT")),
		"docker stops the worker only after its shutdown timeout")
	assertPublished(t, worker, httpPort(t, wEnv["LICENSEFIX_HTTP_ADDR"]))

	// graph.New accepts auth "none" and plain http only on loopback, so the
	// simulator lives in the worker's network namespace and listens there.
	gs := p.Services["graphsim"]
	assert.Equal(t, []string{"graphsim"}, []string(gs.Command))
	assert.Equal(t, "service:worker", gs.NetworkMode)
	gURL, err := url.Parse(wEnv["LICENSEFIX_GRAPH_URL"])
	require.NoError(t, err)
	assert.Equal(t, "http", gURL.Scheme)
	assert.True(t, net.ParseIP(gURL.Hostname()).IsLoopback(), "the Graph URL must be loopback for auth none")
	assert.Equal(t, net.JoinHostPort(gURL.Hostname(), gURL.Port()), envOf(gs)["LICENSEFIX_GRAPHSIM_LISTEN"],
		"the worker calls the address graphsim listens on")

	send := p.Services["send"]
	require.GreaterOrEqual(t, len(send.Command), 3)
	assert.Equal(t, []string{"send", "--from"}, []string(send.Command[:2]))
	demo := bindSource(t, send, send.Command[2])
	assert.Equal(t, repoPath(t, "deploy", "compose", "demo-users.txt"), demo)
	sEnv := envOf(send)
	assert.Equal(t, wEnv["LICENSEFIX_SERVICEBUS_CONNECTION_STRING"], sEnv["LICENSEFIX_SERVICEBUS_CONNECTION_STRING"])
	assert.Equal(t, wEnv["LICENSEFIX_QUEUE"], sEnv["LICENSEFIX_QUEUE"])
	for _, dep := range []string{"emulator", "worker", "graphsim"} {
		assert.Contains(t, send.DependsOn, dep, "messages go out once everything is started")
	}
	assert.Regexp(t, `^on-failure:[0-9]+$`, send.Restart, "the one-shot retries a bounded number of times")
	assert.Equal(t, "on-failure", worker.Restart, "the worker comes back if the emulator was not listening yet")
}

func TestComposeOfficialProfile(t *testing.T) {
	t.Parallel()
	p := loadCompose(t, nil, "official")
	for _, n := range []string{"sqledge", "servicebus-emulator", "worker-official", "graphsim-official", "send-official"} {
		require.Contains(t, p.Services, n)
	}

	sql := p.Services["sqledge"]
	assert.Equal(t, "mcr.microsoft.com/azure-sql-edge:latest", sql.Image)
	sb := p.Services["servicebus-emulator"]
	assert.Equal(t, "mcr.microsoft.com/azure-messaging/servicebus-emulator:latest", sb.Image)
	sbEnv := envOf(sb)
	assert.Equal(t, "sqledge", sbEnv["SQL_SERVER"])
	assert.Contains(t, sb.DependsOn, "sqledge")
	// Nobody accepts Microsoft's EULA on the user's behalf.
	assert.Equal(t, "N", sbEnv["ACCEPT_EULA"])
	assert.Equal(t, "N", envOf(sql)["ACCEPT_EULA"])
	assert.Equal(t, repoPath(t, "deploy", "servicebus-emulator", "Config.json"),
		bindSource(t, sb, "/ServiceBus_Emulator/ConfigFiles/Config.json"))

	w := p.Services["worker-official"]
	wEnv := envOf(w)
	host, port := sbEndpoint(t, wEnv["LICENSEFIX_SERVICEBUS_CONNECTION_STRING"])
	assert.Equal(t, "servicebus-emulator", host)
	assert.Equal(t, "5672", port)
	assert.Contains(t, w.DependsOn, "servicebus-emulator")
	assert.Equal(t, "service:worker-official", p.Services["graphsim-official"].NetworkMode)
	assert.Equal(t, wEnv["LICENSEFIX_SERVICEBUS_CONNECTION_STRING"],
		envOf(p.Services["send-official"])["LICENSEFIX_SERVICEBUS_CONNECTION_STRING"])
	for k, v := range envOf(p.Services["worker"]) {
		if k != "LICENSEFIX_SERVICEBUS_CONNECTION_STRING" {
			assert.Equal(t, v, wEnv[k], "worker-official differs from worker only in its Service Bus: %s", k)
		}
	}
}

func TestComposeEULAAndPasswordComeFromTheUser(t *testing.T) {
	t.Parallel()
	p := loadCompose(t, []string{"ACCEPT_EULA=Y", "MSSQL_SA_PASSWORD=Local-Only-Pa55word"}, "official", "subscription")
	for _, n := range []string{"sqledge", "servicebus-emulator", "sqledge-subscription", "servicebus-emulator-subscription"} {
		env := envOf(p.Services[n])
		assert.Equal(t, "Y", env["ACCEPT_EULA"], n)
		assert.Equal(t, "Local-Only-Pa55word", env["MSSQL_SA_PASSWORD"], n)
	}
}

// subscriptionConfig is deploy/servicebus-emulator/Config.subscription.json:
// one topic with its subscriptions and their SQL rules.
type subscriptionConfig struct {
	UserConfig struct {
		Namespaces []struct {
			Name   string
			Queues []json.RawMessage
			Topics []struct {
				Name          string
				Subscriptions []struct {
					Name       string
					Properties map[string]any
					Rules      []struct {
						Name       string
						Properties struct {
							FilterType string
							SqlFilter  struct{ SqlExpression string }
						}
					}
				}
			}
		}
		Logging *struct{ Type string }
	}
}

// TestComposeSubscriptionProfile: the worker consumes the subscription
// Microsoft's emulator declares, the sender sends to its topic, and the
// topic's subscriptions carry the replay rules the README gives.
func TestComposeSubscriptionProfile(t *testing.T) {
	t.Parallel()
	p := loadCompose(t, nil, "subscription")
	for _, n := range []string{"sqledge-subscription", "servicebus-emulator-subscription", "worker-subscription", "graphsim-subscription", "send-subscription"} {
		require.Contains(t, p.Services, n)
	}
	sb := p.Services["servicebus-emulator-subscription"]
	assert.Equal(t, "mcr.microsoft.com/azure-messaging/servicebus-emulator:latest", sb.Image)
	sbEnv := envOf(sb)
	assert.Equal(t, "sqledge-subscription", sbEnv["SQL_SERVER"])
	assert.Equal(t, "N", sbEnv["ACCEPT_EULA"], "nobody accepts Microsoft's EULA on the user's behalf")
	assert.Equal(t, repoPath(t, "deploy", "servicebus-emulator", "Config.subscription.json"),
		bindSource(t, sb, "/ServiceBus_Emulator/ConfigFiles/Config.json"))

	var cfg subscriptionConfig
	require.NoError(t, json.Unmarshal([]byte(readFile(t, "deploy", "servicebus-emulator", "Config.subscription.json")), &cfg))
	require.NotNil(t, cfg.UserConfig.Logging, "UserConfig.Logging is required")
	require.Len(t, cfg.UserConfig.Namespaces, 1)
	ns := cfg.UserConfig.Namespaces[0]
	assert.Equal(t, "sbemulatorns", ns.Name, "the only namespace name Microsoft's emulator allows")
	require.Len(t, ns.Topics, 1)
	topic := ns.Topics[0]

	w := p.Services["worker-subscription"]
	wEnv := envOf(w)
	assert.NotContains(t, wEnv, "LICENSEFIX_QUEUE", "a queue and a topic together stop start-up")
	assert.Equal(t, topic.Name, wEnv["LICENSEFIX_TOPIC"])
	host, port := sbEndpoint(t, wEnv["LICENSEFIX_SERVICEBUS_CONNECTION_STRING"])
	assert.Equal(t, "servicebus-emulator-subscription", host)
	assert.Equal(t, "5672", port)
	assert.Contains(t, w.DependsOn, "servicebus-emulator-subscription")
	assert.Equal(t, "service:worker-subscription", p.Services["graphsim-subscription"].NetworkMode)
	plain := envOf(loadCompose(t, nil).Services["worker"])
	for k, v := range plain {
		if k != "LICENSEFIX_SERVICEBUS_CONNECTION_STRING" && k != "LICENSEFIX_QUEUE" {
			assert.Equal(t, v, wEnv[k], "worker-subscription differs from worker only in its entity: %s", k)
		}
	}

	send := p.Services["send-subscription"]
	sEnv := envOf(send)
	assert.Equal(t, topic.Name, sEnv["LICENSEFIX_TOPIC"], "send publishes to the topic")
	assert.NotContains(t, sEnv, "LICENSEFIX_QUEUE")
	assert.Equal(t, wEnv["LICENSEFIX_SERVICEBUS_CONNECTION_STRING"], sEnv["LICENSEFIX_SERVICEBUS_CONNECTION_STRING"])

	// The worker's subscription admits the replays addressed to it; every
	// other subscription admits none.
	p2 := dlq.PropReplayTo
	var found bool
	require.GreaterOrEqual(t, len(topic.Subscriptions), 2, "a second subscription shows the rule others need")
	for _, sub := range topic.Subscriptions {
		require.Len(t, sub.Rules, 1, sub.Name)
		r := sub.Rules[0].Properties
		assert.Equal(t, "Sql", r.FilterType, sub.Name)
		if sub.Name == wEnv["LICENSEFIX_SUBSCRIPTION"] {
			found = true
			assert.Equal(t, p2+" IS NULL OR "+p2+" = '"+sub.Name+"'", r.SqlFilter.SqlExpression)
		} else {
			assert.Equal(t, p2+" IS NULL", r.SqlFilter.SqlExpression, sub.Name)
		}
		assert.EqualValues(t, 10, sub.Properties["MaxDeliveryCount"], "within Microsoft's 1..10")
		assert.Equal(t, "PT1M", sub.Properties["LockDuration"])
	}
	assert.True(t, found, "the topic has the worker's subscription %q", wEnv["LICENSEFIX_SUBSCRIPTION"])
}

// The SDK accepts every connection string in the compose file (this also
// checks UseDevelopmentEmulator's rules); nothing connects.
func TestComposeConnectionStringsParseInTheSDK(t *testing.T) {
	t.Parallel()
	p := loadCompose(t, nil, "official", "subscription")
	for _, s := range licensefixServices(p) {
		cs, ok := envOf(s)["LICENSEFIX_SERVICEBUS_CONNECTION_STRING"]
		if !ok {
			continue
		}
		c, err := azservicebus.NewClientFromConnectionString(cs, nil)
		require.NoError(t, err, s.Name)
		require.NoError(t, c.Close(context.Background()))
	}
}

func TestComposeSettingsAreAccepted(t *testing.T) {
	t.Parallel()
	p := loadCompose(t, nil, "official", "subscription")
	for _, s := range licensefixServices(p) {
		requireAccepted(t, "docker-compose.yml service "+s.Name, s.Command[0], envOf(s))
	}
}

func TestComposeDemoUsersAreValid(t *testing.T) {
	t.Parallel()
	ids := demoUsers(t)
	require.NotEmpty(t, ids)
	for _, id := range ids {
		assert.NoError(t, messages.ValidateUserID(id), id)
	}
	// Exactly the users graphsim's demo scenario scripts, so that
	// "docker compose up" shows every outcome.
	assert.ElementsMatch(t, graphsim.DemoUsers(), ids)
}

// demoUsers reads deploy/compose/demo-users.txt: one id per line, # comments.
func demoUsers(t *testing.T) []string {
	t.Helper()
	var ids []string
	for _, line := range strings.Split(readFile(t, "deploy", "compose", "demo-users.txt"), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			ids = append(ids, line)
		}
	}
	return ids
}

// bindSource returns the host path bind-mounted read-only at target in s,
// and checks that it exists.
func bindSource(t *testing.T, s types.ServiceConfig, target string) string {
	t.Helper()
	for _, v := range s.Volumes {
		if v.Target == target {
			assert.Equal(t, "bind", v.Type)
			assert.True(t, v.ReadOnly, "%s is mounted read-only", target)
			_, err := os.Stat(v.Source)
			require.NoError(t, err, "the mounted file exists")
			return v.Source
		}
	}
	t.Fatalf("service %s mounts nothing at %s", s.Name, target)
	return ""
}

// assertPublished checks that the container port is published on the
// host's loopback only.
func assertPublished(t *testing.T, s types.ServiceConfig, port uint32) {
	t.Helper()
	for _, p := range s.Ports {
		if p.Target == port {
			assert.Equal(t, "127.0.0.1", p.HostIP, "published on loopback only")
			return
		}
	}
	t.Errorf("service %s does not publish port %d", s.Name, port)
}
