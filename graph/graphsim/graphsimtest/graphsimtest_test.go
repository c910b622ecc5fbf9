package graphsimtest_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/licensefix/licensefix/graph/graphsim"
	"github.com/licensefix/licensefix/graph/graphsim/graphsimtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestNewTestServerServesAndClosesOnCleanup(t *testing.T) {
	t.Parallel()
	var srv *graphsim.Server
	t.Run("inner", func(t *testing.T) {
		srv = graphsimtest.NewTestServer(t, graphsim.Options{})
		srv.Forever("u@contoso.com", graphsim.Response{Status: http.StatusForbidden})
		client := &http.Client{}
		defer client.CloseIdleConnections()
		resp, err := client.Post(srv.URL+"/beta/users/u@contoso.com/cloudLicensing/assignments/reprocessAssignments", "", nil)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
	})
	// Cleanup of the subtest closed the server: nothing listens any more.
	client := &http.Client{}
	defer client.CloseIdleConnections()
	_, err := client.Post(srv.URL+"/beta/users/u@contoso.com/cloudLicensing/assignments/reprocessAssignments", "", nil)
	require.Error(t, err)
}
