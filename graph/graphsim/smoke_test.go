package graphsim_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/licensefix/licensefix/graph/graphsim"
)

func TestSmoke(t *testing.T) {
	t.Parallel()
	s, err := graphsim.NewServer(graphsim.Options{})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	s.Script("a@b.com", graphsim.Response{Status: 429, RetryAfter: "1"})
	c := &http.Client{}
	defer c.CloseIdleConnections()
	for _, want := range []int{429, 200} {
		resp, err := c.Post(s.URL+"/beta/users/a@b.com/cloudLicensing/assignments/reprocessAssignments", "", nil)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, want, resp.StatusCode)
	}
	require.Equal(t, 2, s.Calls("A@b.com"))
}
