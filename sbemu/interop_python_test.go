package sbemu_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/sbemu"
)

// pythonInteropDir holds conformance.py, which needs only the standard
// library and Debian's python3-azure (azure-servicebus 7.8.2 on uamqp
// 1.5.3): "apt-get install python3-azure", run by /usr/bin/python3.
var pythonInteropDir = filepath.Join("interop", "python")

// pythonBin is Debian's interpreter: Debian's packages are visible to it,
// not to a pyenv or venv python3 that may come first on PATH.
const pythonBin = "/usr/bin/python3"

// pythonChecks are the checks conformance.py must report; a check missing
// from its output (a crash, a rename) fails the test.
var pythonChecks = []string{
	"send-receive-complete",
	"receive-empty",
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
	"iterate-receiver",
	"large-message",
	"unknown-queue-not-found",
	"properties-roundtrip",
	"body-types",
	"max-delivery-dead-letter",
	"competing-receivers",
	"wrong-key-unauthorized",
	"session-receiver-refused",
	"receive-from-go",
	"send-to-go",
	"reconnect-after-drop",
	"relink-after-detach-forced",
	"management-server-busy-retried",
}

const (
	pythonQueueBase        = "pyconf"
	pythonTopicBase        = "pytopic"
	goToPythonQueue        = "interop-go-to-python"
	pythonToGoQueue        = "interop-python-to-go"
	pythonMaxDeliveryCount = 3
	// amqpsPort is the only port azure-servicebus 7.8 dials for AMQP: its
	// Configuration sets connection_port to uamqp's DEFAULT_AMQPS_PORT and
	// only custom_endpoint_address changes it, which also switches the
	// transport to AMQP over WebSockets; the port of a connection string's
	// Endpoint is dropped (uamqp takes the host of the auth URI).
	amqpsPort = 5671
)

// requirePython checks that Debian's python3 can import the SDK, skipping
// the test otherwise, or failing it under CI=true.
func requirePython(t *testing.T) {
	t.Helper()
	const howTo = "install it with: apt-get install python3-azure"
	if _, err := os.Stat(pythonBin); err != nil {
		requireInterop(t, pythonBin+" is missing", howTo)
	}
	out, err := exec.Command(pythonBin, "-c", "import azure.servicebus, uamqp; print(azure.servicebus.__version__, uamqp.__version__)").CombinedOutput()
	if err != nil {
		requireInterop(t, pythonBin+" cannot import azure.servicebus and uamqp ("+strings.TrimSpace(string(out))+")", howTo)
	}
	t.Logf("azure-servicebus and uamqp versions: %s", strings.TrimSpace(string(out)))
}

// pythonConfig has one queue per Python check plus the two interop queues,
// and one topic per topic check.
func pythonConfig(t *testing.T) *sbemu.Config {
	cfg := sbemu.DefaultConfig()
	ns := &cfg.UserConfig.Namespaces[0]
	props := sbemu.QueueProperties{LockDuration: sbemu.Duration(time.Minute), MaxDeliveryCount: 10}
	for _, name := range pythonChecks {
		p := props
		switch name {
		case "lock-expiry", "receiver-close-redelivers-after-expiry":
			p.LockDuration = sbemu.Duration(2 * time.Second)
		case "max-delivery-dead-letter":
			p.MaxDeliveryCount = pythonMaxDeliveryCount
		}
		ns.Queues = append(ns.Queues, sbemu.Queue{Name: pythonQueueBase + "-" + name, Properties: p})
	}
	ns.Queues = append(ns.Queues,
		sbemu.Queue{Name: goToPythonQueue, Properties: props},
		sbemu.Queue{Name: pythonToGoQueue, Properties: props},
	)
	addInteropTopics(t, cfg, pythonTopicBase)
	return cfg
}

