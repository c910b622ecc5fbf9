package graph

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/licensefix/licensefix/retry"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// acceptToken answers 200 to Bearer good, 401 to anything else.
func acceptToken(good string, challenge string) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		if r.Header.Get("Authorization") == "Bearer "+good {
			w.WriteHeader(http.StatusOK)
			return
		}
		if challenge != "" {
			w.Header().Set("WWW-Authenticate", challenge)
		}
		graphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")
	}
}

func TestReprocess401RefreshesOnceThenSucceeds(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, acceptToken("tok-2", ""))
	cred := &fakeCredential{}
	c := newTestClient(t, Config{RootURL: srv.URL, Credential: cred})
	res, err := c.Reprocess(context.Background(), "alice@contoso.com")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, 2, cred.Calls(), "the cached token was dropped and a new one fetched")
	reqs := srv.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "Bearer tok-1", reqs[0].Header.Get("Authorization"))
	assert.Equal(t, "Bearer tok-2", reqs[1].Header.Get("Authorization"))
	assert.NotEqual(t, reqs[0].Header.Get("client-request-id"), reqs[1].Header.Get("client-request-id"))
	assert.Equal(t, reqs[1].Header.Get("client-request-id"), res.ClientRequestID)

	// The refreshed token is cached for the next call.
	_, err = c.Reprocess(context.Background(), "bob@contoso.com")
	require.NoError(t, err)
	assert.Equal(t, 2, cred.Calls())
	assert.Len(t, srv.Requests(), 3)
}

func TestReprocess401TwiceIsSystemic(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, acceptToken("never", ""))
	cred := &fakeCredential{}
	c := newTestClient(t, Config{RootURL: srv.URL, Credential: cred})
	_, err := c.Reprocess(context.Background(), "alice@contoso.com")
	ge := asError(t, err)
	assert.Equal(t, http.StatusUnauthorized, ge.StatusCode)
	assert.Equal(t, "InvalidAuthenticationToken", ge.Code)
	assert.Equal(t, retry.Systemic, ge.Class)
	assert.Len(t, srv.Requests(), 2, "exactly one repeat")
	assert.Equal(t, 2, cred.Calls())
	assert.Equal(t, srv.Requests()[1].Header.Get("client-request-id"), ge.ClientRequestID)
}

func TestReprocess401WithAuthNoneIsSystemicWithoutRepeat(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, acceptToken("never", ""))
	c := newTestClient(t, Config{RootURL: srv.URL, Auth: AuthNone})
	_, err := c.Reprocess(context.Background(), "alice@contoso.com")
	assert.Equal(t, retry.Systemic, asError(t, err).Class)
	assert.Len(t, srv.Requests(), 1)
}

func TestReprocess401ClaimsChallenge(t *testing.T) {
	t.Parallel()
	claims := `{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}`
	challenge := `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", ` +
		`error="insufficient_claims", claims="` + base64.StdEncoding.EncodeToString([]byte(claims)) + `"`
	srv := newRecorder(t, acceptToken("tok-2", challenge))
	cred := &fakeCredential{}
	c := newTestClient(t, Config{RootURL: srv.URL, Credential: cred})
	_, err := c.Reprocess(context.Background(), "alice@contoso.com")
	require.NoError(t, err)
	opts := cred.Options()
	require.Len(t, opts, 2)
	assert.Empty(t, opts[0].Claims)
	assert.True(t, opts[0].EnableCAE)
	assert.Equal(t, claims, opts[1].Claims, "the challenge's claims reach the credential")
}

func TestChallengeClaims(t *testing.T) {
	t.Parallel()
	enc := base64.RawURLEncoding.EncodeToString([]byte(`{"x":1}`))
	tests := []struct {
		name   string
		values []string
		want   string
	}{
		{"none", nil, ""},
		{"no claims", []string{`Bearer realm="", error="invalid_token"`}, ""},
		{"claims without insufficient_claims", []string{`Bearer claims="` + enc + `"`}, ""},
		{"raw url base64, unquoted error", []string{`Bearer error=insufficient_claims, claims="` + enc + `"`}, `{"x":1}`},
		{"second challenge", []string{`Basic realm="x"`, `Bearer error="insufficient_claims", claims="` + enc + `"`}, `{"x":1}`},
		{"undecodable", []string{`Bearer error="insufficient_claims", claims="%%%"`}, ""},
		{"not json", []string{`Bearer error="insufficient_claims", claims="` + base64.StdEncoding.EncodeToString([]byte("nope")) + `"`}, ""},
		{"unterminated quote", []string{`Bearer error="insufficient_claims", claims="abc`}, ""},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, challengeClaims(tt.values), tt.name)
	}
}

