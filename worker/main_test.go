package worker

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// After the emulator drops a connection (TestIntegrationConnectionDropped),
		// azservicebus v1.11.0 recovers its links on a new connection but can
		// leave the old link set's CBS claim renewer waiting on its own
		// time.After (minutes) even once the client is closed. That goroutine
		// is the SDK's, not ours; every goroutine the worker starts is still
		// checked.
		goleak.IgnoreTopFunction("github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus/internal.(*Namespace).startNegotiateClaimRenewer.func3"),
	)
}
