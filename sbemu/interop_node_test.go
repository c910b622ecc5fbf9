package sbemu_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/stretchr/testify/assert"
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
	"receive-and-delete",
	"subscribe-close",
	"large-message",
	"unknown-queue-not-found",
	"wrong-key-unauthorized",
	"receive-from-go",
	"send-to-go",
}

const (
	nodeQueueBase = "nodeconf"
	goToNodeQueue = "interop-go-to-node"
	nodeToGoQueue = "interop-node-to-go"
	// interopWhen is the timestamp property both directions carry.
	interopWhenMs = 1700000000000
	interopLabel  = "ünïcode ✓"
)

// nodeResult is one JSON line of conformance.mjs.
type nodeResult struct {
	Name  string  `json:"name"`
	OK    bool    `json:"ok"`
	Error *string `json:"error"`
	MS    int64   `json:"ms"`
}

// requireNode returns the node binary, skipping the test when Node or the
// installed SDK is missing, or failing it under CI=true.
func requireNode(t *testing.T) string {
	t.Helper()
	const howTo = "install Node.js 18+ and run: npm ci --prefix sbemu/interop/node"
	missing := func(what string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (CI=true requires it; %s)", what, howTo)
		}
		t.Skipf("%s; %s", what, howTo)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not on PATH")
	}
	if _, err := os.Stat(filepath.Join(nodeInteropDir, "node_modules", "@azure", "service-bus", "package.json")); err != nil {
		missing("the Node SDK is not installed in " + nodeInteropDir + "/node_modules")
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

// nodeConfig has one queue per Node check plus the two interop queues.
func nodeConfig() *sbemu.Config {
	cfg := sbemu.DefaultConfig()
	ns := &cfg.UserConfig.Namespaces[0]
	props := sbemu.QueueProperties{LockDuration: sbemu.Duration(time.Minute), MaxDeliveryCount: 10}
	for _, name := range nodeChecks {
		p := props
		if name == "lock-expiry" {
			p.LockDuration = sbemu.Duration(2 * time.Second)
		}
		ns.Queues = append(ns.Queues, sbemu.Queue{Name: nodeQueueBase + "-" + name, Properties: p})
	}
	ns.Queues = append(ns.Queues,
		sbemu.Queue{Name: goToNodeQueue, Properties: props},
		sbemu.Queue{Name: nodeToGoQueue, Properties: props},
	)
	return cfg
}

// TestNodeSDKConformance runs conformance.mjs, the official Node.js Service
// Bus SDK (@azure/service-bus 7.9.5), against the emulator with an ordinary
// emulator connection string, reports each of its checks as a subtest, and
// exchanges one message each way between the Go and the Node SDK.
func TestNodeSDKConformance(t *testing.T) {
	t.Parallel()
	node := requireNode(t)

	srv, err := sbemu.NewServer(&sbemu.Options{TB: t, Config: nodeConfig(), Logger: interopLogger()})
	require.NoError(t, err)

	client, err := azservicebus.NewClientFromConnectionString(srv.ConnectionString(), nil)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Close(ctx)
	})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	sendGoToNode(ctx, t, client)

	results, stderr := runNodeConformance(ctx, t, node, srv.ConnectionString())
	seen := map[string]bool{}
	for _, r := range results {
		seen[r.Name] = true
		t.Run(r.Name, func(t *testing.T) {
			if !r.OK {
				msg := "(no error text)"
				if r.Error != nil {
					msg = *r.Error
				}
				t.Fatalf("Node check failed after %d ms: %s", r.MS, msg)
			}
		})
	}
	for _, name := range nodeChecks {
		assert.True(t, seen[name], "conformance.mjs did not report check %q", name)
	}
	if t.Failed() {
		t.Logf("conformance.mjs stderr:\n%s", stderr)
	}

	t.Run("go-receives-from-node", func(t *testing.T) {
		receiveNodeToGo(ctx, t, client)
	})
}

// sendGoToNode sends the message check "receive-from-go" expects.
func sendGoToNode(ctx context.Context, t *testing.T, client *azservicebus.Client) {
	t.Helper()
	sender, err := client.NewSender(goToNodeQueue, nil)
	require.NoError(t, err)
	defer func() { _ = sender.Close(ctx) }()
	msgID, contentType, subject, corr := "go-to-node-1", "application/json", "license-fixed", "corr-go-1"
	require.NoError(t, sender.SendMessage(ctx, &azservicebus.Message{
		MessageID:     &msgID,
		ContentType:   &contentType,
		Subject:       &subject,
		CorrelationID: &corr,
		Body:          []byte(`{"user_id":"go-user-1","source":"go"}`),
		ApplicationProperties: map[string]any{
			"user_id": "go-user-1",
			"attempt": int64(3),
			"big":     int64(1) << 40,
			"neg":     int32(-7),
			"ratio":   0.25,
			"flag":    true,
			"label":   interopLabel,
			"when":    time.UnixMilli(interopWhenMs).UTC(),
		},
	}, nil))
}

