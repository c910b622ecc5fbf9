package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/licensefix/licensefix/retry"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const betaAction = "/cloudLicensing/assignments/reprocessAssignments"

func TestReprocessPaths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		api    API
		prefix string // path on RootURL
		id     string
		want   string // RequestURI the server sees
	}{
		{"guid", APIBeta, "", "0b5c5bd4-0f2e-4b37-8d2a-1f4a2c3b4d5e",
			"/beta/users/0b5c5bd4-0f2e-4b37-8d2a-1f4a2c3b4d5e" + betaAction},
		{"upn", APIBeta, "", "alice@contoso.com", "/beta/users/alice@contoso.com" + betaAction},
		{"dollar upn uses key form", APIBeta, "", "$admin@contoso.com", "/beta/users('$admin@contoso.com')" + betaAction},
		{"dollar upn doubles quotes", APIBeta, "", "$o'brien@contoso.com", "/beta/users('$o%27%27brien@contoso.com')" + betaAction},
		{"guest ext upn", APIBeta, "", "bob_fabrikam.com#EXT#@contoso.onmicrosoft.com",
			"/beta/users/bob_fabrikam.com%23EXT%23@contoso.onmicrosoft.com" + betaAction},
		{"apostrophe upn", APIBeta, "", "o'brien@contoso.com", "/beta/users/o%27brien@contoso.com" + betaAction},
		{"non-ascii upn", APIBeta, "", "josé@contoso.com", "/beta/users/jos%C3%A9@contoso.com" + betaAction},
		{"percent stays literal", APIBeta, "", "a%2Fb@contoso.com", "/beta/users/a%252Fb@contoso.com" + betaAction},
		{"v1 route", APIV1, "", "alice@contoso.com", "/v1.0/users/alice@contoso.com/reprocessLicenseAssignment"},
		{"v1 dollar upn", APIV1, "", "$x@contoso.com", "/v1.0/users('$x@contoso.com')/reprocessLicenseAssignment"},
		{"root path prefix", APIBeta, "/proxy/graph/", "alice@contoso.com", "/proxy/graph/beta/users/alice@contoso.com" + betaAction},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newRecorder(t, nil)
			c := newTestClient(t, Config{API: tt.api, RootURL: srv.URL + tt.prefix, Auth: AuthNone})
			_, err := c.Reprocess(context.Background(), tt.id)
			require.NoError(t, err)
			reqs := srv.Requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, tt.want, reqs[0].RequestURI)
			assert.Equal(t, http.MethodPost, reqs[0].Method)
		})
	}
}

// TestReprocessHostileIDsStayInOneSegment sends ids that are allowed but
// look like URL syntax, and checks the server sees them as exactly the one
// user segment of the expected path on the expected host, decoding back to
// the id.
func TestReprocessHostileIDsStayInOneSegment(t *testing.T) {
	t.Parallel()
	ids := []string{
		"#frag", "a#b", "@evil.example", "evil.example:443", "%2e%2e", "%2F", "%2e%2e%2fadmin", "%3F",
		";x=y", "a&b=c", "'", "''", "(x)", "a b", "http:evil", "~", "+", "=", "[::1]", "a.b", ".",
		"\u202eevil", "%", "%%", "%zz", "$", "$ref", "$count", "$batch", "$'')x('", "#EXT#", "*",
	}
	srv := newRecorder(t, nil)
	host := strings.TrimPrefix(srv.URL, "http://")
	c := newTestClient(t, Config{RootURL: srv.URL, Auth: AuthNone})
	for _, id := range ids {
		_, err := c.Reprocess(context.Background(), id)
		require.NoError(t, err, id)
	}
	reqs := srv.Requests()
	require.Len(t, reqs, len(ids))
	for i, r := range reqs {
		id := ids[i]
		assert.Equal(t, host, r.Host, id)
		require.True(t, strings.HasPrefix(r.RequestURI, "/beta/users"), "%q -> %s", id, r.RequestURI)
		require.True(t, strings.HasSuffix(r.RequestURI, betaAction), "%q -> %s", id, r.RequestURI)
		seg := strings.TrimSuffix(strings.TrimPrefix(r.RequestURI, "/beta/users"), betaAction)
		want := "/" + id
		if strings.HasPrefix(id, "$") {
			want = "('" + strings.ReplaceAll(id, "'", "''") + "')"
		}
		assert.NotContains(t, strings.TrimPrefix(seg, "/"), "/", id)
		assert.NotContains(t, seg, "?", id)
		assert.NotContains(t, seg, "#", id)
		decoded, err := url.PathUnescape(seg)
		require.NoError(t, err, id)
		assert.Equal(t, want, decoded, "segment %q", seg)
		assert.Equal(t, "/beta/users"+want+betaAction, r.Path, id)
	}
}