func TestTokenCacheExpiryAndRefreshOn(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 11, 28, 17, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	cred := &fakeCredential{now: clock, lifetime: 10 * time.Minute}
	tc := newTokenCache(cred, "scope/.default", clock)
	ctx := context.Background()
	tok, err := tc.get(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, "tok-1", tok)
	advance(4 * time.Minute) // 6 min left: still usable
	tok, _ = tc.get(ctx, "")
	assert.Equal(t, "tok-1", tok)
	advance(2 * time.Minute) // 4 min left: inside the margin
	tok, _ = tc.get(ctx, "")
	assert.Equal(t, "tok-2", tok)

	// invalidate only drops the token it names.
	tc.invalidate("tok-1")
	tok, _ = tc.get(ctx, "")
	assert.Equal(t, "tok-2", tok)
	tc.invalidate("tok-2")
	tok, _ = tc.get(ctx, "")
	assert.Equal(t, "tok-3", tok)

	// Claims always go to the credential.
	tok, _ = tc.get(ctx, "{}")
	assert.Equal(t, "tok-4", tok)

	// Past RefreshOn a refresh is tried; if it fails the valid token is kept.
	tc.mu.Lock()
	tc.tok.RefreshOn = clock().Add(-time.Second)
	tc.tok.ExpiresOn = clock().Add(time.Hour)
	tc.mu.Unlock()
	cred.mu.Lock()
	cred.err = errors.New("identity platform down")
	cred.mu.Unlock()
	tok, err = tc.get(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, "tok-4", tok)
	assert.Equal(t, 5, cred.Calls())
}

func TestTokenCacheSingleFetchUnderConcurrency(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, nil)
	gate := make(chan struct{})
	cred := &fakeCredential{gate: gate}
	c := newTestClient(t, Config{RootURL: srv.URL, Credential: cred})
	const n = 16
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, err := c.Reprocess(context.Background(), "alice@contoso.com")
			errs <- err
		})
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, 1, cred.Calls())
	assert.Len(t, srv.Requests(), n)
}

func TestReprocessTokenFailureClasses(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, nil)
	tests := []struct {
		name string
		err  error
		want retry.Class
	}{
		{"bad secret", &azidentity.AuthenticationFailedError{RawResponse: &http.Response{StatusCode: 401}}, retry.Systemic},
		{"unknown tenant", &azidentity.AuthenticationFailedError{RawResponse: &http.Response{StatusCode: 400}}, retry.Systemic},
		{"identity throttled", &azidentity.AuthenticationFailedError{RawResponse: &http.Response{StatusCode: 429}}, retry.Transient},
		{"identity down", &azidentity.AuthenticationFailedError{RawResponse: &http.Response{StatusCode: 503}}, retry.Transient},
		{"no response", &azidentity.AuthenticationFailedError{}, retry.Systemic},
		{"plain error", errors.New("dial tcp: connection refused"), retry.Transient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newTestClient(t, Config{RootURL: srv.URL, Credential: &fakeCredential{err: tt.err}})
			_, err := c.Reprocess(context.Background(), "alice@contoso.com")
			ge := asError(t, err)
			assert.Equal(t, tt.want, ge.Class)
			assert.ErrorIs(t, err, ErrToken)
			assert.Zero(t, ge.StatusCode)
		})
	}
	assert.Empty(t, srv.Requests(), "nothing is sent without a token")
}

func TestReprocessRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			other := newRecorder(t, nil)
			first := newRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
				http.Redirect(w, r, other.URL+r.URL.Path, status)
			})
			c := newTestClient(t, Config{RootURL: first.URL, Credential: &fakeCredential{}})
			_, err := c.Reprocess(context.Background(), "alice@contoso.com")
			ge := asError(t, err)
			assert.Equal(t, status, ge.StatusCode)
			assert.Equal(t, retry.Systemic, ge.Class)
			assert.ErrorIs(t, err, ErrRedirect)
			require.Len(t, first.Requests(), 1)
			assert.Equal(t, "Bearer tok-1", first.Requests()[0].Header.Get("Authorization"))
			for _, r := range other.Requests() {
				assert.Empty(t, r.Header.Values("Authorization"), "token leaked to another host")
			}
			assert.Empty(t, other.Requests(), "the redirect must not be followed")
		})
	}
}

func TestReprocessTLSVerificationFailureIsSystemic(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshake is expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	// The default transport does not trust the test server's certificate.
	c := newTestClient(t, Config{RootURL: srv.URL, Credential: &fakeCredential{}})
	_, err := c.Reprocess(context.Background(), "alice@contoso.com")
	ge := asError(t, err)
	assert.Equal(t, retry.Systemic, ge.Class)
	assert.NotNil(t, ge.Err)

	// With a transport that trusts it, https works.
	c2 := newTestClient(t, Config{RootURL: srv.URL, Credential: &fakeCredential{}, Transport: srv.Client().Transport})
	_, err = c2.Reprocess(context.Background(), "alice@contoso.com")
	require.NoError(t, err)
}

func TestTokenCacheWaiterHonoursContext(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	cred := &fakeCredential{gate: gate}
	tc := newTokenCache(cred, "s/.default", time.Now)
	first := make(chan error, 1)
	go func() {
		_, err := tc.get(context.Background(), "")
		first <- err
	}()
	// Wait until the first caller holds the fetch slot.
	require.Eventually(t, func() bool { return len(tc.fetching) == 1 }, 5*time.Second, time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := tc.get(ctx, "")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	close(gate)
	require.NoError(t, <-first)
	tok, err := tc.get(context.Background(), "")
	require.NoError(t, err)
	assert.Equal(t, "tok-1", tok)
	assert.Equal(t, 1, cred.Calls())
}
