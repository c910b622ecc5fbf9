package sbemu

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/stretchr/testify/require"
)

// testLogger logs to stderr at debug level when SBEMU_DEBUG is set, and
// discards otherwise.
func testLogger() *slog.Logger {
	if os.Getenv("SBEMU_DEBUG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// fastRetries keep SDK recovery quick in tests.
var fastRetries = azservicebus.RetryOptions{
	MaxRetries:    8,
	RetryDelay:    20 * time.Millisecond,
	MaxRetryDelay: 250 * time.Millisecond,
}

// newTestClient connects the SDK to connStr and closes it when the test ends.
func newTestClient(t *testing.T, connStr string) *azservicebus.Client {
	t.Helper()
	client, err := azservicebus.NewClientFromConnectionString(connStr, &azservicebus.ClientOptions{RetryOptions: fastRetries})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Close(ctx)
	})
	return client
}

// testCtx is a context bounded by d and cancelled when the test ends.
func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// receiveN collects exactly n messages, failing the test after timeout.
func receiveN(t *testing.T, r *azservicebus.Receiver, n int, timeout time.Duration) []*azservicebus.ReceivedMessage {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var got []*azservicebus.ReceivedMessage
	for len(got) < n {
		left := time.Until(deadline)
		require.Positive(t, left, "received %d of %d messages before the timeout", len(got), n)
		ctx, cancel := context.WithTimeout(context.Background(), left)
		msgs, err := r.ReceiveMessages(ctx, n-len(got), nil)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			continue
		}
		require.NoError(t, err)
		got = append(got, msgs...)
	}
	require.Len(t, got, n)
	return got
}

// receiveOne collects one message.
func receiveOne(t *testing.T, r *azservicebus.Receiver) *azservicebus.ReceivedMessage {
	t.Helper()
	return receiveN(t, r, 1, 10*time.Second)[0]
}

// expectNone checks that nothing arrives within wait.
func expectNone(t *testing.T, r *azservicebus.Receiver, wait time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	msgs, err := r.ReceiveMessages(ctx, 1, nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Empty(t, msgs)
}

// requireCode checks that err is an *azservicebus.Error with code.
func requireCode(t *testing.T, err error, code azservicebus.Code) {
	t.Helper()
	require.Error(t, err)
	var sbErr *azservicebus.Error
	require.True(t, errors.As(err, &sbErr), "want *azservicebus.Error with code %s, got %T: %v", code, err, err)
	require.Equal(t, code, sbErr.Code, "error: %v", err)
}

// connParts splits a connection string into its key=value parts.
func connParts(connStr string) map[string]string {
	out := map[string]string{}
	for part := range strings.SplitSeq(connStr, ";") {
		k, v, ok := strings.Cut(part, "=")
		if ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

// withParts rebuilds a connection string from parts in a fixed order.
func withParts(p map[string]string) string {
	var sb strings.Builder
	for _, k := range []string{"Endpoint", "SharedAccessKeyName", "SharedAccessKey", "SharedAccessSignature", "EntityPath", "UseDevelopmentEmulator"} {
		if v, ok := p[k]; ok {
			fmt.Fprintf(&sb, "%s=%s;", k, v)
		}
	}
	return strings.TrimSuffix(sb.String(), ";")
}