func TestReprocessRefusesIDs(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, nil)
	c := newTestClient(t, Config{RootURL: srv.URL, Auth: AuthNone})
	ids := []string{
		"", "a/b", "/", "../me", "..", "a..b", `a\b`, `\\evil\share`, "a?b=c", "?", "x\x00", "x\n", "x\r\nHost: evil",
		"\t", "x\x7f", "x\u0085", "\xff\xfe", "//evil.example/x", "http://evil.example/", strings.Repeat("a", maxUserIDLen+1),
	}
	for _, id := range ids {
		_, err := c.Reprocess(context.Background(), id)
		ge := asError(t, err)
		assert.Equal(t, retry.Permanent, ge.Class, "%q", id)
		assert.ErrorIs(t, err, ErrInvalidUserID, "%q", id)
		assert.Zero(t, ge.StatusCode)
	}
	assert.Empty(t, srv.Requests(), "refused ids must not send anything")
	// The longest accepted id still goes through.
	_, err := c.Reprocess(context.Background(), strings.Repeat("a", maxUserIDLen))
	require.NoError(t, err)
}

func TestReprocessHeaders(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, nil)
	cred := &fakeCredential{}
	c := newTestClient(t, Config{RootURL: srv.URL, Credential: cred, UserAgent: "licensefix/1.2.3"})
	res1, err := c.Reprocess(context.Background(), "alice@contoso.com")
	require.NoError(t, err)
	res2, err := c.Reprocess(context.Background(), "bob@contoso.com")
	require.NoError(t, err)

	reqs := srv.Requests()
	require.Len(t, reqs, 2)
	for _, r := range reqs {
		assert.Equal(t, http.MethodPost, r.Method)
		assert.Equal(t, int64(0), r.ContentLength)
		assert.Equal(t, "0", r.Header.Get("Content-Length"))
		assert.Empty(t, r.TransferEncoding, "must not be chunked")
		assert.Empty(t, r.Body)
		assert.Equal(t, "licensefix/1.2.3", r.Header.Get("User-Agent"))
		assert.Equal(t, "Bearer tok-1", r.Header.Get("Authorization"), "token is cached across calls")
		assert.Equal(t, "application/json", r.Header.Get("Accept"))
		_, err := uuid.Parse(r.Header.Get("client-request-id"))
		assert.NoError(t, err, "client-request-id is a GUID")
	}
	assert.NotEqual(t, reqs[0].Header.Get("client-request-id"), reqs[1].Header.Get("client-request-id"), "fresh per request")
	assert.Equal(t, reqs[0].Header.Get("client-request-id"), res1.ClientRequestID)
	assert.Equal(t, reqs[1].Header.Get("client-request-id"), res2.ClientRequestID)

	require.Equal(t, 1, cred.Calls())
	opts := cred.Options()[0]
	assert.Equal(t, []string{"https://graph.microsoft.com/.default"}, opts.Scopes, "scope stays the cloud's with a RootURL")
	assert.Empty(t, opts.Claims)
}

func TestReprocessAuthNoneSendsNoAuthorization(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, nil)
	c := newTestClient(t, Config{RootURL: srv.URL, Auth: AuthNone})
	_, err := c.Reprocess(context.Background(), "alice@contoso.com")
	require.NoError(t, err)
	reqs := srv.Requests()
	require.Len(t, reqs, 1)
	assert.Empty(t, reqs[0].Header.Values("Authorization"))
	assert.Equal(t, DefaultUserAgent, reqs[0].Header.Get("User-Agent"))
}

