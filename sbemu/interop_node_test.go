package sbemu_test

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/sbemu"
)

// nodeInteropDir holds the Node project: package.json, the lock file and
// conformance.mjs. Install its dependencies with
// "npm ci --prefix sbemu/interop/node".
var nodeInteropDir = filepath.Join("interop", "node")

// nodeChecks are the checks conformance.mjs must report; a check missing
// from its output (a crash, a rename) fails the test.
var nodeChecks = []string{
	"send-receive-complete",
	"receive-empty-drain",
	"batch-50",
	"abandon-redelivers",
	"deadletter-with-reason",
	"defer-receive-deferred-complete",
	"peek",
	"schedule-cancel",
	"renew-lock",
	"lock-expiry",
	"receiver-close-keeps-lock",
	"receiver-close-redelivers-after-expiry",
	"receive-and-delete",
	"subscribe-close",
	"large-message",
	"properties-roundtrip",
	"body-types",
	"max-delivery-dead-letter",
	"competing-receivers",
	"unknown-queue-not-found",
	"wrong-key-unauthorized",
	"receive-from-go",
	"send-to-go",
	"reconnect-after-drop",
	"relink-after-detach-forced",
	"management-server-busy-retried",
	"connection-drop-keeps-lock",
}

const (
	nodeQueueBase = "nodeconf"
	nodeTopicBase = "nodetopic"
	goToNodeQueue = "interop-go-to-node"
	nodeToGoQueue = "interop-node-to-go"
	// interopWhen is the timestamp property both directions carry.
	interopWhenMs = 1700000000000
	interopLabel  = "ünïcode ✓"
	// nodeMaxDeliveryCount is the MaxDeliveryCount of check
	// "max-delivery-dead-letter"'s queue.
	nodeMaxDeliveryCount = 3
)

// requireNode returns the node binary, skipping the test when Node or the
// installed SDK is missing, or failing it under CI=true.
func requireNode(t *testing.T) string {
	t.Helper()
	const howTo = "install Node.js 18+ and run: npm ci --prefix sbemu/interop/node"
	node, err := exec.LookPath("node")
	if err != nil {
		requireInterop(t, "node is not on PATH", howTo)
	}
	if _, err := os.Stat(filepath.Join(nodeInteropDir, "node_modules", "@azure", "service-bus", "package.json")); err != nil {
		requireInterop(t, "the Node SDK is not installed in "+nodeInteropDir+"/node_modules", howTo)
	}
	return node
}

// interopLogger logs every frame at debug level to stderr when SBEMU_DEBUG
// is set, and discards otherwise.
func interopLogger() *slog.Logger {
	if os.Getenv("SBEMU_DEBUG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// nodeConfig has one queue per Node check plus the two interop queues, and
// one topic per topic check.
func nodeConfig(t *testing.T) *sbemu.Config {
	cfg := sbemu.DefaultConfig()
	ns := &cfg.UserConfig.Namespaces[0]
	props := sbemu.QueueProperties{LockDuration: sbemu.Duration(time.Minute), MaxDeliveryCount: 10}
	for _, name := range nodeChecks {
		p := props
		switch name {
		case "lock-expiry", "receiver-close-redelivers-after-expiry":
			p.LockDuration = sbemu.Duration(2 * time.Second)
		case "max-delivery-dead-letter":
			p.MaxDeliveryCount = nodeMaxDeliveryCount
		}
		ns.Queues = append(ns.Queues, sbemu.Queue{Name: nodeQueueBase + "-" + name, Properties: p})
	}
	ns.Queues = append(ns.Queues,
		sbemu.Queue{Name: goToNodeQueue, Properties: props},
		sbemu.Queue{Name: nodeToGoQueue, Properties: props},
	)
	addInteropTopics(t, cfg, nodeTopicBase)
	return cfg
}

// TestNodeSDKConformance runs conformance.mjs, the official Node.js Service
// Bus SDK (@azure/service-bus 7.9.5), against the emulator with an ordinary
// emulator connection string, reports each of its checks as a subtest, and
// exchanges one message each way between the Go and the Node SDK.
func TestNodeSDKConformance(t *testing.T) {
	t.Parallel()
	node := requireNode(t)

	srv, err := sbemu.NewServer(&sbemu.Options{TB: t, Config: nodeConfig(t), Logger: interopLogger()})
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	sendGoToScript(ctx, t, newGoClient(t, srv), goToNodeQueue, "go-to-node-1")

	results, stderr := runNodeConformance(ctx, t, node, srv)
	reportInteropResults(t, "conformance.mjs", results, append(slices.Clone(nodeChecks), interopTopicChecks...), stderr)

	// A new client: the fault checks dropped the first one's connection.
	client := newGoClient(t, srv)
	t.Run("go-receives-from-node", func(t *testing.T) {
		// rhea encodes a positive JS integer as uint, a negative one as int,
		// a fraction as double and a Date as timestamp; an object body is
		// JSON in one data section.
		receiveScriptToGo(ctx, t, client, nodeToGoQueue, "node", map[string]any{"attempt": uint32(3)}, "rhea's number encoding")
	})
}

// newGoClient connects the Go SDK to srv and closes it when the test ends.
func newGoClient(t *testing.T, srv *sbemu.Server) *azservicebus.Client {
	t.Helper()
	client, err := azservicebus.NewClientFromConnectionString(srv.ConnectionString(), nil)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Close(ctx)
	})
	return client
}

// runNodeConformance runs conformance.mjs, answers its control requests
// (faults injected into srv) and collects its check results.
func runNodeConformance(ctx context.Context, t *testing.T, node string, srv *sbemu.Server) ([]interopResult, string) {
	t.Helper()
	runCtx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(runCtx, node, "conformance.mjs")
	cmd.Dir = nodeInteropDir
	cmd.Env = append(os.Environ(),
		"SERVICEBUS_CONNECTION_STRING="+srv.ConnectionString(),
		"SERVICEBUS_QUEUE="+nodeQueueBase,
		"SERVICEBUS_TOPIC="+nodeTopicBase,
		"SERVICEBUS_QUEUE_PER_CHECK=true",
		"INTEROP_FROM_GO_QUEUE="+goToNodeQueue,
		"INTEROP_TO_GO_QUEUE="+nodeToGoQueue,
		"SBEMU_CONTROL=stdio",
		"SERVICEBUS_MAX_DELIVERY_COUNT="+strconv.Itoa(nodeMaxDeliveryCount),
	)
	return runInteropScript(t, runCtx, srv, "conformance.mjs", cmd)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// normalizeTimes puts time.Time values in the local zone with no monotonic
// reading, so they compare equal to time.UnixMilli values.
func normalizeTimes(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if tv, ok := v.(time.Time); ok {
			v = time.UnixMilli(tv.UnixMilli())
		}
		out[k] = v
	}
	return out
}
