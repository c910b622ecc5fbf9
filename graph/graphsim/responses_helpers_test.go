package graphsim_test

import (
	"encoding/base64"
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/graph/graphsim"
)

func TestThrottledHelper(t *testing.T) {
	t.Parallel()
	s, c := start(t, graphsim.Options{})
	s.Script("a@contoso.com", graphsim.Throttled("2.128"), graphsim.Throttled(""))
	res := post(t, s, c, "a@contoso.com")
	require.Equal(t, http.StatusTooManyRequests, res.status)
	assert.Equal(t, "2.128", res.header.Get("Retry-After"))
	assert.Equal(t, "Tenant_Application/Write/"+graphsim.DefaultAppID+"/"+graphsim.DefaultTenantID, res.header.Get("x-ms-throttle-scope"))
	assert.Equal(t, "WriteLimitExceeded", res.header.Get("x-ms-throttle-information"))
	assert.Equal(t, "TooManyRequests", decodeError(t, res.body).Error.Code)
	res = post(t, s, c, "a@contoso.com")
	require.Equal(t, http.StatusTooManyRequests, res.status)
	assert.Empty(t, res.header.Get("Retry-After"))
}

func TestClaimsChallengeHelper(t *testing.T) {
	t.Parallel()
	s, c := start(t, graphsim.Options{})
	claims := `{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}`
	s.Script("a@contoso.com", graphsim.ClaimsChallenge(claims))
	res := post(t, s, c, "a@contoso.com")
	require.Equal(t, http.StatusUnauthorized, res.status)
	assert.Equal(t, "InvalidAuthenticationToken", decodeError(t, res.body).Error.Code)
	www := res.header.Get("WWW-Authenticate")
	assert.Contains(t, www, `error="insufficient_claims"`)
	m := regexp.MustCompile(`claims="([^"]+)"`).FindStringSubmatch(www)
	require.Len(t, m, 2)
	got, err := base64.StdEncoding.DecodeString(m[1])
	require.NoError(t, err)
	assert.JSONEq(t, claims, string(got))
	assert.Equal(t, http.StatusOK, post(t, s, c, "a@contoso.com").status)
}