// receiveNodeToGo reads and checks the message check "send-to-go" sent.
func receiveNodeToGo(ctx context.Context, t *testing.T, client *azservicebus.Client) {
	receiver, err := client.NewReceiverForQueue(nodeToGoQueue, nil)
	require.NoError(t, err)
	defer func() { _ = receiver.Close(ctx) }()
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	msgs, err := receiver.ReceiveMessages(rctx, 1, nil)
	require.NoError(t, err, "no message from Node arrived")
	require.Len(t, msgs, 1)
	m := msgs[0]

	assert.Equal(t, "node-to-go-1", m.MessageID)
	assert.Equal(t, "application/json", deref(m.ContentType))
	assert.Equal(t, "license-fixed", deref(m.Subject))
	assert.Equal(t, "corr-node-1", deref(m.CorrelationID))
	assert.EqualValues(t, 1, m.DeliveryCount, "Go reports header delivery-count + 1")
	// The Node SDK JSON-encodes an object body into one data section.
	assert.JSONEq(t, `{"user_id":"node-user-1","source":"node"}`, string(m.Body))
	// rhea encodes a positive JS integer as uint, a negative one as int,
	// a fraction as double and a Date as timestamp.
	assert.Equal(t, map[string]any{
		"user_id": "node-user-1",
		"attempt": uint32(3),
		"neg":     int32(-7),
		"ratio":   0.25,
		"flag":    true,
		"label":   interopLabel,
		"when":    time.UnixMilli(interopWhenMs),
	}, normalizeTimes(m.ApplicationProperties))
	require.NoError(t, receiver.CompleteMessage(ctx, m, nil))
}

// runNodeConformance runs conformance.mjs and parses its JSON lines.
func runNodeConformance(ctx context.Context, t *testing.T, node, connStr string) ([]nodeResult, string) {
	t.Helper()
	runCtx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(runCtx, node, "conformance.mjs")
	cmd.Dir = nodeInteropDir
	cmd.Env = append(os.Environ(),
		"SERVICEBUS_CONNECTION_STRING="+connStr,
		"SERVICEBUS_QUEUE="+nodeQueueBase,
		"SERVICEBUS_QUEUE_PER_CHECK=true",
		"INTEROP_FROM_GO_QUEUE="+goToNodeQueue,
		"INTEROP_TO_GO_QUEUE="+nodeToGoQueue,
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	runErr := cmd.Run()
	require.NoError(t, runCtx.Err(), "conformance.mjs did not finish in time; stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())

	results, err := parseNodeResults(stdout.Bytes())
	require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	var exitErr *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exitErr) {
		require.NoError(t, runErr, "running node")
	}
	failed := 0
	for _, r := range results {
		if !r.OK {
			failed++
		}
	}
	// Exit status and reported results must agree (a crash after the last
	// line, or a failure without a line, shows up here).
	if failed == 0 {
		require.NoError(t, runErr, "conformance.mjs failed with every reported check passing; stderr:\n%s", stderr.String())
	} else {
		require.Error(t, runErr, "conformance.mjs exited 0 with %d failed checks", failed)
	}
	return results, stderr.String()
}

// parseNodeResults decodes one nodeResult per non-empty line.
func parseNodeResults(out []byte) ([]nodeResult, error) {
	var results []nodeResult
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var r nodeResult
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return nil, errors.New("conformance.mjs printed a line that is not a check result: " + line)
		}
		if r.Name == "" {
			return nil, errors.New("conformance.mjs printed a result without a name: " + line)
		}
		results = append(results, r)
	}
	return results, sc.Err()
}

func TestParseNodeResults(t *testing.T) {
	t.Parallel()
	got, err := parseNodeResults([]byte(`{"name":"a","ok":true,"error":null,"ms":3}` + "\n\n" +
		`{"name":"b","ok":false,"error":"boom","ms":7}` + "\n"))
	require.NoError(t, err)
	boom := "boom"
	require.Equal(t, []nodeResult{{Name: "a", OK: true, MS: 3}, {Name: "b", OK: false, Error: &boom, MS: 7}}, got)

	for _, bad := range []string{"Error: cannot find module", `{"ok":true}`, `{"name":"a","ok":true,"extra":1}`} {
		_, err := parseNodeResults([]byte(bad + "\n"))
		require.Error(t, err, "input %q", bad)
	}
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
