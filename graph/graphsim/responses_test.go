package graphsim_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/graph/graphsim"
)

func TestDefaultBetaAnswerIs200WithoutBodyAndSupportHeaders(t *testing.T) {
	t.Parallel()
	s, c := start(t, graphsim.Options{})
	crid := uuid.NewString()
	res := post(t, s, c, "a@contoso.com", "client-request-id", crid)
	require.Equal(t, http.StatusOK, res.status)
	assert.Empty(t, res.body)
	assert.Equal(t, "0", res.header.Get("Content-Length"))
	_, err := uuid.Parse(res.header.Get("request-id"))
	require.NoError(t, err, "request-id must be a GUID")
	assert.Equal(t, crid, res.header.Get("client-request-id"))
	_, err = http.ParseTime(res.header.Get("Date"))
	require.NoError(t, err)
	assert.Empty(t, res.header.Get("x-ms-throttle-limit-percentage"), "no bucket, no pressure")

	again := post(t, s, c, "a@contoso.com")
	assert.NotEqual(t, res.header.Get("request-id"), again.header.Get("request-id"), "request-id is fresh per response")
	assert.Empty(t, again.header.Get("client-request-id"), "nothing to echo")
}

func TestDefaultV1AnswerIsTheUserObject(t *testing.T) {
	t.Parallel()
	s, c := start(t, graphsim.Options{})
	guid := "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
	for _, tc := range []struct{ id, wantUPN string }{
		{guid, ""},
		{"adele.vance@contoso.com", "adele.vance@contoso.com"},
	} {
		res := call(t, c, http.MethodPost, s.URL+v1Path(tc.id))
		require.Equal(t, http.StatusOK, res.status)
		assert.True(t, strings.HasPrefix(res.header.Get("Content-Type"), "application/json"))
		var u struct {
			Context string `json:"@odata.context"`
			ID      string `json:"id"`
			UPN     string `json:"userPrincipalName"`
		}
		require.NoError(t, json.Unmarshal(res.body, &u))
		assert.Contains(t, u.Context, "$metadata#users/$entity")
		_, err := uuid.Parse(u.ID)
		require.NoError(t, err)
		if tc.wantUPN == "" {
			assert.Equal(t, guid, u.ID)
		} else {
			assert.Equal(t, tc.wantUPN, u.UPN)
		}
	}
	reqs := s.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, graphsim.APIV1, reqs[0].API)
	assert.Equal(t, guid, reqs[0].UserID)
}

