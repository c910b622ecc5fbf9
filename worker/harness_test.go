package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/licensefix/licensefix/graph"
	"github.com/licensefix/licensefix/graph/graphsim"
	"github.com/licensefix/licensefix/internal/faultproxy"
	"github.com/licensefix/licensefix/retry"
	"github.com/licensefix/licensefix/sbemu"
	"github.com/licensefix/licensefix/worker"
	"github.com/stretchr/testify/require"
)

const queueName = sbemu.DefaultQueueName

// harnessOptions tune newHarness.
type harnessOptions struct {
	lockDuration time.Duration        // emulator lock duration (default 2s)
	config       func(*worker.Config) // adjusts the short-interval worker config
	graphTimeout time.Duration        // per-attempt Graph timeout (default 5s)
	viaProxy     bool                 // the client reaches the emulator through a faultproxy (h.proxy)
}

// harness is one emulator, one Graph simulator, the real SDK client and a
// worker over them.
type harness struct {
	t      testing.TB
	sb     *sbemu.Server
	gs     *graphsim.Server
	client *azservicebus.Client
	sender *azservicebus.Sender
	w      *worker.Worker
	logs   *syncBuffer
	logger *slog.Logger
	recv   *recordingReceiver
	proxy  *faultproxy.Proxy // with viaProxy

	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	runErr error
}

// syncBuffer collects JSON log lines from concurrent goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	t   testing.TB
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the decoded log records whose msg is msg.
func (b *syncBuffer) lines(msg string) []map[string]any {
	var out []map[string]any
	for _, l := range bytes.Split([]byte(b.String()), []byte("\n")) {
		var rec map[string]any
		if json.Unmarshal(l, &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

func newHarness(t testing.TB, o harnessOptions) *harness {
	t.Helper()
	if o.lockDuration == 0 {
		o.lockDuration = 2 * time.Second
	}
	if o.graphTimeout == 0 {
		o.graphTimeout = 5 * time.Second
	}
	cfg := sbemu.DefaultConfig()
	cfg.UserConfig.Namespaces[0].Queues[0].Properties.LockDuration = sbemu.Duration(o.lockDuration)
	sb, err := sbemu.NewServer(&sbemu.Options{TB: t, Config: cfg})
	require.NoError(t, err)
	gs, err := graphsim.NewServer(graphsim.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = gs.Close() })

	connStr := sb.ConnectionString()
	var proxy *faultproxy.Proxy
	if o.viaProxy {
		proxy, err = faultproxy.New(sb.Addr())
		require.NoError(t, err)
		t.Cleanup(func() { _ = proxy.Close() })
		connStr = strings.Replace(connStr, sb.Addr(), proxy.Addr(), 1)
	}
	client, err := azservicebus.NewClientFromConnectionString(connStr, testClientOptions())
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = client.Close(ctx)
	})
	sender, err := client.NewSender(queueName, nil)
	require.NoError(t, err)
	sdkReceiver, err := client.NewReceiverForQueue(queueName, nil)
	require.NoError(t, err)
	receiver := &recordingReceiver{Receiver: sdkReceiver, tokens: map[string][16]byte{}, until: map[string]time.Time{}}

	gc, err := graph.New(graph.Config{RootURL: gs.URL, Auth: graph.AuthNone, Timeout: o.graphTimeout})
	require.NoError(t, err)

	wcfg := worker.Config{
		Concurrency:          16,
		ShutdownTimeout:      3 * time.Second,
		Retry:                retry.Policy{InitialInterval: 10 * time.Millisecond, MaxInterval: 100 * time.Millisecond, MaxElapsed: time.Minute},
		BreakerThreshold:     5,
		BreakerProbeInterval: 100 * time.Millisecond,
		ProbeInterval:        200 * time.Millisecond,
		ReceiveWait:          time.Second,
		ReceiveRetryInterval: 50 * time.Millisecond,
	}
	if o.config != nil {
		o.config(&wcfg)
	}
	logs := &syncBuffer{t: t}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w, err := worker.New(wcfg, worker.Deps{Receiver: receiver, Graph: gc, Logger: logger})
	require.NoError(t, err)
	h := &harness{t: t, sb: sb, gs: gs, client: client, sender: sender, w: w, logs: logs, logger: logger, recv: receiver, proxy: proxy}
	t.Cleanup(func() {
		_ = h.stop()
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	return h
}

// start runs the worker in the background.
func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.done = make(chan error, 1)
	go func() { h.done <- h.w.Run(ctx) }()
}

// stop cancels Run's context (SIGTERM) and waits for it.
func (h *harness) stop() error {
	h.once.Do(func() {
		if h.cancel == nil {
			return
		}
		h.cancel()
		select {
		case h.runErr = <-h.done:
		case <-time.After(30 * time.Second):
			h.t.Error("Run did not return after cancel")
		}
	})
	return h.runErr
}

// sendUsers sends one message per user, with message id "m-<user>".
func (h *harness) sendUsers(users ...string) {
	h.t.Helper()
	for _, u := range users {
		h.sendRaw("m-"+u, fmt.Sprintf(`{"userId":%q}`, u))
	}
}

func (h *harness) sendRaw(id, body string) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ct := "application/json"
	require.NoError(h.t, h.sender.SendMessage(ctx, &azservicebus.Message{MessageID: &id, Body: []byte(body), ContentType: &ct}, nil))
}

