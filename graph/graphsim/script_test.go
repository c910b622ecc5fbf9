package graphsim_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/graph/graphsim"
)

// answers posts n times for id and returns the statuses.
func answers(t *testing.T, s *graphsim.Server, c *http.Client, id string, n int, header ...string) []int {
	t.Helper()
	out := make([]int, n)
	for i := range out {
		out[i] = post(t, s, c, id, header...).status
	}
	return out
}

func TestSequencesThenDefault(t *testing.T) {
	t.Parallel()
	s, c := start(t, graphsim.Options{})
	s.Script("t@contoso.com", graphsim.Response{Status: 429, RetryAfter: "1"}, graphsim.Response{Status: 429, RetryAfter: "1"}, graphsim.Response{Status: 429})
	s.Script("f@contoso.com", graphsim.Response{Status: 503}, graphsim.Response{Status: 503})
	s.Script("n@contoso.com", graphsim.Response{Status: 404})
	s.Script("n@contoso.com", graphsim.Response{Status: 409}) // appends

	assert.Equal(t, []int{429, 429, 429, 200, 200}, answers(t, s, c, "t@contoso.com", 5))
	assert.Equal(t, []int{503, 503, 200}, answers(t, s, c, "F@Contoso.com", 3), "ids match case-insensitively")
	assert.Equal(t, []int{404, 409, 200}, answers(t, s, c, "n@contoso.com", 3))
	assert.Equal(t, 5, s.Calls("t@contoso.com"))
	assert.Equal(t, 3, s.Calls("f@contoso.com"))
	assert.Equal(t, 0, s.Calls("nobody@contoso.com"))
}

func TestForeverDefaultAndForget(t *testing.T) {
	t.Parallel()
	s, c := start(t, graphsim.Options{})
	s.Script("x@contoso.com", graphsim.Response{Status: 500})
	s.Forever("x@contoso.com", graphsim.Response{Status: 429}) // drops the queued 500
	assert.Equal(t, []int{429, 429, 429}, answers(t, s, c, "x@contoso.com", 3))

	s.Script("x@contoso.com", graphsim.Response{Status: 503}, graphsim.Response{Status: 503})
	assert.Equal(t, []int{503, 503, 429, 429}, answers(t, s, c, "x@contoso.com", 4), "queue first, then Forever")

	s.Forever("x@contoso.com", graphsim.Response{Status: 404})
	assert.Equal(t, []int{404, 404}, answers(t, s, c, "x@contoso.com", 2), "Forever again re-scripts")

	s.SetDefault(graphsim.Response{Status: 204})
	assert.Equal(t, []int{204}, answers(t, s, c, "other@contoso.com", 1))
	assert.Equal(t, []int{404}, answers(t, s, c, "x@contoso.com", 1), "a script beats the default")
	s.Forget("x@contoso.com")
	assert.Equal(t, []int{204}, answers(t, s, c, "x@contoso.com", 1))
}

func TestOutage(t *testing.T) {
	t.Parallel()
	s, c := start(t, graphsim.Options{})
	s.Script("a@contoso.com", graphsim.Response{Status: 404})
	s.SetOutage("7")
	for _, id := range []string{"a@contoso.com", "b@contoso.com", "a@contoso.com"} {
		res := post(t, s, c, id)
		require.Equal(t, http.StatusServiceUnavailable, res.status)
		assert.Equal(t, "7", res.header.Get("Retry-After"))
		assert.Equal(t, "ServiceUnavailable", decodeError(t, res.body).Error.Code)
	}
	s.SetOutage("")
	res := post(t, s, c, "b@contoso.com")
	require.Equal(t, http.StatusServiceUnavailable, res.status)
	assert.Empty(t, res.header.Get("Retry-After"))
	s.EndOutage()
	assert.Equal(t, []int{404, 200}, answers(t, s, c, "a@contoso.com", 2), "the outage consumed no script")
}

