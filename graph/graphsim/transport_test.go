package graphsim_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/graph/graphsim"
)

func TestDelayOutlastsTheClientTimeout(t *testing.T) {
	t.Parallel()
	s, _ := start(t, graphsim.Options{})
	id := "slow@contoso.com"
	s.Script(id, graphsim.Response{Delay: time.Hour})
	c := &http.Client{Timeout: 100 * time.Millisecond}
	t.Cleanup(c.CloseIdleConnections)
	_, err := try(c, http.MethodPost, s.URL+betaPath(id))
	require.Error(t, err)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout())
	// The handler noticed the client leaving and wrote nothing; the script
	// entry is used up.
	require.Eventually(t, func() bool { return s.Requests()[0].Status == 0 }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, http.StatusOK, post(t, s, &http.Client{}, id).status)
}

func TestShortDelayStillAnswers(t *testing.T) {
	t.Parallel()
	s, c := start(t, graphsim.Options{})
	s.Script("a@contoso.com", graphsim.Response{Status: 409, Delay: 10 * time.Millisecond})
	assert.Equal(t, http.StatusConflict, post(t, s, c, "a@contoso.com").status)
}

func TestLatencyAppliesToEveryAnswer(t *testing.T) {
	t.Parallel()
	s, _ := start(t, graphsim.Options{Latency: time.Hour})
	c := &http.Client{Timeout: 50 * time.Millisecond}
	t.Cleanup(c.CloseIdleConnections)
	for _, path := range []string{betaPath("a@contoso.com"), "/nowhere"} {
		_, err := try(c, http.MethodPost, s.URL+path)
		require.Error(t, err, path)
	}
	s.SetLatency(0)
	res, err := try(c, http.MethodPost, s.URL+betaPath("a@contoso.com"))
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, res.status)
}

func TestCloseAbortsPendingDelays(t *testing.T) {
	t.Parallel()
	s, err := graphsim.NewServer(graphsim.Options{})
	require.NoError(t, err)
	s.Forever("a@contoso.com", graphsim.Response{Delay: time.Hour})
	c := &http.Client{}
	defer c.CloseIdleConnections()
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			_, err := try(c, http.MethodPost, s.URL+betaPath("a@contoso.com"))
			errs <- err
		}()
	}
	require.Eventually(t, func() bool { return len(s.Requests()) == 3 }, 5*time.Second, 10*time.Millisecond)
	closed := make(chan error)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return while answers were delayed")
	}
	for range 3 {
		assert.Error(t, <-errs, "a delayed answer is abandoned, not sent")
	}
}

func TestResetClosesTheConnection(t *testing.T) {
	t.Parallel()
	s, c := start(t, graphsim.Options{})
	id := "reset@contoso.com"
	s.Script(id, graphsim.Response{Reset: true})
	_, err := try(c, http.MethodPost, s.URL+betaPath(id))
	require.Error(t, err)
	require.Len(t, s.Requests(), 1)
	assert.Equal(t, 0, s.Requests()[0].Status)
	assert.Equal(t, http.StatusOK, post(t, s, c, id).status, "a new connection works")
}

