package graphsimtest

import (
	"testing"

	"github.com/licensefix/licensefix/graph/graphsim"
)

// NewTestServer starts a simulator with opts and registers its Close with
// tb.Cleanup; it fails tb when the server cannot start or close.
func NewTestServer(tb testing.TB, opts graphsim.Options) *graphsim.Server {
	tb.Helper()
	s, err := graphsim.NewServer(opts)
	if err != nil {
		tb.Fatalf("graphsimtest: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("graphsimtest: %v", err)
		}
	})
	return s
}
