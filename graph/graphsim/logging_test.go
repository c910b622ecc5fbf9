package graphsim_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/graph/graphsim"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
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

func TestLogsRequestsWithoutTheToken(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	logger := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, c := start(t, graphsim.Options{Logger: logger, RequireToken: "s3cr3t-token"})
	require.Equal(t, http.StatusOK, post(t, s, c, "a@contoso.com", "Authorization", "Bearer s3cr3t-token", "client-request-id", "crid-9").status)
	require.Equal(t, http.StatusUnauthorized, post(t, s, c, "a@contoso.com", "Authorization", "Bearer wr0ng-token").status)
	// Recorded requests log safely too.
	for _, r := range s.Requests() {
		logger.Info("recorded", "request", r)
	}
	logs := out.String()
	assert.Contains(t, logs, `"msg":"graphsim_request"`)
	assert.Contains(t, logs, `"user_id":"a@contoso.com"`)
	assert.Contains(t, logs, `"client_request_id":"crid-9"`)
	assert.Contains(t, logs, `"status":401`)
	assert.Contains(t, logs, `"has_authorization":true`)
	assert.NotContains(t, logs, "s3cr3t")
	assert.NotContains(t, logs, "wr0ng")
}

func TestMaxRequestsKeepsTheLatest(t *testing.T) {
	t.Parallel()
	s, c := start(t, graphsim.Options{MaxRequests: 3})
	for _, id := range []string{"a@x.co", "b@x.co", "c@x.co", "d@x.co", "e@x.co"} {
		post(t, s, c, id)
	}
	reqs := s.Requests()
	require.Len(t, reqs, 3)
	assert.Equal(t, []string{"c@x.co", "d@x.co", "e@x.co"}, []string{reqs[0].UserID, reqs[1].UserID, reqs[2].UserID})
	assert.Equal(t, []int{200, 200, 200}, statuses(reqs), "statuses land on the right records after drops")
	assert.Equal(t, 1, s.Calls("a@x.co"), "calls count dropped requests")
}