func TestScriptedResponses(t *testing.T) {
	t.Parallel()
	httpDate := time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC).Format(http.TimeFormat)
	scope := "Tenant_Application/Write/app/tenant"
	cases := []struct {
		name       string
		resp       graphsim.Response
		wantStatus int
		wantCode   string // "" when the body is not a Graph error
		wantRA     string
		check      func(t *testing.T, res result)
	}{
		{name: "204", resp: graphsim.Response{Status: 204}, wantStatus: 204,
			check: func(t *testing.T, res result) { assert.Empty(t, res.body) }},
		{name: "429 integer", resp: graphsim.Response{Status: 429, RetryAfter: "3"}, wantStatus: 429, wantCode: "TooManyRequests", wantRA: "3"},
		{name: "429 fractional", resp: graphsim.Response{Status: 429, RetryAfter: "2.128"}, wantStatus: 429, wantCode: "TooManyRequests", wantRA: "2.128"},
		{name: "429 http date", resp: graphsim.Response{Status: 429, RetryAfter: httpDate}, wantStatus: 429, wantCode: "TooManyRequests", wantRA: httpDate},
		{name: "429 large", resp: graphsim.Response{Status: 429, RetryAfter: "120"}, wantStatus: 429, wantCode: "TooManyRequests", wantRA: "120"},
		{name: "429 absent", resp: graphsim.Response{Status: 429}, wantStatus: 429, wantCode: "TooManyRequests"},
		{name: "429 throttle headers, directory body without request-id",
			resp: graphsim.Response{Status: 429, RetryAfter: "1", OmitBodyRequestID: true, Header: http.Header{
				"x-ms-throttle-scope":       {scope},
				"x-ms-throttle-information": {"WriteLimitExceeded"},
			}},
			wantStatus: 429, wantCode: "TooManyRequests", wantRA: "1",
			check: func(t *testing.T, res result) {
				assert.Equal(t, scope, res.header.Get("x-ms-throttle-scope"))
				assert.Equal(t, "WriteLimitExceeded", res.header.Get("x-ms-throttle-information"))
				assert.Empty(t, decodeError(t, res.body).Error.InnerError.RequestID)
				assert.NotEmpty(t, res.header.Get("request-id"), "the header keeps it")
			}},
		{name: "503 with Retry-After", resp: graphsim.Response{Status: 503, RetryAfter: "5"}, wantStatus: 503, wantCode: "ServiceUnavailable", wantRA: "5"},
		{name: "503 without Retry-After", resp: graphsim.Response{Status: 503}, wantStatus: 503, wantCode: "ServiceUnavailable"},
		{name: "502 HTML", resp: graphsim.Response{Status: 502, Body: "<html><body>Bad Gateway</body></html>"}, wantStatus: 502,
			check: func(t *testing.T, res result) {
				assert.Equal(t, "<html><body>Bad Gateway</body></html>", string(res.body))
				assert.True(t, strings.HasPrefix(res.header.Get("Content-Type"), "text/html"))
			}},
		{name: "500", resp: graphsim.Response{Status: 500}, wantStatus: 500, wantCode: "InternalServerError"},
		{name: "504", resp: graphsim.Response{Status: 504}, wantStatus: 504, wantCode: "UnknownError"},
		{name: "409", resp: graphsim.Response{Status: 409}, wantStatus: 409, wantCode: "Directory_ConcurrencyViolation"},
		{name: "400", resp: graphsim.Response{Status: 400}, wantStatus: 400, wantCode: "Request_BadRequest"},
		{name: "401", resp: graphsim.Response{Status: 401}, wantStatus: 401, wantCode: "InvalidAuthenticationToken"},
		{name: "403", resp: graphsim.Response{Status: 403}, wantStatus: 403, wantCode: "Authorization_RequestDenied"},
		{name: "404", resp: graphsim.Response{Status: 404}, wantStatus: 404, wantCode: "Request_ResourceNotFound"},
		{name: "405 scripted", resp: graphsim.Response{Status: 405}, wantStatus: 405, wantCode: "Request_BadRequest"},
		{name: "501", resp: graphsim.Response{Status: 501}, wantStatus: 501, wantCode: "NotImplemented"},
		{name: "unknown code", resp: graphsim.Response{Status: 400, Code: "Brand_NewCode", Message: "something new"}, wantStatus: 400, wantCode: "Brand_NewCode",
			check: func(t *testing.T, res result) {
				assert.Equal(t, "something new", decodeError(t, res.body).Error.Message)
			}},
		{name: "unknown status", resp: graphsim.Response{Status: 599}, wantStatus: 599, wantCode: "UnknownError"},
		{name: "redirect", resp: graphsim.Response{RedirectTo: "http://127.0.0.1:1/elsewhere"}, wantStatus: 307,
			check: func(t *testing.T, res result) {
				assert.Equal(t, "http://127.0.0.1:1/elsewhere", res.header.Get("Location"))
			}},
	}
	s, c := start(t, graphsim.Options{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id := strings.ReplaceAll(tc.name, " ", ".") + "@contoso.com"
			s.Script(id, tc.resp)
			crid := uuid.NewString()
			res := post(t, s, c, id, "client-request-id", crid)
			require.Equal(t, tc.wantStatus, res.status)
			assert.Equal(t, tc.wantRA, res.header.Get("Retry-After"))
			assert.NotEmpty(t, res.header.Get("request-id"))
			assert.Equal(t, crid, res.header.Get("client-request-id"))
			assert.NotEmpty(t, res.header.Get("Date"))
			if tc.wantCode != "" {
				assert.Equal(t, "application/json", res.header.Get("Content-Type"))
				e := decodeError(t, res.body)
				assert.Equal(t, tc.wantCode, e.Error.Code)
				assert.NotEmpty(t, e.Error.Message)
				assert.Equal(t, crid, e.Error.InnerError.ClientRequestID)
				if !tc.resp.OmitBodyRequestID {
					assert.Equal(t, res.header.Get("request-id"), e.Error.InnerError.RequestID)
				}
				_, err := time.Parse("2006-01-02T15:04:05", e.Error.InnerError.Date)
				require.NoError(t, err, "date %q has no time zone", e.Error.InnerError.Date)
			}
			if tc.check != nil {
				tc.check(t, res)
			}
			// The script is used up: the next call gets the default.
			assert.Equal(t, http.StatusOK, post(t, s, c, id).status)
		})
	}
}

func TestDefaultCode(t *testing.T) {
	t.Parallel()
	for status, want := range map[int]string{
		400: "Request_BadRequest", 401: "InvalidAuthenticationToken", 403: "Authorization_RequestDenied",
		404: "Request_ResourceNotFound", 409: "Directory_ConcurrencyViolation", 429: "TooManyRequests",
		500: "InternalServerError", 503: "ServiceUnavailable", 502: "UnknownError", 504: "UnknownError",
		418: "Request_BadRequest", 501: "NotImplemented",
	} {
		assert.Equal(t, want, graphsim.DefaultCode(status), "status %d", status)
	}
}

func TestRedirectIsFollowedWithoutAuthorizationToAnotherHost(t *testing.T) {
	t.Parallel()
	first, _ := start(t, graphsim.Options{})
	second, _ := start(t, graphsim.Options{})
	id := "moved@contoso.com"
	// 127.0.0.1 and localhost are different hosts to net/http.
	target := strings.Replace(second.URL, "127.0.0.1", "localhost", 1) + betaPath(id)
	first.Script(id, graphsim.Response{RedirectTo: target})
	c := &http.Client{}
	t.Cleanup(c.CloseIdleConnections)
	res := call(t, c, http.MethodPost, first.URL+betaPath(id), "Authorization", "Bearer secret")
	require.Equal(t, http.StatusOK, res.status)
	got := second.Requests()
	require.Len(t, got, 1)
	assert.False(t, got[0].HasAuthorization, "the client must drop Authorization across hosts")
	assert.Equal(t, []int{http.StatusTemporaryRedirect}, statuses(first.Requests()))
}
