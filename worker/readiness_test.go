package worker_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/licensefix/licensefix/graph"
	"github.com/licensefix/licensefix/graph/graphsim"
	"github.com/licensefix/licensefix/internal/faultproxy"
	"github.com/licensefix/licensefix/internal/sbconn"
	"github.com/licensefix/licensefix/internal/testutil"
	"github.com/licensefix/licensefix/sbemu"
	"github.com/licensefix/licensefix/worker"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The bounds: 503 within 30s of Service Bus becoming unreachable,
// 200 within 10s of its return. The tests use short probe settings, so the
// worker meets them with a wide margin.
const (
	detectWithin  = 30 * time.Second
	recoverWithin = 10 * time.Second
)

// readyWorker is a worker over the real SDK, connected with connStr, whose
// Service Bus health the tests watch.
type readyWorker struct {
	t    *testing.T
	w    *worker.Worker
	logs *syncBuffer
}

// startReadyWorker starts a worker whose client uses connStr, with probe
// settings of a fraction of a second.
func startReadyWorker(t *testing.T, connStr string) *readyWorker {
	t.Helper()
	return startReadyWorkerTLS(t, connStr, nil)
}

// startReadyWorkerTLS is startReadyWorker with the TLS settings the SDK
// and the worker's diagnosis use (nil: the defaults).
func startReadyWorkerTLS(t *testing.T, connStr string, tlsConfig *tls.Config) *readyWorker {
	t.Helper()
	gs, err := graphsim.NewServer(graphsim.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = gs.Close() })
	gc, err := graph.New(graph.Config{RootURL: gs.URL, Auth: graph.AuthNone})
	require.NoError(t, err)
	opts := testClientOptions()
	opts.TLSConfig = tlsConfig
	client, err := azservicebus.NewClientFromConnectionString(connStr, opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = client.Close(ctx)
	})
	recv, err := client.NewReceiverForQueue(queueName, nil)
	require.NoError(t, err)
	logs := &syncBuffer{t: t}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w, err := worker.New(worker.Config{
		ShutdownTimeout:         2 * time.Second,
		ReceiveWait:             time.Second,
		ReceiveRetryInterval:    50 * time.Millisecond,
		ServiceBusProbeInterval: 200 * time.Millisecond,
		ServiceBusProbeTimeout:  time.Second,
	}, worker.Deps{Receiver: recv, Graph: gc, Logger: logger, Diagnose: sbconn.Options{ConnectionString: connStr, ClientOptions: opts}.Diagnose})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Error("Run did not return after cancel")
		}
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	return &readyWorker{t: t, w: w, logs: logs}
}

// readyz returns /readyz's status and body.
func (r *readyWorker) readyz() (int, map[string]any) {
	rec := httptest.NewRecorder()
	r.w.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	var body map[string]any
	require.NoError(r.t, json.Unmarshal(rec.Body.Bytes(), &body))
	return rec.Code, body
}

// waitDisconnected waits until /readyz answers 503 servicebus_disconnected
// and returns its cause.
func (r *readyWorker) waitDisconnected() string {
	r.t.Helper()
	var cause string
	require.Eventually(r.t, func() bool {
		code, body := r.readyz()
		cause, _ = body["cause"].(string)
		return code == 503 && body["reason"] == worker.ReadyReasonDisconnected
	}, detectWithin, 20*time.Millisecond, "/readyz never reported servicebus_disconnected")
	assert.Zero(r.t, r.metric("licensefix_servicebus_connected"))
	return cause
}

// waitReady waits until /readyz answers 200.
func (r *readyWorker) waitReady(within time.Duration) {
	r.t.Helper()
	require.Eventually(r.t, func() bool { code, _ := r.readyz(); return code == 200 }, within, 20*time.Millisecond,
		"/readyz never answered 200")
	assert.EqualValues(r.t, 1, r.metric("licensefix_servicebus_connected"))
}

func (r *readyWorker) metric(sample string) float64 {
	h := &harness{t: r.t, w: r.w}
	return h.metric(sample)
}

// transitions returns the causes logged on the warn lines for Service Bus
// becoming unreachable and reachable again.
func (r *readyWorker) transitions() (down, up []string) {
	for _, l := range r.logs.lines("service bus unreachable") {
		assert.Equal(r.t, "WARN", l["level"])
		down = append(down, l["cause"].(string))
	}
	for _, l := range r.logs.lines("service bus reachable again") {
		assert.Equal(r.t, "WARN", l["level"])
		up = append(up, l["cause"].(string))
	}
	return down, up
}

func emulatorConnStr(addr string) string {
	return "Endpoint=sb://" + addr + ";SharedAccessKeyName=" + sbemu.DefaultKeyName + ";SharedAccessKey=" + sbemu.DefaultKey + ";UseDevelopmentEmulator=true"
}