// newTLSServerOn5671 starts the emulator with its TLS listener on port 5671
// of a random loopback address 127.x.y.z (Linux routes all of 127/8 to the
// loopback interface), so that parallel runs on one machine do not collide
// on the one port this SDK can use; where only 127.0.0.1 is configured, it
// falls back to 127.0.0.1:5671. The generated certificate is valid for the
// chosen address and written to certOut.
func newTLSServerOn5671(t *testing.T, cfg *sbemu.Config, certOut string) *sbemu.Server {
	t.Helper()
	var lastErr error
	onlyLocalhost := false
	for i := range 20 {
		host := "127.0.0.1"
		if i < 19 && !onlyLocalhost {
			var b [3]byte
			_, _ = rand.Read(b[:])
			host = net.IPv4(127, b[0], b[1], min(max(b[2], 2), 254)).String() // not .0, .1 or .255
		}
		srv, err := sbemu.NewServer(&sbemu.Options{
			TB: t, Config: cfg, Logger: interopLogger(),
			TLSAddr: net.JoinHostPort(host, strconv.Itoa(amqpsPort)), TLSCertOut: certOut,
		})
		if err == nil {
			return srv
		}
		lastErr = err
		switch {
		case errors.Is(err, syscall.EADDRINUSE):
		case errors.Is(err, syscall.EADDRNOTAVAIL) && host != "127.0.0.1":
			onlyLocalhost = true // only 127.0.0.1 is local here: try it next
		default:
			require.NoError(t, err)
		}
	}
	require.NoError(t, lastErr, "no free loopback address with port %d", amqpsPort)
	return nil
}

// TestPythonSDKConformance runs conformance.py, Microsoft's Python Service
// Bus SDK as Debian ships it (azure-servicebus 7.8.2 on uamqp 1.5.3),
// against the emulator's TLS listener with an ordinary connection string
// (no emulator mode exists in this SDK) and the generated certificate as
// connection_verify, reports each of its checks as a subtest, and exchanges
// one message each way between the Go and the Python SDK.
//
// This SDK is the one that needs the emulator to take full-URI link
// addresses (amqps://host/queue) and to settle an RPC request before
// answering it; uamqp crashes (SIGSEGV) otherwise, which the exit status
// check of runInteropScript reports.
func TestPythonSDKConformance(t *testing.T) {
	t.Parallel()
	requirePython(t)
	certFile := filepath.Join(t.TempDir(), "sbemu-ca.pem")
	srv := newTLSServerOn5671(t, pythonConfig(t), certFile)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	sendGoToScript(ctx, t, newGoClient(t, srv), goToPythonQueue, "go-to-python-1")

	runCtx, cancelRun := context.WithTimeout(ctx, 4*time.Minute)
	defer cancelRun()
	cmd := exec.CommandContext(runCtx, pythonBin, "conformance.py")
	cmd.Dir = pythonInteropDir
	cmd.Env = append(os.Environ(),
		"SERVICEBUS_CONNECTION_STRING="+srv.TLSConnectionString(),
		"SERVICEBUS_CA_FILE="+certFile,
		"SERVICEBUS_QUEUE="+pythonQueueBase,
		"SERVICEBUS_TOPIC="+pythonTopicBase,
		"SERVICEBUS_QUEUE_PER_CHECK=true",
		"INTEROP_FROM_GO_QUEUE="+goToPythonQueue,
		"INTEROP_TO_GO_QUEUE="+pythonToGoQueue,
		"SBEMU_CONTROL=stdio",
		"SERVICEBUS_MAX_DELIVERY_COUNT="+strconv.Itoa(pythonMaxDeliveryCount),
		"CHECK_TIMEOUT=40",
		"PYTHONDONTWRITEBYTECODE=1",
	)
	results, stderr := runInteropScript(t, runCtx, srv, "conformance.py", cmd)
	reportInteropResults(t, "conformance.py", results, append(slices.Clone(pythonChecks), interopTopicChecks...), stderr)

	// A new client: the fault checks dropped the first one's connection.
	client := newGoClient(t, srv)
	t.Run("go-receives-from-python", func(t *testing.T) {
		receiveScriptToGo(ctx, t, client, pythonToGoQueue, "python", map[string]any{"attempt": int32(3), "big": int64(1) << 40},
			"uamqp encodes a Python int as int when it fits in 32 bits, else long, and a datetime as timestamp")
	})
}
