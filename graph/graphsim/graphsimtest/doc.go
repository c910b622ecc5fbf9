// Package graphsimtest starts Graph simulators for tests, closing them
// with testing.TB.Cleanup. It is separate from graphsim so that the
// simulator used by `licensefix graphsim` does not import testing.
package graphsimtest