func TestReadinessNothingListeningThenEmulatorStarts(t *testing.T) {
	t.Parallel()
	addr := testutil.FreeAddr(t)
	r := startReadyWorker(t, emulatorConnStr(addr))
	assert.Equal(t, worker.CauseRefused, r.waitDisconnected())
	code, body := r.readyz()
	assert.Equal(t, 503, code)
	assert.Equal(t, false, body["ready"])
	// The probe finds it: intake makes no receive until a probe succeeds.
	assert.Positive(t, r.metric(`licensefix_servicebus_errors_total{cause="refused",op="probe"}`))
	assert.Zero(t, r.metric(`licensefix_servicebus_errors_total{cause="refused",op="receive"}`))
	down, up := r.transitions()
	assert.Equal(t, []string{worker.CauseRefused}, down)
	assert.Empty(t, up)
	// No secret reaches the log.
	assert.NotContains(t, r.logs.String(), sbemu.DefaultKey)

	_, err := sbemu.NewServer(&sbemu.Options{TB: t, Addr: addr})
	require.NoError(t, err)
	r.waitReady(recoverWithin)
	down, up = r.transitions()
	assert.Equal(t, []string{worker.CauseRefused}, down)
	assert.Equal(t, []string{worker.CauseRefused}, up)
}

func TestReadinessEmulatorKilledAndRestarted(t *testing.T) {
	t.Parallel()
	sb, err := sbemu.NewServer(&sbemu.Options{TB: t})
	require.NoError(t, err)
	addr := sb.Addr()
	r := startReadyWorker(t, sb.ConnectionString())
	r.waitReady(recoverWithin)

	require.NoError(t, sb.Close())
	cause := r.waitDisconnected()
	assert.Contains(t, []string{worker.CauseRefused, worker.CauseConnectionLost}, cause)
	down, up := r.transitions()
	assert.Len(t, down, 1)
	assert.Empty(t, up)

	_, err = sbemu.NewServer(&sbemu.Options{TB: t, Addr: addr})
	require.NoError(t, err)
	r.waitReady(recoverWithin)
	down, up = r.transitions()
	assert.Len(t, down, 1)
	assert.Len(t, up, 1)
}

func TestReadinessBlackhole(t *testing.T) {
	t.Parallel()
	sb, err := sbemu.NewServer(&sbemu.Options{TB: t})
	require.NoError(t, err)
	proxy, err := faultproxy.New(sb.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { _ = proxy.Close() })
	r := startReadyWorker(t, strings.Replace(sb.ConnectionString(), sb.Addr(), proxy.Addr(), 1))
	r.waitReady(recoverWithin)

	// The connection stays open; nothing comes back.
	proxy.SetMode(faultproxy.Blackhole)
	assert.Equal(t, worker.CauseTimeout, r.waitDisconnected())
	assert.Positive(t, r.metric(`licensefix_servicebus_errors_total{cause="timeout",op="probe"}`))
	down, _ := r.transitions()
	assert.Equal(t, []string{worker.CauseTimeout}, down)

	proxy.SetMode(faultproxy.Forward)
	r.waitReady(recoverWithin)
	down, up := r.transitions()
	assert.Equal(t, []string{worker.CauseTimeout}, down)
	assert.Equal(t, []string{worker.CauseTimeout}, up)
}

// TestReadinessCertificateNotTrustedThenFixed points the worker at the
// emulator's TLS listener (amqps, no emulator mode) while it presents a
// certificate the worker does not trust, as a namespace behind a
// TLS-inspecting proxy would: /readyz says servicebus_disconnected with
// cause tls, and so do the error counter and the log line. Once the
// endpoint presents a trusted certificate (the emulator restarted with
// it), the worker is ready again without a restart.
func TestReadinessCertificateNotTrustedThenFixed(t *testing.T) {
	t.Parallel()
	// A certificate and key for 127.0.0.1 that the worker trusts: httptest's.
	trusted := httptest.NewUnstartedServer(http.NotFoundHandler())
	trusted.StartTLS()
	trusted.Close()
	certFile, keyFile := writeKeyPair(t, trusted.TLS.Certificates[0])
	pool := x509.NewCertPool()
	pool.AddCert(trusted.Certificate())
	// The SDK hands go-amqp "host:port" as the server name; name the host.
	tlsConfig := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}

	tlsAddr := testutil.FreeAddr(t)
	untrusted, err := sbemu.NewServer(&sbemu.Options{TB: t, TLSAddr: tlsAddr}) // its own, generated certificate
	require.NoError(t, err)
	r := startReadyWorkerTLS(t, untrusted.TLSConnectionString(), tlsConfig)
	assert.Equal(t, worker.CauseTLS, r.waitDisconnected())
	code, body := r.readyz()
	assert.Equal(t, 503, code)
	assert.Equal(t, worker.CauseTLS, body["cause"])
	assert.Positive(t, r.metric(`licensefix_servicebus_errors_total{cause="tls",op="probe"}`))
	down, up := r.transitions()
	assert.Equal(t, []string{worker.CauseTLS}, down)
	assert.Empty(t, up)

	require.NoError(t, untrusted.Close())
	_, err = sbemu.NewServer(&sbemu.Options{TB: t, TLSAddr: tlsAddr, TLSCertFile: certFile, TLSKeyFile: keyFile})
	require.NoError(t, err)
	r.waitReady(recoverWithin)
	down, up = r.transitions()
	assert.Equal(t, []string{worker.CauseTLS}, down)
	assert.Equal(t, []string{worker.CauseTLS}, up)
	assert.NotContains(t, r.logs.String(), sbemu.DefaultKey)
}

// writeKeyPair writes cert's leaf and private key as PEM files and returns
// their paths.
func writeKeyPair(t *testing.T, cert tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certFile, keyFile
}