func TestUnknownPathsAndMethods(t *testing.T) {
	t.Parallel()
	s, c := start(t, graphsim.Options{})
	for _, p := range []string{
		"/",
		"/beta/users/a@contoso.com",
		"/beta/users/a@contoso.com/cloudLicensing/assignments",
		"/beta/users/a@contoso.com/cloudLicensing/assignments/reprocessAssignments/extra",
		"/beta/users//cloudLicensing/assignments/reprocessAssignments",
		"/v2.0/users/a@contoso.com/reprocessLicenseAssignment",
		"/v1.0/groups/a@contoso.com/reprocessLicenseAssignment",
		"/v1.0/users/a@contoso.com/reprocessAssignments",
		"/beta/users('a@contoso.com/cloudLicensing/assignments/reprocessAssignments",
		"/beta/users/('a'b')/cloudLicensing/assignments/reprocessAssignments",
	} {
		res := call(t, c, http.MethodPost, s.URL+p)
		assert.Equal(t, http.StatusNotFound, res.status, p)
		assert.Equal(t, "Request_ResourceNotFound", decodeError(t, res.body).Error.Code, p)
	}
	res := call(t, c, http.MethodGet, s.URL+betaPath("a@contoso.com"))
	assert.Equal(t, http.StatusMethodNotAllowed, res.status)
	assert.Equal(t, http.MethodPost, res.header.Get("Allow"))
	assert.Equal(t, http.StatusMethodNotAllowed, call(t, c, http.MethodPut, s.URL+v1Path("a@contoso.com")).status)

	reqs := s.Requests()
	require.Len(t, reqs, 12)
	for _, r := range reqs[:10] {
		assert.Empty(t, r.UserID, r.Path)
		assert.Empty(t, r.API, r.Path)
		assert.Equal(t, http.StatusNotFound, r.Status)
	}
	assert.Equal(t, "a@contoso.com", reqs[10].UserID)
	assert.Equal(t, http.MethodGet, reqs[10].Method)
	assert.Equal(t, 2, s.Calls("a@contoso.com"), "wrong-method calls still target the user")
}

func TestRecordsEveryField(t *testing.T) {
	t.Parallel()
	s, c := start(t, graphsim.Options{})
	id := "megan_fabrikam.com#EXT#@contoso.com"
	sent := "/beta/users/megan_fabrikam.com%23EXT%23@contoso.com/cloudLicensing/assignments/reprocessAssignments"
	req, err := http.NewRequest(http.MethodPost, s.URL+sent+"?x=1", strings.NewReader("hello"))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer tok")
	req.Header.Set("client-request-id", "crid-1")
	req.Header.Set("User-Agent", "licensefix/test")
	req.Header.Set("Retry-Attempt", "2")
	before := time.Now()
	resp, err := c.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)

	reqs := s.Requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	assert.False(t, r.Time.Before(before))
	assert.Equal(t, http.MethodPost, r.Method)
	assert.Equal(t, sent, r.Path, "escaped path as sent, without the query")
	assert.Equal(t, id, r.UserID)
	assert.Equal(t, graphsim.APIBeta, r.API)
	assert.Equal(t, int64(5), r.BodyLength)
	assert.True(t, r.HasAuthorization)
	assert.Equal(t, "Bearer tok", r.Authorization)
	assert.Equal(t, "crid-1", r.ClientRequestID)
	assert.Equal(t, "licensefix/test", r.UserAgent)
	assert.Equal(t, "2", r.RetryAttempt)
	assert.Equal(t, http.StatusOK, r.Status)

	post(t, s, c, "plain@contoso.com")
	r = s.Requests()[1]
	assert.False(t, r.HasAuthorization)
	assert.Zero(t, r.BodyLength)
	assert.Empty(t, r.RetryAttempt)
	// Requests returns a copy.
	s.Requests()[0].UserID = "changed"
	assert.Equal(t, id, s.Requests()[0].UserID)
}

func TestUserSegmentDecoding(t *testing.T) {
	t.Parallel()
	s, c := start(t, graphsim.Options{})
	const tail = "/cloudLicensing/assignments/reprocessAssignments"
	cases := []struct{ sent, want string }{
		{"/beta/users/3f2504e0-4f89-41d3-9a0c-0305e82c3301" + tail, "3f2504e0-4f89-41d3-9a0c-0305e82c3301"},
		{"/beta/users/('$admin@contoso.com')" + tail, "$admin@contoso.com"},
		{"/beta/users/(%27%24admin@contoso.com%27)" + tail, "$admin@contoso.com"},
		{"/beta/users('$admin@contoso.com')" + tail, "$admin@contoso.com"},
		{"/beta/users/('o''brien@contoso.com')" + tail, "o'brien@contoso.com"},
		{"/beta/users/o'brien@contoso.com" + tail, "o'brien@contoso.com"},
		{"/beta/users/a%2Fb@contoso.com" + tail, "a/b@contoso.com"},
		{"/beta/users/x%23EXT%23@contoso.com" + tail, "x#EXT#@contoso.com"},
		{"/v1.0/users('$admin@contoso.com')/reprocessLicenseAssignment", "$admin@contoso.com"},
		{"/v1.0/users/%C3%A9@contoso.com/reprocessLicenseAssignment", "é@contoso.com"},
	}
	for _, tc := range cases {
		res := call(t, c, http.MethodPost, s.URL+tc.sent)
		assert.Equal(t, http.StatusOK, res.status, tc.sent)
	}
	reqs := s.Requests()
	require.Len(t, reqs, len(cases))
	for i, tc := range cases {
		assert.Equal(t, tc.want, reqs[i].UserID, tc.sent)
		assert.Equal(t, tc.sent, reqs[i].Path)
	}
	assert.Equal(t, 4, s.Calls("$ADMIN@contoso.com"))
}