func TestTokenBucketCountsWritesTenantWide(t *testing.T) {
	t.Parallel()
	s, c := start(t, graphsim.Options{AppID: "app-1", TenantID: "tenant-1"})
	s.SetTokenBucket(5, time.Hour)
	s.Script("scripted@contoso.com", graphsim.Response{Status: 404})
	var got []int
	var pct []string
	for i := range 8 {
		res := post(t, s, c, "user"+strconv.Itoa(i%3)+"@contoso.com")
		got = append(got, res.status)
		pct = append(pct, res.header.Get("x-ms-throttle-limit-percentage"))
		if res.status == http.StatusTooManyRequests {
			ra, err := strconv.Atoi(res.header.Get("Retry-After"))
			require.NoError(t, err, "an integer number of seconds")
			assert.Greater(t, ra, 3000, "the oldest write frees in about an hour")
			assert.LessOrEqual(t, ra, 3600)
			assert.Equal(t, "Tenant_Application/Write/app-1/tenant-1", res.header.Get("x-ms-throttle-scope"))
			assert.Equal(t, "WriteLimitExceeded", res.header.Get("x-ms-throttle-information"))
			assert.Equal(t, "TooManyRequests", decodeError(t, res.body).Error.Code)
		}
	}
	assert.Equal(t, []int{200, 200, 200, 200, 200, 429, 429, 429}, got)
	assert.Equal(t, []string{"", "", "", "", "1.00", "", "", ""}, pct, "only above 80 % and only on 2xx")
	// A throttled call does not consume the user's script.
	assert.Equal(t, http.StatusTooManyRequests, post(t, s, c, "scripted@contoso.com").status)
	s.SetTokenBucket(0, 0)
	assert.Equal(t, []int{404, 200}, answers(t, s, c, "scripted@contoso.com", 2))
}

func TestTokenBucketFreesCapacityAfterTheWindow(t *testing.T) {
	t.Parallel()
	s, c := start(t, graphsim.Options{})
	s.SetTokenBucket(2, 50*time.Millisecond)
	first := answers(t, s, c, "a@contoso.com", 2)
	require.Equal(t, []int{200, 200}, first)
	// The third write inside the window is throttled with the minimum
	// Retry-After of one second; once the window passes, writes succeed.
	res := post(t, s, c, "a@contoso.com")
	if res.status == http.StatusTooManyRequests {
		assert.Equal(t, "1", res.header.Get("Retry-After"))
	}
	require.Eventually(t, func() bool {
		return post(t, s, c, "a@contoso.com").status == http.StatusOK
	}, 5*time.Second, 20*time.Millisecond)
}

func TestTokensAndRefresh(t *testing.T) {
	t.Parallel()
	s, c := start(t, graphsim.Options{RequireToken: "old"})
	id := "a@contoso.com"
	res := post(t, s, c, id)
	require.Equal(t, http.StatusUnauthorized, res.status)
	assert.Equal(t, "InvalidAuthenticationToken", decodeError(t, res.body).Error.Code)
	assert.Contains(t, res.header.Get("WWW-Authenticate"), "Bearer")
	assert.Equal(t, http.StatusUnauthorized, post(t, s, c, id, "Authorization", "old").status, "scheme is required")
	assert.Equal(t, http.StatusUnauthorized, post(t, s, c, id, "Authorization", "Bearer wrong").status)
	assert.Equal(t, http.StatusOK, post(t, s, c, id, "Authorization", "Bearer old").status)

	// The token was revoked: the old one fails once, the refreshed one works.
	s.SetAcceptedTokens("new")
	assert.Equal(t, http.StatusUnauthorized, post(t, s, c, id, "Authorization", "Bearer old").status)
	assert.Equal(t, http.StatusOK, post(t, s, c, id, "Authorization", "Bearer new").status)
	s.SetAcceptedTokens()
	assert.Equal(t, http.StatusOK, post(t, s, c, id, "Authorization", "Bearer old").status)

	// Scripted form: 401 once, then the default; or 401 for ever.
	s.Script(id, graphsim.Response{Status: 401})
	assert.Equal(t, []int{401, 200}, answers(t, s, c, id, 2, "Authorization", "Bearer old"))
	s.Forever(id, graphsim.Response{Status: 401})
	assert.Equal(t, []int{401, 401}, answers(t, s, c, id, 2, "Authorization", "Bearer old"))
	// Unauthenticated calls do not consume scripts.
	s.Forget(id)
	s.Script(id, graphsim.Response{Status: 409})
	assert.Equal(t, []int{401}, answers(t, s, c, id, 1))
	assert.Equal(t, []int{409}, answers(t, s, c, id, 1, "Authorization", "Bearer old"))
}

func TestResetForgetsEverything(t *testing.T) {
	t.Parallel()
	s, c := start(t, graphsim.Options{})
	s.Forever("a@contoso.com", graphsim.Response{Status: 404})
	s.SetDefault(graphsim.Response{Status: 500})
	s.SetTokenBucket(1, time.Hour)
	s.SetAcceptedTokens("x")
	s.SetLatency(time.Hour)
	s.SetOutage("1")
	s.Reset()
	post(t, s, c, "b@contoso.com")
	require.Len(t, s.Requests(), 1)
	s.Reset()
	assert.Empty(t, s.Requests())
	assert.Equal(t, 0, s.Calls("b@contoso.com"))
	assert.Equal(t, []int{200, 200}, answers(t, s, c, "a@contoso.com", 2))
	assert.Equal(t, []int{200}, answers(t, s, c, "b@contoso.com", 1))
}
