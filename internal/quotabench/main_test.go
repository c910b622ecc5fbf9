package quotabench

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// azservicebus v1.11.0 can leave a CBS claim renewer waiting on its
		// own time.After (minutes) after the client is closed, when two
		// calls create a receiver's links at once (worker/main_test.go says
		// how). CI once caught one after this package's in-process smoke
		// drain, before the worker made its receiver's first use a single
		// call; a reconnect can still do it. That goroutine is the SDK's;
		// every goroutine the worker starts is still checked.
		goleak.IgnoreTopFunction("github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus/internal.(*Namespace).startNegotiateClaimRenewer.func3"),
	)
}