func TestConcurrentCallsUnderRace(t *testing.T) {
	t.Parallel()
	s, c := start(t, graphsim.Options{})
	s.SetTokenBucket(100, time.Hour)
	const workers, each = 20, 15
	for w := range workers {
		s.Script(userN(w), graphsim.Response{Status: 503}, graphsim.Response{Status: 503})
	}
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				res, err := try(c, http.MethodPost, s.URL+betaPath(userN(w)))
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				counts[res.status]++
				mu.Unlock()
				_ = s.Requests()
				_ = s.Calls(userN(w))
			}
		}()
	}
	// Control calls race with the traffic.
	s.SetLatency(0)
	s.SetDefault(graphsim.Response{})
	wg.Wait()
	assert.Equal(t, workers*each, counts[200]+counts[429]+counts[503])
	assert.Equal(t, 100, counts[200]+counts[503], "exactly the bucket's capacity got through")
	assert.Equal(t, workers*each-100, counts[429])
	assert.Len(t, s.Requests(), workers*each)
	total := 0
	for w := range workers {
		total += s.Calls(userN(w))
	}
	assert.Equal(t, workers*each, total)
}

func userN(i int) string { return "user" + string(rune('a'+i)) + "@contoso.com" }

func TestCloseIsIdempotentAndConcurrent(t *testing.T) {
	t.Parallel()
	s, err := graphsim.NewServer(graphsim.Options{})
	require.NoError(t, err)
	c := &http.Client{}
	defer c.CloseIdleConnections()
	post(t, s, c, "a@contoso.com") // leaves an idle keep-alive connection
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.NoError(t, s.Close())
		}()
	}
	wg.Wait()
	require.NoError(t, s.Close())
	_, err = try(c, http.MethodPost, s.URL+betaPath("a@contoso.com"))
	require.Error(t, err)
}

func TestNewServerOnAGivenAddress(t *testing.T) {
	t.Parallel()
	s, err := graphsim.NewServer(graphsim.Options{})
	require.NoError(t, err)
	addr := strings.TrimPrefix(s.URL, "http://")
	_, err = graphsim.NewServer(graphsim.Options{Addr: addr})
	require.Error(t, err, "the address is taken")
	require.NoError(t, s.Close())

	s2, err := graphsim.NewServer(graphsim.Options{Addr: "127.0.0.1:0"})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(s2.URL, "http://127.0.0.1:"))
	require.NoError(t, s2.Close())
}

func TestHandlerWithoutListener(t *testing.T) {
	t.Parallel()
	s := graphsim.New(graphsim.Options{})
	assert.Empty(t, s.URL)
	s.Script("a@contoso.com", graphsim.Response{Status: 403})
	h := s.Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, betaPath("a@contoso.com"), nil))
	assert.Equal(t, http.StatusForbidden, rec.Code)
	assert.NotEmpty(t, rec.Header().Get("request-id"))

	// A reset needs a real connection: without one the handler aborts.
	s.Script("a@contoso.com", graphsim.Response{Reset: true})
	assert.PanicsWithError(t, http.ErrAbortHandler.Error(), func() {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, betaPath("a@contoso.com"), nil))
	})
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	assert.Panics(t, func() {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, betaPath("a@contoso.com"), nil))
	}, "after Close the handler aborts")
}