// metric returns the value of one sample of the worker's /metrics, or 0.
func (h *harness) metric(sample string) float64 {
	rec := httptest.NewRecorder()
	h.w.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	re := regexp.MustCompile("(?m)^" + regexp.QuoteMeta(sample) + " ([0-9.e+-]+)$")
	m := re.FindStringSubmatch(rec.Body.String())
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

func completedSample() string { return `licensefix_messages_total{outcome="completed",reason=""}` }

func deadLetteredSample(r worker.Reason) string {
	return `licensefix_messages_total{outcome="dead_lettered",reason="` + string(r) + `"}`
}

// waitCompleted waits until n messages were completed.
func (h *harness) waitCompleted(n int, within time.Duration) {
	h.t.Helper()
	require.Eventually(h.t, func() bool { return h.metric(completedSample()) >= float64(n) }, within, 10*time.Millisecond,
		"completed %v of %d", h.metric(completedSample()), n)
}

// stats returns the queue's counts.
func (h *harness) stats() sbemu.Stats {
	h.t.Helper()
	s, err := h.sb.QueueStats(queueName)
	require.NoError(h.t, err)
	return s
}

// receiveAll receives up to n messages from the queue or its dead-letter
// queue with a fresh receiver, waiting at most within, and completes none.
func (h *harness) receiveAll(subQueue azservicebus.SubQueue, n int, within time.Duration) []*azservicebus.ReceivedMessage {
	h.t.Helper()
	r, err := h.client.NewReceiverForQueue(queueName, &azservicebus.ReceiverOptions{SubQueue: subQueue, ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
	require.NoError(h.t, err)
	defer func() { _ = r.Close(context.Background()) }()
	var out []*azservicebus.ReceivedMessage
	deadline := time.Now().Add(within)
	for len(out) < n && time.Now().Before(deadline) {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		msgs, err := r.ReceiveMessages(ctx, n-len(out), nil)
		cancel()
		if err != nil && ctx.Err() == nil {
			require.NoError(h.t, err)
		}
		out = append(out, msgs...)
	}
	return out
}

// drainCheck asserts the dead-letter queue holds nothing.
func (h *harness) requireNoDeadLetters() {
	h.t.Helper()
	require.Empty(h.t, h.receiveAll(azservicebus.SubQueueDeadLetter, 1, 300*time.Millisecond), "dead-letter queue must be empty")
}

// testClientOptions shortens the SDK's own retry delays (4s doubling by
// default) so recovery after a fault happens within a test's patience.
func testClientOptions() *azservicebus.ClientOptions {
	return &azservicebus.ClientOptions{RetryOptions: azservicebus.RetryOptions{RetryDelay: 50 * time.Millisecond, MaxRetryDelay: 500 * time.Millisecond}}
}

// recordingReceiver is the real SDK receiver, noting the lock token of
// every message it hands to the worker so tests can expire one lock.
type recordingReceiver struct {
	*azservicebus.Receiver
	mu     sync.Mutex
	tokens map[string][16]byte  // message id -> latest lock token
	until  map[string]time.Time // message id -> LockedUntil of the first delivery
}

func (r *recordingReceiver) ReceiveMessages(ctx context.Context, n int, o *azservicebus.ReceiveMessagesOptions) ([]*azservicebus.ReceivedMessage, error) {
	msgs, err := r.Receiver.ReceiveMessages(ctx, n, o)
	r.mu.Lock()
	for _, m := range msgs {
		r.tokens[m.MessageID] = m.LockToken
		if _, seen := r.until[m.MessageID]; !seen && m.LockedUntil != nil {
			r.until[m.MessageID] = *m.LockedUntil
		}
	}
	r.mu.Unlock()
	return msgs, err
}

// lockedUntil is when the first delivery of message id was locked until.
func (r *recordingReceiver) lockedUntil(id string) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.until[id]
}

func (r *recordingReceiver) token(id string) [16]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tokens[id]
}

var _ = io.Discard
