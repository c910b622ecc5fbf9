package graph

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/licensefix/licensefix/retry"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReprocessPerAttemptTimeoutIsTransient(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	c := newTestClient(t, Config{RootURL: srv.URL, Auth: AuthNone, Timeout: 50 * time.Millisecond})
	_, err := c.Reprocess(context.Background(), "alice@contoso.com")
	ge := asError(t, err)
	assert.Equal(t, retry.Transient, ge.Class)
	assert.ErrorIs(t, err, ErrAttemptTimeout)
	assert.Zero(t, ge.StatusCode)
	assert.NotEmpty(t, ge.ClientRequestID)
	assert.Equal(t, retry.Transient, ClassOf(err))
	assert.Contains(t, err.Error(), "per-attempt timeout")
}

func TestReprocessTimeoutWhileReadingErrorBodyKeepsStatus(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":`))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	c := newTestClient(t, Config{RootURL: srv.URL, Auth: AuthNone, Timeout: 100 * time.Millisecond})
	_, err := c.Reprocess(context.Background(), "alice@contoso.com")
	ge := asError(t, err)
	assert.Equal(t, http.StatusServiceUnavailable, ge.StatusCode)
	assert.Equal(t, retry.Transient, ge.Class)
}

func TestReprocessCallerCancelIsNotAGraphError(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	c := newTestClient(t, Config{RootURL: srv.URL, Auth: AuthNone, Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Reprocess(ctx, "alice@contoso.com")
		done <- err
	}()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("request never arrived")
	}
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Reprocess did not return after cancel")
	}
	require.Error(t, err)
	var ge *Error
	assert.False(t, errors.As(err, &ge), "a caller cancel is not a Graph failure: %v", err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, ErrAttemptTimeout)
	assert.Equal(t, retry.Transient, ClassOf(err))

	// A context that is already done sends nothing.
	before := len(srv.Requests())
	_, err = c.Reprocess(ctx, "alice@contoso.com")
	assert.ErrorIs(t, err, context.Canceled)
	assert.Len(t, srv.Requests(), before)

	// A cancel cause is kept alongside context.Canceled.
	cause := errors.New("shutting down")
	cctx, ccancel := context.WithCancelCause(context.Background())
	ccancel(cause)
	_, err = c.Reprocess(cctx, "alice@contoso.com")
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, err, cause)
}

func TestReprocessCallerDeadlineIsNotAnAttemptTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	c := newTestClient(t, Config{RootURL: srv.URL, Auth: AuthNone, Timeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Reprocess(ctx, "alice@contoso.com")
	var ge *Error
	assert.False(t, errors.As(err, &ge))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, ErrAttemptTimeout)
}

func TestReprocessConnectionResetIsTransient(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close with RST
		}
		_ = conn.Close()
	})
	c := newTestClient(t, Config{RootURL: srv.URL, Auth: AuthNone})
	_, err := c.Reprocess(context.Background(), "alice@contoso.com")
	ge := asError(t, err)
	assert.Equal(t, retry.Transient, ge.Class)
	assert.Zero(t, ge.StatusCode)
	require.Error(t, ge.Err)
	assert.ErrorIs(t, err, ge.Err)
}

func TestReprocessResetMidResponseIsTransient(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n")
		_ = buf.Flush()
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = conn.Close()
	})
	c := newTestClient(t, Config{RootURL: srv.URL, Auth: AuthNone})
	_, err := c.Reprocess(context.Background(), "alice@contoso.com")
	assert.Equal(t, retry.Transient, asError(t, err).Class)
}

func TestReprocessConnectionRefusedIsTransient(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	c := newTestClient(t, Config{RootURL: "http://" + addr, Auth: AuthNone})
	_, err = c.Reprocess(context.Background(), "alice@contoso.com")
	ge := asError(t, err)
	assert.Equal(t, retry.Transient, ge.Class)
	var ne net.Error
	assert.True(t, errors.As(err, &ne))
}

func TestClassOf(t *testing.T) {
	t.Parallel()
	var nilErr error
	tests := []struct {
		name string
		err  error
		want retry.Class
	}{
		{"nil", nilErr, 0},
		{"graph error", &Error{Class: retry.Systemic}, retry.Systemic},
		{"wrapped graph error", errors.Join(errors.New("x"), &Error{Class: retry.Transient}), retry.Transient},
		{"graph error without class", &Error{}, retry.Permanent},
		{"canceled", context.Canceled, retry.Transient},
		{"deadline", context.DeadlineExceeded, retry.Transient},
		{"net error", &net.OpError{Op: "dial", Err: errors.New("refused")}, retry.Transient},
		{"unknown", errors.New("??"), retry.Permanent},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, ClassOf(tt.err), tt.name)
	}
}

func TestErrorString(t *testing.T) {
	t.Parallel()
	e := &Error{
		StatusCode: 503, Code: "ServiceUnavailable", Message: "try later",
		RequestID: "r1", ClientRequestID: "c1", RetryAfter: 1500 * time.Millisecond, HasRetryAfter: true,
		ThrottleScope: "Tenant/Write/a/t", ThrottleInformation: "WriteLimitExceeded", Class: retry.Transient,
	}
	assert.Equal(t, "graph: reprocess: HTTP 503 ServiceUnavailable: try later (request_id=r1 client_request_id=c1 "+
		"retry_after=1.5s throttle_scope=Tenant/Write/a/t throttle_information=WriteLimitExceeded class=transient)", e.Error())
	e2 := &Error{ClientRequestID: "c2", Class: retry.Transient, Err: errors.New("graph: boom")}
	assert.Equal(t, "graph: reprocess: boom (client_request_id=c2 class=transient)", e2.Error())
	assert.Equal(t, e2.Err, errors.Unwrap(e2))
}

func TestClassifyStatus(t *testing.T) {
	t.Parallel()
	tests := map[int]retry.Class{
		200: 0, 204: 0, 299: 0,
		100: retry.Permanent, 304: retry.Systemic, 399: retry.Systemic,
		400: retry.Permanent, 418: retry.Permanent, 499: retry.Permanent,
		401: retry.Systemic, 403: retry.Systemic, 407: retry.Systemic,
		408: retry.Transient, 429: retry.Transient,
		500: retry.Transient, 501: retry.Permanent, 505: retry.Transient, 599: retry.Transient,
	}
	for status, want := range tests {
		assert.Equal(t, want, classifyStatus(status, ""), "status %d", status)
	}
	assert.Equal(t, retry.Transient, classifyStatus(409, "Directory_ConcurrencyViolation"))
	assert.Equal(t, retry.Permanent, classifyStatus(409, "directory_concurrencyviolation"), "codes are matched exactly")
}