func TestReprocessSuccess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"200 no body", http.StatusOK, ""},
		{"204", http.StatusNoContent, ""},
		{"202", http.StatusAccepted, ""},
		{"200 with a user", http.StatusOK, `{"id":"0b5c5bd4","userPrincipalName":"alice@contoso.com"}`},
		{"200 with a huge body", http.StatusOK, strings.Repeat("x", 3<<20)},
		{"200 with an error-looking body", http.StatusOK, `{"error":{"code":"Nope"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
				w.Header().Set("request-id", "srv-req-1")
				w.Header().Set("x-ms-throttle-limit-percentage", "0.9")
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			})
			c := newTestClient(t, Config{RootURL: srv.URL, Auth: AuthNone})
			res, err := c.Reprocess(context.Background(), "alice@contoso.com")
			require.NoError(t, err)
			assert.Equal(t, tt.status, res.StatusCode)
			assert.Equal(t, "srv-req-1", res.RequestID)
			assert.NotEmpty(t, res.ClientRequestID)
			assert.InDelta(t, 0.9, res.ThrottleLimitPercentage, 1e-9)
			assert.Positive(t, res.Duration)
		})
	}
}

func TestReprocessStatusClasses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status int
		code   string
		want   retry.Class
	}{
		{400, "Request_BadRequest", retry.Permanent},
		{401, "InvalidAuthenticationToken", retry.Systemic},
		{403, "Authorization_RequestDenied", retry.Systemic},
		{404, "Request_ResourceNotFound", retry.Permanent},
		{405, "MethodNotAllowed", retry.Permanent},
		{407, "", retry.Systemic},
		{408, "RequestTimeout", retry.Transient},
		{409, "Directory_ConcurrencyViolation", retry.Transient},
		{409, "Request_MultipleObjectsWithSameKeyValue", retry.Permanent},
		{409, "", retry.Permanent},
		{410, "", retry.Permanent},
		{411, "", retry.Permanent},
		{413, "", retry.Permanent},
		{422, "SomethingNew", retry.Permanent},
		{429, "TooManyRequests", retry.Transient},
		{500, "InternalServerError", retry.Transient},
		{501, "NotImplemented", retry.Permanent},
		{502, "", retry.Transient},
		{503, "ServiceUnavailable", retry.Transient},
		{504, "GatewayTimeout", retry.Transient},
		{507, "", retry.Transient},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d_%s", tt.status, tt.code), func(t *testing.T) {
			t.Parallel()
			srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
				w.Header().Set("request-id", "srv-req")
				if tt.code == "" {
					w.WriteHeader(tt.status)
					return
				}
				graphError(w, tt.status, tt.code, "something about "+tt.code)
			})
			c := newTestClient(t, Config{RootURL: srv.URL, Auth: AuthNone})
			_, err := c.Reprocess(context.Background(), "alice@contoso.com")
			ge := asError(t, err)
			assert.Equal(t, tt.status, ge.StatusCode)
			assert.Equal(t, tt.code, ge.Code)
			assert.Equal(t, tt.want, ge.Class, "class of %d %s", tt.status, tt.code)
			assert.Equal(t, tt.want, ClassOf(err))
			assert.Equal(t, "srv-req", ge.RequestID)
			assert.NotEmpty(t, ge.ClientRequestID)
			assert.Nil(t, ge.Err)
			if tt.code != "" {
				assert.Equal(t, "something about "+tt.code, ge.Message)
			}
			assert.Len(t, srv.Requests(), 1, "the client never retries")
		})
	}
}

func TestReprocessHTMLErrorBody(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>"))
	})
	c := newTestClient(t, Config{RootURL: srv.URL, Auth: AuthNone})
	_, err := c.Reprocess(context.Background(), "alice@contoso.com")
	ge := asError(t, err)
	assert.Equal(t, 502, ge.StatusCode)
	assert.Empty(t, ge.Code)
	assert.Empty(t, ge.Message)
	assert.Equal(t, retry.Transient, ge.Class)
}

func TestReprocessRetryAfterAndThrottleHeaders(t *testing.T) {
	t.Parallel()
	serverDate := time.Date(2026, 11, 28, 17, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		retryAfter string
		want       time.Duration
		has        bool
	}{
		{"integer", "120", 120 * time.Second, true},
		{"fraction", "2.128", 2128 * time.Millisecond, true},
		{"http date relative to the server's Date", serverDate.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second, true},
		{"large", "900", 900 * time.Second, true},
		{"absurd is capped", "864000", retry.MaxRetryAfter, true},
		{"absent", "", 0, false},
		{"garbage", "later", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
				h := w.Header()
				h.Set("Date", serverDate.Format(http.TimeFormat))
				if tt.retryAfter != "" {
					h.Set("Retry-After", tt.retryAfter)
				}
				h.Set("x-ms-throttle-scope", "Tenant_Application/Write/app-id/tenant-id")
				h.Set("x-ms-throttle-information", "WriteLimitExceeded")
				h.Set("x-ms-ags-diagnostic", `{"ServerInfo":{"DataCenter":"West Europe"}}`)
				// The directory-style throttle body has no request-id.
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = w.Write([]byte(`{"error":{"code":"TooManyRequests","message":"Too many requests.","innerError":{"date":"2026-11-28T17:00:00"}}}`))
			})
			c := newTestClient(t, Config{RootURL: srv.URL, Auth: AuthNone})
			// A client clock far from the server's must not matter for HTTP dates.
			c.now = func() time.Time { return serverDate.Add(-10 * time.Minute) }
			_, err := c.Reprocess(context.Background(), "alice@contoso.com")
			ge := asError(t, err)
			assert.Equal(t, 429, ge.StatusCode)
			assert.Equal(t, "TooManyRequests", ge.Code)
			assert.Equal(t, retry.Transient, ge.Class)
			assert.Equal(t, tt.has, ge.HasRetryAfter)
			assert.Equal(t, tt.want, ge.RetryAfter)
			assert.Equal(t, "Tenant_Application/Write/app-id/tenant-id", ge.ThrottleScope)
			assert.Equal(t, "WriteLimitExceeded", ge.ThrottleInformation)
			assert.Equal(t, `{"ServerInfo":{"DataCenter":"West Europe"}}`, ge.Diagnostic)
			assert.True(t, serverDate.Equal(ge.Date), "Date from the header: %v", ge.Date)
			assert.Empty(t, ge.RequestID, "no request-id header and none in the body")
		})
	}
}

func TestReprocessRequestIDAndDateFromBody(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header()["Date"] = nil // suppress the server's automatic Date
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":"Request_ResourceNotFound","message":"Resource 'x' does not exist.",
			"innerError":{"innerError":{"request-id":"deep-req","date":"2026-11-28T16:59:58"}}}}`))
	})
	c := newTestClient(t, Config{RootURL: srv.URL, Auth: AuthNone})
	_, err := c.Reprocess(context.Background(), "alice@contoso.com")
	ge := asError(t, err)
	assert.Equal(t, "deep-req", ge.RequestID)
	assert.Equal(t, time.Date(2026, 11, 28, 16, 59, 58, 0, time.UTC), ge.Date)
	assert.Equal(t, retry.Permanent, ge.Class)

	// The header wins over the body.
	srv2 := newRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("request-id", "header-req")
		graphError(w, http.StatusNotFound, "Request_ResourceNotFound", "gone")
	})
	c2 := newTestClient(t, Config{RootURL: srv2.URL, Auth: AuthNone})
	_, err = c2.Reprocess(context.Background(), "alice@contoso.com")
	assert.Equal(t, "header-req", asError(t, err).RequestID)
}

