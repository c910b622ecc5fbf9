package graph

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/stretchr/testify/require"
)

// fakeCredential is an azcore.TokenCredential that hands out "tok-1",
// "tok-2", ... and records every request.
type fakeCredential struct {
	mu       sync.Mutex
	calls    int
	options  []policy.TokenRequestOptions
	err      error
	lifetime time.Duration
	now      func() time.Time
	gate     chan struct{} // if set, GetToken waits for it
}

var _ azcore.TokenCredential = (*fakeCredential)(nil)

func (f *fakeCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return azcore.AccessToken{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.options = append(f.options, opts)
	if f.err != nil {
		return azcore.AccessToken{}, f.err
	}
	now := time.Now()
	if f.now != nil {
		now = f.now()
	}
	lifetime := f.lifetime
	if lifetime == 0 {
		lifetime = time.Hour
	}
	return azcore.AccessToken{Token: fmt.Sprintf("tok-%d", f.calls), ExpiresOn: now.Add(lifetime)}, nil
}

func (f *fakeCredential) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeCredential) Options() []policy.TokenRequestOptions {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]policy.TokenRequestOptions(nil), f.options...)
}

// recorded is what a test server saw of one request.
type recorded struct {
	Method, RequestURI, Path, Host string
	Header                         http.Header
	ContentLength                  int64
	TransferEncoding               []string
	Body                           []byte
}

// recorder is an httptest server that records requests and answers with
// respond (default 200, no body).
type recorder struct {
	*httptest.Server
	mu       sync.Mutex
	requests []recorded
	count    atomic.Int64
}

func newRecorder(t *testing.T, respond func(w http.ResponseWriter, r *http.Request, n int)) *recorder {
	t.Helper()
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n := int(rec.count.Add(1))
		rec.mu.Lock()
		rec.requests = append(rec.requests, recorded{
			Method: r.Method, RequestURI: r.RequestURI, Path: r.URL.Path, Host: r.Host,
			Header: r.Header.Clone(), ContentLength: r.ContentLength,
			TransferEncoding: r.TransferEncoding, Body: body,
		})
		rec.mu.Unlock()
		if respond != nil {
			respond(w, r, n)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (r *recorder) Requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.requests...)
}

// newTestClient returns a Client for root with a fake credential, closing
// its idle connections at cleanup.
func newTestClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { closeIdle(c) })
	return c
}

// asError returns err as *Error, failing the test otherwise.
func asError(t *testing.T, err error) *Error {
	t.Helper()
	require.Error(t, err)
	var ge *Error
	require.True(t, errors.As(err, &ge), "want *Error, got %T: %v", err, err)
	return ge
}

// graphError writes a Graph-style JSON error.
func graphError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"error":{"code":%q,"message":%q,"innerError":{"date":"2026-11-28T17:00:00","request-id":"body-req-id","client-request-id":"body-crid"}}}`, code, message)
}

// closeIdle closes c's idle connections when its transport keeps any.
func closeIdle(c *Client) {
	if t, ok := c.transport.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
}
