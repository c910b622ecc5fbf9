package sbemu

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestDebugLogShowsFramesButNoSecrets(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := NewServer(&Options{TB: t, Logger: logger})
	require.NoError(t, err)
	e := &confEnv{connStr: srv.ConnectionString(), queue: DefaultQueueName, srv: srv}
	e.client = newTestClient(t, e.connStr)
	const secretBody = "payload-that-must-not-be-logged"
	e.send(t, body(secretBody))
	r := e.receiver(t, nil)
	require.NoError(t, r.CompleteMessage(testCtx(t, 10*time.Second), receiveOne(t, r), nil))

	// A refused token is logged with its reason only.
	p := connParts(e.connStr)
	p["SharedAccessKey"] = "wrong-key-value"
	bad := newTestClient(t, withParts(p))
	s, err := bad.NewSender(DefaultQueueName, nil)
	require.NoError(t, err)
	requireCode(t, s.SendMessage(testCtx(t, 10*time.Second), body("x"), nil), azservicebus.CodeUnauthorizedAccess)

	out := buf.String()
	for _, want := range []string{"msg=frame_in", "msg=frame_out", "Attach{", "Transfer{", "Disposition{", "msg=cbs_token_refused", "conn=", "remote_addr="} {
		assert.Contains(t, out, want)
	}
	for _, secret := range []string{DefaultKey, "wrong-key-value", "SharedAccessSignature", "sig=", secretBody} {
		assert.NotContains(t, out, secret)
	}
}
