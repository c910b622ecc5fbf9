package graphsim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/graph/graphsim"
	"github.com/licensefix/licensefix/graph/graphsim/graphsimtest"
)

// start runs a simulator and a client that does not follow redirects,
// both cleaned up with the test.
func start(t *testing.T, opts graphsim.Options) (*graphsim.Server, *http.Client) {
	t.Helper()
	s := graphsimtest.NewTestServer(t, opts)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(c.CloseIdleConnections)
	return s, c
}

func betaPath(id string) string {
	return "/beta/users/" + escape(id) + "/cloudLicensing/assignments/reprocessAssignments"
}

func v1Path(id string) string {
	return "/v1.0/users/" + escape(id) + "/reprocessLicenseAssignment"
}

func escape(id string) string {
	return strings.ReplaceAll(url.PathEscape(id), "#", "%23")
}

type result struct {
	status int
	header http.Header
	body   []byte
}

// call sends one request with the given header pairs and reads the answer.
func call(t *testing.T, c *http.Client, method, rawURL string, header ...string) result {
	t.Helper()
	res, err := try(c, method, rawURL, header...)
	require.NoError(t, err)
	return res
}

func try(c *http.Client, method, rawURL string, header ...string) (result, error) {
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		return result{}, err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{}, err
	}
	return result{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// post calls the beta action for id.
func post(t *testing.T, s *graphsim.Server, c *http.Client, id string, header ...string) result {
	t.Helper()
	return call(t, c, http.MethodPost, s.URL+betaPath(id), header...)
}

type graphError struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError struct {
			Date            string `json:"date"`
			RequestID       string `json:"request-id"`
			ClientRequestID string `json:"client-request-id"`
		} `json:"innerError"`
	} `json:"error"`
}

func decodeError(t *testing.T, body []byte) graphError {
	t.Helper()
	var e graphError
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&e), "body %q", body)
	return e
}

func statuses(reqs []graphsim.Request) []int {
	out := make([]int, len(reqs))
	for i, r := range reqs {
		out[i] = r.Status
	}
	return out
}