func TestReprocessErrorStringHasNoSecrets(t *testing.T) {
	t.Parallel()
	const secret = "eyJ0eXAiOiJKV1QiLCJhbGciOi-super-secret"
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("request-id", "srv-req")
		w.Header().Set("Retry-After", "3")
		graphError(w, http.StatusTooManyRequests, "TooManyRequests", "slow down")
	})
	cred := &fakeCredential{}
	c := newTestClient(t, Config{RootURL: srv.URL, Credential: cred})
	_, err := c.Reprocess(context.Background(), "alice@contoso.com")
	ge := asError(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "HTTP 429 TooManyRequests: slow down")
	assert.Contains(t, msg, "request_id=srv-req")
	assert.Contains(t, msg, "client_request_id="+ge.ClientRequestID)
	assert.Contains(t, msg, "retry_after=3s")
	assert.Contains(t, msg, "class=transient")
	assert.NotContains(t, msg, "tok-1")
	assert.NotContains(t, msg, "Bearer")

	// A credential failure's text (which could echo anything the identity
	// platform said) stays out of Error() but is reachable by unwrapping.
	bad := &fakeCredential{err: errors.New("AADSTS7000215: invalid client secret " + secret)}
	c2 := newTestClient(t, Config{RootURL: srv.URL, Credential: bad})
	_, err = c2.Reprocess(context.Background(), "alice@contoso.com")
	ge = asError(t, err)
	assert.ErrorIs(t, err, ErrToken)
	assert.NotContains(t, err.Error(), secret)
	assert.Contains(t, err.Error(), "token acquisition failed")
	assert.ErrorIs(t, err, bad.err)
	assert.Equal(t, retry.Transient, ge.Class, "a plain credential error may be a network blip")
}
