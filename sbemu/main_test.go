package sbemu

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The SDK's connection keeps a few background goroutines that wind
		// down shortly after Close; goleak retries until they are gone.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}
