package worker

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// azservicebus v1.11.0 can leave a CBS claim renewer waiting on its
		// own time.After (minutes) once the client is closed. The SDK's
		// AMQPLinksImpl.Get (internal/amqpLinks.go) checks for missing links
		// under a read lock and creates them under the write lock without
		// checking again, so two calls that find no links at once both
		// create a set, and the first set's renewer is never cancelled
		// (reproduced: 12 renewers left after 300 receivers, each first used
		// by four calls at once). The probe alone creates the links at
		// start-up (intake waits for a peek that succeeds,
		// TestFirstReceiveWaitsForAProbeThatSucceeds), but when a receive
		// fails on a dropped connection
		// (TestIntegrationConnectionDropped) the SDK closes the links
		// (Receiver.ReceiveMessages calls CloseIfNeeded) and the next calls,
		// a settlement and the probe say, can recreate them at once. That
		// goroutine is the SDK's, not ours; every goroutine the worker
		// starts is still checked.
		goleak.IgnoreTopFunction("github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus/internal.(*Namespace).startNegotiateClaimRenewer.func3"),
	)
}
